import { noGrad } from '@dlf/autograd';
import type { Parameter } from '@dlf/nn';
import { checkInt, checkNumber, invalidParam, isTensor, keep, type Tensor } from '@dlf/tensor-core';

/**
 * A JSON value: what the `state` half of a state dict may hold.
 *
 * @example
 * ```ts
 * const v: JsonValue = { lr: 0.1, betas: [0.9, 0.999], amsgrad: false };
 * ```
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * An optimizer's (or any resumable object's) saved state, split for storage: `state` holds only
 * JSON-serialisable scalars (the optimizer's kind, hyper-parameters, step counts) and `tensors` holds
 * the per-parameter tensors (momentum buffers, Adam moments), keyed `<name>.<parameter index>`, so a
 * checkpoint can write `tensors` to a safetensors file and `state` to JSON (or to the safetensors
 * metadata).
 *
 * The tensors of a state dict returned by `stateDict()` are snapshots owned by the caller: dispose
 * them when written. `loadStateDict()` copies what it is given, so the caller also keeps ownership of
 * the tensors it passes in.
 *
 * @example
 * ```ts
 * const { state, tensors } = opt.stateDict();
 * await saveSafetensors('optimizer.safetensors', tensors, { state: JSON.stringify(state) });
 * for (const t of tensors.values()) t.dispose();
 * ```
 */
export interface StateDict {
  /** JSON-serialisable scalars. */
  state: { [key: string]: JsonValue };
  /** Tensors by name (`expAvg.0`, `momentumBuffer.3`, ...); may be empty. */
  tensors: Map<string, Tensor>;
}

/**
 * A group of parameters with its own learning-rate multiplier and weight decay (PyTorch's param
 * groups, relative to the optimizer's rate so that schedules keep driving every group).
 *
 * @example
 * ```ts
 * const opt = new SGD(
 *   [{ params: convWeights }, { params: bnBiases, lrScale: 64, weightDecay: 5e-4 / 64 }],
 *   { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
 * );
 * ```
 */
export interface ParamGroup {
  /** The group's parameters. */
  params: Iterable<Parameter>;
  /** Multiplies the optimizer's learning rate for this group (>= 0). Default 1. */
  lrScale?: number;
  /** This group's weight decay (>= 0). Default: the optimizer's. */
  weightDecay?: number;
}

/** @internal A group as the optimizer keeps it: a range of {@link Optimizer.params}. */
export interface GroupRange {
  start: number;
  end: number;
  lrScale: number;
  weightDecay: number | undefined;
}

function isGroupList(params: unknown): params is readonly ParamGroup[] {
  return (
    Array.isArray(params) &&
    params.length > 0 &&
    params.every((g) => g !== null && typeof g === 'object' && !isTensor(g) && 'params' in g)
  );
}

/** @internal Splits the constructor's `params` into the flat list and the group ranges. */
function checkGroups(params: Iterable<Parameter> | readonly ParamGroup[]): {
  list: Parameter[];
  groups: GroupRange[];
} {
  if (!isGroupList(params)) {
    const list = checkParams(params as Iterable<Parameter>);
    return { list, groups: [{ start: 0, end: list.length, lrScale: 1, weightDecay: undefined }] };
  }
  const flat: Parameter[] = [];
  const groups: GroupRange[] = [];
  params.forEach((g, i) => {
    if (g.params === null || typeof g.params !== 'object' || !(Symbol.iterator in g.params))
      throw invalidParam(`params[${i}].params`, 'an iterable of Parameters', g.params, 'type');
    const members = [...g.params];
    const lrScale = checkNumber(`params[${i}].lrScale`, g.lrScale ?? 1, 0);
    const weightDecay =
      g.weightDecay === undefined ? undefined : checkNumber(`params[${i}].weightDecay`, g.weightDecay, 0);
    groups.push({ start: flat.length, end: flat.length + members.length, lrScale, weightDecay });
    flat.push(...members);
  });
  return { list: checkParams(flat), groups };
}

/** @internal Parameters as a checked array: float32 tensors, no duplicates, at least one. */
export function checkParams(params: Iterable<Parameter>): Parameter[] {
  if (
    params === null ||
    typeof params !== 'object' ||
    typeof (params as Iterable<Parameter>)[Symbol.iterator] !== 'function'
  ) {
    throw invalidParam('params', 'an iterable of Parameters', params, 'type');
  }
  const list = [...params];
  if (list.length === 0) throw invalidParam('params', 'at least one parameter', list);
  const seen = new Set<Parameter>();
  list.forEach((p, i) => {
    if (!isTensor(p)) throw invalidParam(`params[${i}]`, 'a Parameter', p, 'type');
    if (p.dtype !== 'float32')
      throw invalidParam(`params[${i}]`, 'a float32 Parameter', `a ${p.dtype} tensor`, 'type');
    if (seen.has(p)) throw invalidParam(`params[${i}]`, 'each parameter once', 'a parameter listed twice');
    seen.add(p);
  });
  return list;
}

/** @internal Reads a number from a state dict's scalars. */
export function stateNumber(state: StateDict['state'], key: string, min = -Infinity, max = Infinity): number {
  return checkNumber(`state.${key}`, state[key], min, max);
}

/** @internal Reads a boolean from a state dict's scalars. */
export function stateBool(state: StateDict['state'], key: string): boolean {
  const v = state[key];
  if (typeof v !== 'boolean') throw invalidParam(`state.${key}`, 'a boolean', v, 'type');
  return v;
}

/**
 * The base of every optimizer: it holds the parameters and the learning rate, clears gradients,
 * and saves and restores its state. Subclasses implement {@link Optimizer.step} as one native call
 * that updates every parameter.
 *
 * @example
 * ```ts
 * function train(opt: Optimizer) {
 *   opt.zeroGrad();
 *   crossEntropy(model.forward(x), y).backward();
 *   opt.step();
 * }
 * ```
 */
export abstract class Optimizer {
  /**
   * The parameters this optimizer updates, in order (state dict tensors are keyed by this index).
   *
   * @example
   * ```ts
   * opt.params.length; // 4 for a Linear(…) → Linear(…) model
   * ```
   */
  readonly params: readonly Parameter[];
  /**
   * The learning rate a schedule starts from (PyTorch's `initial_lr`): set by the first
   * {@link LRScheduler} attached to this optimizer, kept in the state dict; undefined before.
   *
   * @example
   * ```ts
   * new StepLR(opt, { stepSize: 10 });
   * opt.initialLr; // the lr the optimizer had
   * ```
   */
  initialLr: number | undefined;
  /** Calls of {@link Optimizer.step} so far (saved in the state dict). @example `opt.stepCount // 0` */
  stepCount = 0;
  /** @internal The parameter groups, as ranges of {@link Optimizer.params} (one group when none were given). */
  protected readonly groups: readonly GroupRange[];
  #lr: number;

  /**
   * @param params - the parameters to update (each once), or {@link ParamGroup}s of them
   * @param lr - the learning rate (>= 0)
   */
  protected constructor(params: Iterable<Parameter> | readonly ParamGroup[], lr: unknown) {
    const { list, groups } = checkGroups(params);
    this.params = Object.freeze(list);
    this.groups = Object.freeze(groups);
    this.#lr = checkNumber('lr', lr, 0);
  }

  /** @internal The groups as a state dict stores them: [size, lrScale, weightDecay or null] each. */
  #groupsState(): JsonValue {
    return this.groups.map((g) => [g.end - g.start, g.lrScale, g.weightDecay ?? null]);
  }

  /** A short name of the algorithm, stored as `state.type` in state dicts ("SGD", "Adam", "AdamW"). @example `opt.type` */
  abstract get type(): string;

  /**
   * The learning rate used by the next {@link Optimizer.step}. Schedules set it; so may you.
   *
   * @example
   * ```ts
   * opt.lr = opt.lr * 0.5;
   * ```
   */
  get lr(): number {
    return this.#lr;
  }
  set lr(value: number) {
    this.#lr = checkNumber('lr', value, 0);
  }

  /**
   * Clears every parameter's gradient (sets it to none, like PyTorch's `zero_grad(set_to_none=True)`):
   * a parameter that receives no gradient before the next step is skipped by it, and its state is
   * left unchanged.
   *
   * @example
   * ```ts
   * opt.zeroGrad();
   * loss.backward();
   * opt.step();
   * ```
   */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /**
   * Applies one update to every parameter that has a gradient, in one native call.
   *
   * @example
   * ```ts
   * opt.step();
   * ```
   */
  abstract step(): void;

  /**
   * A snapshot of the optimizer: hyper-parameters and counters in `state`, per-parameter tensors in
   * `tensors` (copies the caller owns). Restoring it with {@link Optimizer.loadStateDict} into an
   * optimizer over the same parameters continues the run bit for bit.
   *
   * @example
   * ```ts
   * const saved = opt.stateDict();
   * const json = JSON.stringify(saved.state);
   * ```
   */
  stateDict(): StateDict {
    const tensors = new Map<string, Tensor>();
    noGrad(() => {
      for (const [name, list] of Object.entries(this.stateTensors())) {
        list.forEach((t, i) => {
          if (t) tensors.set(`${name}.${i}`, t.clone());
        });
      }
    });
    return {
      state: {
        type: this.type,
        numParams: this.params.length,
        lr: this.lr,
        initialLr: this.initialLr ?? null,
        stepCount: this.stepCount,
        ...(this.groups.length > 1 ||
        this.groups[0]!.lrScale !== 1 ||
        this.groups[0]!.weightDecay !== undefined
          ? { paramGroups: this.#groupsState() }
          : {}),
        ...this.hyperParameters(),
      },
      tensors,
    };
  }

  /**
   * Restores a state dict from {@link Optimizer.stateDict} (of the same algorithm over parameters of
   * the same shapes): hyper-parameters, learning rate, counters and per-parameter tensors (copied).
   * Everything is checked before anything changes; on error the optimizer is as it was.
   *
   * @example
   * ```ts
   * const opt = new Adam(model.parameters(), { lr: 1e-3 });
   * opt.loadStateDict({ state: JSON.parse(json), tensors });
   * ```
   */
  loadStateDict(stateDict: StateDict): void {
    if (
      stateDict === null ||
      typeof stateDict !== 'object' ||
      typeof stateDict.state !== 'object' ||
      stateDict.state === null
    ) {
      throw invalidParam('stateDict', 'an object { state, tensors }', stateDict, 'type');
    }
    const { state } = stateDict;
    const tensors = stateDict.tensors ?? new Map<string, Tensor>();
    if (!(tensors instanceof Map))
      throw invalidParam('stateDict.tensors', 'a Map of tensors', tensors, 'type');
    if (state['type'] !== this.type) {
      throw invalidParam(
        'state.type',
        `'${this.type}' (the state of a ${this.type} optimizer)`,
        state['type'],
      );
    }
    checkInt('state.numParams', state['numParams'], this.params.length, this.params.length);
    const lr = stateNumber(state, 'lr', 0);
    const initialLr = state['initialLr'] === null ? undefined : stateNumber(state, 'initialLr', 0);
    const stepCount = checkInt('state.stepCount', state['stepCount'], 0);
    // Groups are set when the optimizer is built: a state of other groups belongs to another set-up.
    const groups = JSON.stringify(state['paramGroups'] ?? [[this.params.length, 1, null]]);
    if (groups !== JSON.stringify(this.#groupsState())) {
      throw invalidParam('state.paramGroups', JSON.stringify(this.#groupsState()), groups);
    }
    // Check every tensor before copying any.
    const names = Object.keys(this.stateTensors());
    const known = new Set<string>();
    for (const name of names) {
      this.params.forEach((p, i) => {
        const key = `${name}.${i}`;
        known.add(key);
        const t = tensors.get(key);
        if (t === undefined) return;
        if (!isTensor(t) || t.dtype !== 'float32')
          throw invalidParam(`tensors['${key}']`, 'a float32 Tensor', t, 'type');
        if (t.shape.length !== p.shape.length || t.shape.some((d, j) => d !== p.shape[j])) {
          throw new RangeError(
            `Expected shape [${p.shape.join(', ')}] for '${key}' (parameter ${i}) but the state dict has [${t.shape.join(', ')}]`,
          );
        }
      });
    }
    for (const key of tensors.keys()) {
      if (!known.has(key))
        throw invalidParam('stateDict.tensors', `only keys ${names.map((n) => `${n}.<i>`).join(', ')}`, key);
    }
    const apply = this.prepareLoad(state, tensors);
    const copies: Record<string, (Tensor | null)[]> = {};
    try {
      noGrad(() => {
        for (const name of names) {
          copies[name] = [];
          this.params.forEach((_, i) => {
            const t = tensors.get(`${name}.${i}`);
            copies[name]!.push(t ? keep(t.clone()) : null);
          });
        }
      });
    } catch (error) {
      // e.g. a disposed tensor in the state dict: free the copies made so far, change nothing
      for (const list of Object.values(copies)) for (const t of list) t?.dispose();
      throw error;
    }
    this.disposeState();
    apply(copies);
    this.lr = lr;
    this.initialLr = initialLr;
    this.stepCount = stepCount;
  }

  /**
   * Frees the optimizer's state tensors (momentum buffers, moments). The optimizer stays usable: the
   * next step starts its state afresh.
   *
   * @example
   * ```ts
   * opt.dispose();
   * ```
   */
  dispose(): void {
    this.disposeState();
  }

  /** Frees the state at the end of a `using` block. @example `using opt = new SGD(params, { lr: 0.1 });` */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal The per-parameter state tensors by name (null: none yet). */
  protected abstract stateTensors(): Record<string, readonly (Tensor | null)[]>;
  /** @internal Hyper-parameters and counters for the state dict. */
  protected abstract hyperParameters(): { [key: string]: JsonValue };
  /**
   * @internal Validates the subclass's part of a state dict and returns the function that installs it
   * (called with copies of the tensors, by name, once everything has been checked).
   */
  protected abstract prepareLoad(
    state: StateDict['state'],
    tensors: Map<string, Tensor>,
  ): (copies: Record<string, (Tensor | null)[]>) => void;
  /** @internal Disposes and forgets the state tensors. */
  protected abstract disposeState(): void;
}

import '@dlf/autograd';
import { noGrad } from '@dlf/autograd';
import { invalidParam, isTensor, keep, Tensor, zeros } from '@dlf/tensor-core';

/**
 * A tensor that a module trains: it requires grad and is never disposed by `tidy` scopes.
 *
 * @example
 * ```ts
 * const w = new Parameter(randn([10, 5]));
 * w.requiresGrad; // true
 * ```
 */
export class Parameter extends Tensor {
  /**
   * Wraps `data`'s memory (shared, not copied) as a trainable leaf.
   *
   * @param data - A float32 tensor; the parameter keeps its own handle, so `data` may be disposed.
   */
  constructor(data: Tensor) {
    if (!isTensor(data)) throw invalidParam('data', 'a Tensor', data, 'type');
    if (data.dtype !== 'float32') throw invalidParam('data', 'a float32 tensor', data.dtype, 'type');
    const contiguous = data.contiguous();
    const detached = contiguous.detach();
    contiguous.dispose(); // the parameter's own handle keeps the memory
    super(detached.transferHandle(), data.shape, 'float32');
    keep(this);
    this.requiresGrad = true;
  }
}

/** What {@link Module.describe} reports for a layer given its input shape (batch dim excluded). */
export interface LayerDescription {
  /** Shape of one output example (batch dim excluded). */
  outputShape: number[];
  /** Multiply-accumulates per example. */
  macs: number;
}

/** A state dict: names to tensors. */
export type StateDict = Map<string, Tensor>;

/**
 * The base class of every layer and model: it owns parameters, buffers and child modules, and
 * knows whether it is training.
 *
 * @example
 * ```ts
 * class TwoLayer extends Module {
 *   fc1 = this.registerModule('fc1', new Linear(4, 8));
 *   fc2 = this.registerModule('fc2', new Linear(8, 2));
 *   forward(x: Tensor) { return this.fc2.forward(relu(this.fc1.forward(x))); }
 * }
 * ```
 */
export abstract class Module {
  /** True in training mode (dropout active, batch statistics), false after eval(). */
  training = true;
  readonly #params = new Map<string, Parameter | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #children = new Map<string, Module>();

  /** Computes the module's output. */
  abstract forward(x: Tensor): Tensor;

  /** Registers (or replaces) a parameter under `name`; returns it. */
  registerParameter<P extends Parameter | null>(name: string, p: P): P {
    this.#checkName(name);
    const old = this.#params.get(name);
    if (old && old !== p) old.dispose();
    this.#params.set(name, p);
    return p;
  }

  /** Registers a non-trained tensor (running statistics) under `name`; returns it. */
  registerBuffer<T extends Tensor | null>(name: string, t: T): T {
    this.#checkName(name);
    if (t) keep(t);
    const old = this.#buffers.get(name);
    if (old && old !== t) old.dispose();
    this.#buffers.set(name, t);
    return t;
  }

  /** Registers a child module under `name`; returns it. */
  registerModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    if (!(m instanceof Module)) throw invalidParam(name, 'a Module', m, 'type');
    this.#children.set(name, m);
    return m;
  }

  #checkName(name: string): void {
    if (typeof name !== 'string' || name.length === 0 || name.includes('.')) {
      throw invalidParam('name', 'a non-empty name without dots', name, 'type');
    }
  }

  /** Child modules with their names. */
  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  /** Child modules. */
  children(): Module[] {
    return [...this.#children.values()];
  }

  /** This module and every descendant, depth first. */
  modules(): Module[] {
    const out: Module[] = [];
    const stack: Module[] = [this];
    while (stack.length > 0) {
      const m = stack.pop()!;
      out.push(m);
      stack.push(...m.children().reverse());
    }
    return out;
  }

  /** Every parameter with its dotted name ("0.weight"), each once. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    const visit = (m: Module, prefix: string): void => {
      for (const [n, p] of m.#params) {
        if (p && !seen.has(p)) {
          seen.add(p);
          out.push([prefix + n, p]);
        }
      }
      for (const [n, c] of m.#children) visit(c, `${prefix}${n}.`);
    };
    visit(this, '');
    return out;
  }

  /** Every parameter, each once. */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Every buffer with its dotted name. */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const visit = (m: Module, prefix: string): void => {
      for (const [n, b] of m.#buffers) if (b) out.push([prefix + n, b]);
      for (const [n, c] of m.#children) visit(c, `${prefix}${n}.`);
    };
    visit(this, '');
    return out;
  }

  /** Sets training mode on this module and its descendants. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Sets evaluation mode (same as train(false)). */
  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * Parameters and buffers by dotted name. The tensors are the module's own (not copies): do not
   * dispose them.
   */
  stateDict(): StateDict {
    return new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into this module's parameters and buffers. Shapes must match exactly; with
   * `strict` (default) the names must match too.
   *
   * @example
   * ```ts
   * model.loadStateDict(otherModel.stateDict());
   * ```
   */
  loadStateDict(
    state: Map<string, Tensor> | Record<string, Tensor>,
    options: { strict?: boolean } = {},
  ): void {
    const strict = options.strict ?? true;
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !entries.has(k));
      const unexpected = [...entries.keys()].filter((k) => !own.has(k));
      if (missing.length > 0 || unexpected.length > 0) {
        throw new RangeError(
          `State dict does not match the model: missing ${missing.length ? missing.join(', ') : 'none'}; unexpected ${unexpected.length ? unexpected.join(', ') : 'none'}`,
        );
      }
    }
    for (const [name, target] of own) {
      const src = entries.get(name);
      if (!src) continue;
      if (!isTensor(src)) throw invalidParam(`state['${name}']`, 'a Tensor', src, 'type');
      if (src.shape.length !== target.shape.length || src.shape.some((d, i) => d !== target.shape[i])) {
        throw new RangeError(
          `Expected shape [${target.shape.join(', ')}] for '${name}' but the state dict has [${src.shape.join(', ')}]`,
        );
      }
      if (src.dtype !== target.dtype) {
        throw invalidParam(`state['${name}']`, `a ${target.dtype} tensor`, src.dtype, 'type');
      }
    }
    noGrad(() => {
      for (const [name, target] of own) {
        const src = entries.get(name);
        if (src) target.write(src.toTypedArray());
      }
    });
  }

  /**
   * The output shape and multiply-accumulates per example for an input shape (batch excluded).
   * Layers override it; the default runs a forward pass on zeros.
   */
  describe(inputShape: readonly number[]): LayerDescription {
    const shape = noGrad(() => {
      const x = zeros([1, ...inputShape]);
      const y = this.forward(x);
      const s = y.shape.slice(1);
      x.dispose();
      y.dispose();
      return s;
    });
    return { outputShape: shape, macs: 0 };
  }

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }

  /** Disposes at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * The op table runner: golden cases (inputs, attrs, PyTorch's output and gradients) checked against a
 * table that says how to call each op. Adding an op is its generator lines plus, when it takes more
 * than tensors, one table entry.
 */
import { gradcheck, type GradcheckOptions } from '@dlf/autograd';
import { type Tensor, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { expectClose, type GoldenTensor } from './close.js';
import { goldenTensor, nonContiguousTensor } from './goldens.js';

/** An op's non-tensor arguments, as stored in a golden case. */
export type Attrs = Record<string, unknown>;

/** One golden case: what goldens/ops.json stores per case (see packages/nn/test/goldens/README.md). */
export interface OpCase {
  /** Unique, `op/variant`. */
  name: string;
  /** The key of the op's entry in the {@link OpTable}. */
  op: string;
  /** Float32 input values. */
  inputs: GoldenTensor[];
  attrs: Attrs;
  /** PyTorch's forward output. */
  output: GoldenTensor;
  /** The gradient fed to backward. */
  upstream: GoldenTensor;
  /** d sum(output * upstream) / d inputs[i]; null for an input that gets no gradient. */
  grads: (GoldenTensor | null)[];
  /** Op-specific reference values (batch norm's running statistics). */
  extra?: Record<string, number[]>;
}

/** How a test calls an op: the case's inputs as tensors, its attrs, and the case itself. */
export type OpFn = (inputs: Tensor[], attrs: Attrs, c: OpCase) => Tensor;

/** Absolute and relative tolerance: `|got - want| <= atol + rtol * |want|`. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Tolerances of one op table run. */
export interface OpTolerances {
  forward: Tolerance;
  gradient: Tolerance;
  gradcheck: GradcheckOptions;
}

/** A table entry with more than the call: a check that runs after forward and backward. */
export interface OpEntry {
  run: OpFn;
  /** Further checks against `c.extra` (e.g. batch norm's running statistics); throws on failure. */
  check?: (c: OpCase, inputs: Tensor[], tolerances: OpTolerances) => void;
}

/** Op name (as in the golden cases' `op`) to how a test calls it. */
export type OpTable = Record<string, OpFn | OpEntry>;

/** The first input as stored (`contiguous`) or as a strided view of the same values. */
export type InputLayout = 'contiguous' | 'non-contiguous';

/**
 * Float32 PyTorch goldens against float32 kernels with other summation orders: errors reach a few
 * 1e-5 relative; central differences in float32 need a large step and loose tolerances.
 */
export const DEFAULT_OP_TOLERANCES: OpTolerances = {
  forward: { atol: 2e-5, rtol: 2e-4 },
  gradient: { atol: 5e-5, rtol: 5e-4 },
  gradcheck: { eps: 1e-2, atol: 2e-2, rtol: 2e-2 },
};

const entryOf = (table: OpTable, c: OpCase): OpEntry => {
  const entry = table[c.op];
  if (!entry) throw new Error(`${c.name}: the op table has no entry '${c.op}'`);
  return typeof entry === 'function' ? { run: entry } : entry;
};

/** Whether a case also runs with a non-contiguous first input (it needs two dims to swap). */
export const hasNonContiguousVariant = (c: OpCase): boolean => (c.inputs[0]?.shape.length ?? 0) >= 2;

/**
 * The case's inputs as tensors; those with a golden gradient require grad. With `non-contiguous`,
 * the first input is a strided view holding the same values.
 */
export function makeOpInputs(c: OpCase, layout: InputLayout = 'contiguous'): Tensor[] {
  return c.inputs.map((d, i) => {
    const x = layout === 'non-contiguous' && i === 0 ? nonContiguousTensor(d) : goldenTensor(d);
    if (c.grads[i]) x.requiresGrad_();
    return x;
  });
}

/**
 * The op table for `cases`: the entries of `withAttributes` (ops whose attrs need translating into
 * arguments), and for every other op a call of the module's function of that name with the case's
 * inputs, so an op that takes only tensors needs no entry at all. Throws when a case names an op the
 * module does not export.
 *
 * @example
 * ```ts
 * const ops = opTableFor(F, golden.cases, { leakyRelu: ([x], t) => F.leakyRelu(x!, t['negativeSlope'] as number) });
 * ```
 */
export function opTableFor(
  module: Record<string, unknown>,
  cases: readonly OpCase[],
  withAttributes: OpTable = {},
): OpTable {
  const table: OpTable = { ...withAttributes };
  for (const { op } of cases) {
    if (table[op]) continue;
    const fn = module[op];
    if (typeof fn !== 'function')
      throw new Error(`goldens name op '${op}', which the module does not export`);
    table[op] = (inputs) => (fn as (...xs: Tensor[]) => Tensor)(...inputs);
  }
  return table;
}

/**
 * Runs one case forward and backward and compares the output and every gradient with the golden;
 * throws (naming the case, the quantity and the element) on the first disagreement, NaN included.
 *
 * @example
 * ```ts
 * checkOpCase({ relu: ([x]) => relu(x!) }, golden.cases[0]!, 'non-contiguous');
 * ```
 */
export function checkOpCase(
  table: OpTable,
  c: OpCase,
  layout: InputLayout = 'contiguous',
  tolerances: OpTolerances = DEFAULT_OP_TOLERANCES,
): void {
  const entry = entryOf(table, c);
  tidy(() => {
    const inputs = makeOpInputs(c, layout);
    const [p, q] = c.inputs[0]?.shape.slice(-2) ?? [];
    if (layout === 'non-contiguous' && p! > 1 && q! > 1 && inputs[0]!.isContiguous)
      throw new Error(`${c.name}: the non-contiguous input came out contiguous`);
    const out = entry.run(inputs, c.attrs, c);
    // A convolution's outputs and gradients are long sums whose rounding (Winograd's above all)
    // grows with the whole result: judged against its largest value, as the kernel tests do.
    const relativeToMax = c.op === 'conv2d';
    expectClose(out, c.output, { ...tolerances.forward, relativeToMax, name: `${c.name}: forward` });
    if (c.grads.some((g) => g) && !out.requiresGrad)
      throw new Error(`${c.name}: the output does not require grad although an input does`);
    out.backward({ grad: goldenTensor(c.upstream) });
    c.grads.forEach((want, i) => {
      if (!want) return;
      const grad = inputs[i]!.grad;
      if (!grad) throw new Error(`${c.name}: input ${i} received no gradient`);
      expectClose(grad, want, {
        ...tolerances.gradient,
        relativeToMax,
        name: `${c.name}: gradient of input ${i}`,
      });
    });
    entry.check?.(c, inputs, tolerances);
  });
}

/**
 * Central-difference gradcheck of one case at its golden inputs; throws with gradcheck's message
 * (a NaN or infinity fails too).
 *
 * @example
 * ```ts
 * checkOpGradients({ tanh: ([x]) => tanh(x!) }, golden.cases[0]!);
 * ```
 */
export function checkOpGradients(
  table: OpTable,
  c: OpCase,
  options: GradcheckOptions = DEFAULT_OP_TOLERANCES.gradcheck,
): void {
  const { run } = entryOf(table, c);
  tidy(() => {
    const result = gradcheck((...xs) => run(xs, c.attrs, c), makeOpInputs(c), options);
    if (!result.ok) throw new Error(`${c.name}: gradcheck failed: ${result.message}`);
  });
}

/** Options for {@link testOp}. */
export interface TestOpOptions {
  /** The describe block's title. */
  title?: string;
  /** Overrides of {@link DEFAULT_OP_TOLERANCES}. */
  tolerances?: Partial<OpTolerances>;
  /** Which cases get a gradcheck (default all): central differences need smooth, moderate inputs. */
  gradcheck?: (c: OpCase) => boolean;
}

/**
 * Registers vitest tests for every golden case: forward and gradients against the golden with
 * contiguous inputs, again with a non-contiguous first input (rank >= 2), and a gradcheck; plus a
 * test that the table and the goldens name the same ops.
 *
 * @example
 * ```ts
 * testOp({ add: ([a, b]) => add(a!, b!), relu: ([x]) => relu(x!) }, golden.cases);
 * ```
 */
export function testOp(table: OpTable, cases: readonly OpCase[], options: TestOpOptions = {}): void {
  const tolerances = { ...DEFAULT_OP_TOLERANCES, ...options.tolerances };
  const wantsGradcheck = options.gradcheck ?? (() => true);
  describe(options.title ?? 'ops against PyTorch goldens', () => {
    it('every op in the table has goldens and every golden op is in the table', () => {
      const golden = [...new Set(cases.map((c) => c.op))].sort();
      expect(golden).toEqual(Object.keys(table).sort());
    });
    for (const c of cases) {
      it(c.name, () => checkOpCase(table, c, 'contiguous', tolerances));
      if (hasNonContiguousVariant(c))
        it(`${c.name} (non-contiguous input)`, () => checkOpCase(table, c, 'non-contiguous', tolerances));
      if (wantsGradcheck(c))
        it(`${c.name} (gradcheck)`, () => checkOpGradients(table, c, tolerances.gradcheck));
    }
  });
}

/**
 * The ops a module exports that no golden case covers: every exported function except those in
 * `notOps` (helpers that are not ops, each with a reason at the call site). Throws when `notOps` names
 * something the module does not export, so the allow-list cannot go stale.
 *
 * @example
 * ```ts
 * opsWithoutGoldens(functional, ['normalizeAxis', 'pair'], golden.cases); // [] when all are covered
 * ```
 */
export function opsWithoutGoldens(
  module: Record<string, unknown>,
  notOps: readonly string[],
  cases: readonly OpCase[],
): string[] {
  const stale = notOps.filter((name) => typeof module[name] !== 'function');
  if (stale.length) throw new Error(`the not-op allow-list names what the module does not export: ${stale}`);
  const covered = new Set(cases.map((c) => c.op));
  return Object.keys(module)
    .filter((name) => typeof module[name] === 'function' && !notOps.includes(name) && !covered.has(name))
    .sort();
}

/**
 * `@dlf/testing` (private, never published): the helpers the dlf packages' tests share. A NaN-safe
 * close comparison, golden file loading, the op table runner that checks ops against PyTorch
 * goldens, and a clean-exit check for scripts run in a child process. Python generators of the
 * goldens share `python/dlf_goldens.py`.
 *
 * @example
 * ```ts
 * import { expectClose, loadGolden, testOp } from '@dlf/testing';
 * const golden = loadGolden<{ cases: OpCase[] }>(import.meta.url, 'ops.json');
 * testOp({ relu: ([x]) => relu(x!) }, golden.cases);
 * expectClose(relu(tensor([-1, 2])), [0, 2]);
 * ```
 *
 * @packageDocumentation
 */
export { expectScriptOk, type ScriptOptions } from './child.js';
export {
  type CloseOptions,
  type CloseReport,
  CloseError,
  compareClose,
  expectClose,
  type GoldenTensor,
  maxAbs,
  type NestedNumbers,
  type Numeric,
  sameBits,
  type TensorLike,
} from './close.js';
export { goldenTensor, loadGolden, nonContiguousTensor } from './goldens.js';
export {
  type Attrs,
  checkOpCase,
  checkOpGradients,
  DEFAULT_OP_TOLERANCES,
  hasNonContiguousVariant,
  type InputLayout,
  makeOpInputs,
  type OpCase,
  type OpEntry,
  type OpFn,
  type OpTable,
  type OpTolerances,
  opsWithoutGoldens,
  opTableFor,
  type TestOpOptions,
  testOp,
  type Tolerance,
} from './op-table.js';

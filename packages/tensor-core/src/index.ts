/**
 * `@dlf/tensor-core`: tensors in native memory, their creation, seeded random numbers, zero-copy
 * access, explicit ownership (`dispose`, `tidy`, `using`), safetensors files, and the atomic file
 * writes every dlf package uses.
 *
 * @example
 * ```ts
 * import { randn, tidy, memory } from '@dlf/tensor-core';
 * const y = tidy(() => randn([2, 3]).reshape([3, 2]));
 * console.log(y.shape, memory().numTensors);
 * ```
 *
 * @module @dlf/tensor-core
 * @packageDocumentation
 */

export {
  arange,
  full,
  ones,
  onesLike,
  type RandomOptions,
  rand,
  randint,
  randn,
  type TensorOptions,
  tensor,
  zeros,
  zerosLike,
} from './creation.js';
export {
  checkDType,
  type DataArray,
  type DType,
  dtypeBytes,
  dtypeOfArray,
  type TypedArrayFor,
} from './dtype.js';
export { checkInt, checkNumber, checkOptions, checkShape, invalidParam, shapeMismatch } from './errors.js';
export {
  type AtomicData,
  type ReplaceDirOptions,
  replaceDirAtomic,
  writeFileAtomic,
  writeFileAtomicSync,
} from './io/atomic.js';
export { describeFsError, errnoCode } from './io/fs-errors.js';
export { escapeControl } from './io/text.js';

export {
  abs,
  add,
  broadcastShape,
  checkFloatTensor,
  concat,
  div,
  exp,
  flatten,
  log,
  logSoftmax,
  matmul,
  max,
  mean,
  mul,
  neg,
  normalizeAxis,
  permute,
  pow,
  reshape,
  softmax,
  sqrt,
  sub,
  sum,
  transpose,
} from './math/index.js';
export { defaultGenerator, Generator, manualSeed } from './random.js';
export { getNumThreads, getSimd, releaseCachedMemory, setNumThreads, setSimd } from './runtime.js';
export { dispose, keep, type MemoryInfo, memory, tidy } from './scope.js';
export { isTensor, type NestedArray, resolveReshape, Tensor } from './tensor.js';
export {
  serializeSafetensors,
  parseSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
  loadSafetensors,
  loadSafetensorsSync,
  SafetensorsError,
  HeaderTooSmallError,
  HeaderTooLargeError,
  InvalidHeaderLengthError,
  InvalidHeaderError,
  DuplicateKeyError,
  InvalidHeaderDeserializationError,
  InvalidOffsetError,
  ValidationOverflowError,
  MisalignedSliceError,
  TensorInvalidInfoError,
  MetadataIncompleteBufferError,
  UnsupportedDTypeError,
  UnsupportedShapeError,
  type SafetensorsErrorCode,
  type SafetensorsContents,
  type SafetensorsInput,
} from './safetensors/index.js';

/**
 * `@dlf/tensor-core`: tensors in native memory, their creation, seeded random numbers, zero-copy
 * access, explicit ownership (`dispose`, `tidy`, `using`) and safetensors files.
 *
 * @example
 * ```ts
 * import { randn, tidy, memory } from '@dlf/tensor-core';
 * const y = tidy(() => randn([2, 3]).reshape([3, 2]));
 * console.log(y.shape, memory().numTensors);
 * ```
 *
 * @packageDocumentation
 */
export { Tensor, isTensor, resolveReshape, type NestedArray } from './tensor.js';
export {
  type DType,
  type DataArray,
  type TypedArrayFor,
  checkDType,
  dtypeBytes,
  dtypeOfArray,
} from './dtype.js';
export { invalidParam, shapeMismatch, checkInt, checkNumber, checkShape } from './errors.js';
export { tidy, keep, dispose, memory, type MemoryInfo } from './scope.js';
export { Generator, defaultGenerator, manualSeed } from './random.js';
export {
  tensor,
  full,
  zeros,
  ones,
  zerosLike,
  onesLike,
  arange,
  rand,
  randn,
  randint,
  type TensorOptions,
  type RandomOptions,
} from './creation.js';
export { getNumThreads, setNumThreads, getSimd, setSimd, releaseCachedMemory } from './runtime.js';
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
} from './safetensors.js';

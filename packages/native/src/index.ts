/**
 * `@dlf/native`: the one C++ addon under every dlf package. Each package reaches only its own slice,
 * through a subpath: `@dlf/native/tensor` and `@dlf/native/math` (wrapped by `@dlf/tensor-core`),
 * `/autograd`, `/nn`, `/loss`, `/optim`; `/testing` holds test-only switches. Application code uses
 * those packages, not this one.
 *
 * @example
 * ```ts
 * import { loadNative } from '@dlf/native';
 * console.log(loadNative().version);
 * ```
 *
 * @module @dlf/native
 * @packageDocumentation
 */
export type { Handle, NativeBinding, NativeLayout, NativeMemoryStats, NativeTypedArray } from './binding.js';
export { DTypeCode } from './binding.js';
export {
  type ActivationOp,
  type BinaryOp,
  BinaryOpCode,
  type MathUnaryOp,
  type UnaryOpAttributes,
  UnaryOpCode,
} from './generated/ops.js';
export {
  type AddonAttempt,
  BUILD_FROM_SOURCE_COMMAND,
  loadFirstAddon,
  loadNative,
  NativeLoadError,
  nativeLocation,
} from './load.js';
export {
  currentTarget,
  describeTarget,
  detectLibc,
  type Libc,
  type PlatformTarget,
  platformPackageName,
} from './platform.js';

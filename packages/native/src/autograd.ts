/**
 * `@dlf/native/autograd`: the graph engine, wrapped by `@dlf/autograd`.
 *
 * @packageDocumentation
 */
import type { Handle } from './binding.js';
import { loadNative } from './load.js';

/** The autograd slice's entry points. */
export interface AutogradSlice {
  setRequiresGrad(h: Handle, flag: boolean): void;
  requiresGrad(h: Handle): boolean;
  isLeaf(h: Handle): boolean;
  gradFnName(h: Handle): string | null;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, grad: Handle | null): void;
  /**
   * Runs backward from `h` in one call; `grad` may be null for one-element tensors. With `watched`
   * leaves, `onGradReady(i)` runs synchronously inside the call once `watched[i]`'s gradient is final.
   */
  backward(
    h: Handle,
    grad: Handle | null,
    retainGraph: boolean,
    watched?: readonly Handle[],
    onGradReady?: (index: number) => void,
  ): void;
  detach(h: Handle): Handle;
  /** Sets grad mode and returns the previous mode. */
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
}

/** The autograd slice of the loaded addon. */
export const autograd: AutogradSlice = loadNative().autograd;

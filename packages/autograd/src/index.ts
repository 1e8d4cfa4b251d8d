/**
 * `@dlf/autograd`: reverse-mode automatic differentiation. The graph is recorded in native code as
 * ops run; `backward()` is one native call that walks it iteratively and accumulates gradients in
 * place. Importing this package adds `requiresGrad`, `grad`, `backward()`, `detach()` and
 * `zeroGrad()` to every {@link Tensor}.
 *
 * @example
 * ```ts
 * import { tensor } from '@dlf/tensor-core';
 * import '@dlf/autograd';
 * const x = tensor([1, 2, 3]).requiresGrad_();
 * x.mul(x).sum().backward();
 * x.grad!.toArray(); // [2, 4, 6]
 * ```
 *
 * @module @dlf/autograd
 * @packageDocumentation
 */
import { autograd as native } from '@dlf/native/autograd';
import { Tensor } from '@dlf/tensor-core';

export { gradcheck, type GradcheckOptions, type GradcheckResult } from './gradcheck.js';

/** Options for {@link Tensor.backward}. */
export interface BackwardOptions {
  /** The gradient of the tensor itself; defaults to 1 for one-element tensors. */
  grad?: Tensor;
  /** Keep saved tensors so backward can run through the same graph again. */
  retainGraph?: boolean;
  /**
   * Leaves to watch (parameters, each listed once) for {@link BackwardOptions.onGradReady}. Without
   * them backward makes no call into JavaScript, so it costs nothing extra.
   */
  watch?: readonly Tensor[];
  /**
   * Called with `i`, exactly once for each `watch[i]`, as soon as its gradient is final: every
   * contribution of this backward has been summed into its `.grad`, and backward will not write it
   * again. It runs synchronously on the calling thread from inside backward: first for the leaves this
   * backward does not reach (their `.grad` stays as it is), then in the order the engine finishes the
   * others (a layer's parameters before those of the layers in front of it). Reading `.grad` (even its
   * `data()`) is safe here; an exception ends backward and is rethrown by it. Data-parallel training
   * starts the allreduce of a bucket of gradients from here, so communication overlaps the rest of
   * backward.
   *
   * @example
   * ```ts
   * const params = model.parameters();
   * loss.backward({ watch: params, onGradReady: (i) => console.log('ready:', i) });
   * ```
   */
  onGradReady?: (index: number) => void;
}

declare module '@dlf/tensor-core' {
  interface Tensor {
    /**
     * Whether gradients are computed for this tensor. Set it on leaves (parameters, inputs);
     * outputs of ops on such tensors require grad automatically.
     */
    requiresGrad: boolean;
    /** Sets requiresGrad and returns this tensor (chainable). */
    requiresGrad_(flag?: boolean): this;
    /**
     * The accumulated gradient of a leaf, or null before any backward pass. A new wrapper on each read:
     * dispose it when done (or read it inside `tidy`).
     */
    readonly grad: Tensor | null;
    /** True for tensors not produced by a recorded op. */
    readonly isLeaf: boolean;
    /** The name of the op that produced this tensor ("Conv2dBackward"), or null for leaves. */
    readonly gradFn: string | null;
    /**
     * Computes gradients of this tensor with respect to every leaf that requires grad, in one native
     * call, and accumulates them into their `.grad`.
     */
    backward(options?: BackwardOptions): void;
    /** The same data, cut from the graph (requiresGrad false). */
    detach(): Tensor;
    /** Clears this tensor's accumulated gradient. */
    zeroGrad(): void;
  }
}

Object.defineProperties(Tensor.prototype, {
  requiresGrad: {
    get(this: Tensor): boolean {
      return native.requiresGrad(this.handle);
    },
    set(this: Tensor, flag: boolean) {
      if (typeof flag !== 'boolean')
        throw new TypeError(`Expected a boolean for requiresGrad but received ${typeof flag}`);
      native.setRequiresGrad(this.handle, flag);
    },
    configurable: true,
  },
  grad: {
    get(this: Tensor): Tensor | null {
      const h = native.grad(this.handle);
      return h === null ? null : new Tensor(h, this.shape, 'float32');
    },
    configurable: true,
  },
  isLeaf: {
    get(this: Tensor): boolean {
      return native.isLeaf(this.handle);
    },
    configurable: true,
  },
  gradFn: {
    get(this: Tensor): string | null {
      return native.gradFnName(this.handle);
    },
    configurable: true,
  },
});

Tensor.prototype.requiresGrad_ = function requiresGrad_<T extends Tensor>(this: T, flag = true): T {
  this.requiresGrad = flag;
  return this;
};

Tensor.prototype.backward = function backward(this: Tensor, options: BackwardOptions = {}): void {
  const grad = options.grad ? options.grad.handle : null;
  const retainGraph = options.retainGraph === true;
  const { watch, onGradReady } = options;
  if (watch === undefined && onGradReady === undefined) {
    native.backward(this.handle, grad, retainGraph);
    return;
  }
  if (!Array.isArray(watch) || typeof onGradReady !== 'function') {
    throw new TypeError('backward: watch (an array of tensors) and onGradReady (a function) go together');
  }
  native.backward(
    this.handle,
    grad,
    retainGraph,
    watch.map((t) => t.handle),
    onGradReady,
  );
};

Tensor.prototype.detach = function detach(this: Tensor): Tensor {
  return new Tensor(native.detach(this.handle), this.shape, this.dtype);
};

Tensor.prototype.zeroGrad = function zeroGrad(this: Tensor): void {
  native.setGrad(this.handle, null);
};

/**
 * Runs `fn` with graph recording off: ops inside record nothing and their outputs do not require
 * grad. Use it for inference and for parameter updates. `fn` must be synchronous.
 *
 * @example
 * ```ts
 * const logits = noGrad(() => model.forward(x));
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with graph recording on (inside a {@link noGrad} block, for example). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`Expected a function for fn but received ${typeof fn}`);
  const previous = native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError('noGrad(fn) needs a synchronous function; grad mode cannot follow an await');
    }
    return result;
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Whether ops currently record the graph. */
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/**
 * Computes gradients of `tensor` (see {@link Tensor.backward}).
 *
 * @example
 * ```ts
 * backward(loss);
 * ```
 */
export function backward(tensor: Tensor, options: BackwardOptions = {}): void {
  tensor.backward(options);
}

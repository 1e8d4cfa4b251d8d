import { invalidParam, type Tensor } from '@dlf/tensor-core';
import { type LayerDescription, Module } from '../module.js';
import { Hardswish, ReLU, ReLU6 } from './activation.js';
import { forwardBnDepthwise, planBnDepthwise } from './bn-depthwise.js';
import { Conv2d } from './conv.js';
import { forwardConvChain, planConvChain } from './conv-chain.js';
import { Linear } from './linear.js';
import { forwardFused, fusedPoolFits, isFoldableBatchNorm, isMaxPool2x2 } from './fusion.js';
import { BatchNorm2d } from './normalization.js';
import { type InitOptions, type LayerSpec, layerRegistry } from './registry.js';
// Registered for sequentialFromJSON although Sequential itself does not refer to them.
import './dropout.js';
import './reshape.js';

/** Hooks a training loop can install to time each layer (see {@link Sequential.onLayer}). */
export type LayerHook = (index: number, layer: Module, phase: 'start' | 'end') => void;

/**
 * Layers applied in order. Conv2d, Linear or BatchNorm2d followed by ReLU run as one fused op, in
 * evaluation mode a Conv2d's following BatchNorm2d folds into its weights, and
 * Conv2d + ReLU + MaxPool2d(2) (stride 2, no padding) and BatchNorm2d + ReLU + MaxPool2d(2) as one op too,
 * and a BatchNorm2d not folded into a conv also fuses a following ReLU6 or Hardswish. In inference
 * (grad mode off, evaluation mode), a run of 1x1 and depthwise convs, each followed by a BatchNorm2d
 * and optionally a ReLU, ReLU6 or Hardswish (a MobileNet block), runs as one op that takes the batch image by
 * image, so the widened activations between them stay in cache. In training, a BatchNorm2d (with a
 * following ReLU, ReLU6 or Hardswish) then a depthwise conv (and the BatchNorm2d + activation after a
 * bias-free one) runs as one op that goes channel by channel, never writing the normalised tensors
 * (the same bits as the layers one by one). Intermediate
 * outputs are released as soon as the next layer has consumed them (the recorded graph keeps what
 * backward needs).
 *
 * @example
 * ```ts
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * model.forward(randn([16, 4])).shape; // [16, 2]
 * ```
 */
export class Sequential extends Module {
  /** The layers, in the order they run. */
  readonly layers: Module[];
  /** Set to time layers; called before and after each layer (fused pairs and triples report once). */
  onLayer: LayerHook | null = null;
  /** Fold eval-mode BatchNorm2d into the Conv2d before it; fuse Conv2d/Linear/BatchNorm2d + ReLU pairs, Conv2d/BatchNorm2d + ReLU + MaxPool2d(2) triples, inference runs of 1x1 and depthwise convs and training BatchNorm2d (+ activation) + depthwise conv pairs (default true). */
  fuse = true;
  /**
   * Creates the model.
   *
   * @param layers - The layers, in the order they run.
   */
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    const n = this.layers.length;
    const next = (p: number) => (p + 1 < n ? p + 1 : -1);
    for (let i = 0; i < n; i++) {
      const layer = this.layers[i]!;
      // Inference through 1x1 and depthwise convs (with BN and an activation): one op, image by image.
      // Training through BatchNorm2d (+ activation) then a depthwise conv (+ BatchNorm2d and
      // activation): one op, channel by channel.
      const chain = this.fuse ? planConvChain(this.layers, i, h, next) : null;
      const pair = this.fuse && !chain ? planBnDepthwise(this.layers, i, h, next) : null;
      const run = chain ?? pair;
      if (run) {
        this.onLayer?.(i, layer, 'start');
        const y = chain ? forwardConvChain(chain, h) : forwardBnDepthwise(pair!, h);
        this.onLayer?.(i, layer, 'end');
        i = run.positions[run.positions.length - 1]!;
        if (h !== x) h.dispose();
        h = y;
        continue;
      }
      // Conv2d + BatchNorm2d in evaluation mode run as one conv with the normalisation folded in.
      const bn =
        this.fuse && layer instanceof Conv2d && isFoldableBatchNorm(this.layers[i + 1])
          ? this.layers[i + 1]
          : null;
      const at = bn ? i + 1 : i;
      const fused6 = this.fuse && !bn && layer instanceof BatchNorm2d && this.layers[i + 1] instanceof ReLU6;
      const fusedHs =
        this.fuse && !bn && layer instanceof BatchNorm2d && this.layers[i + 1] instanceof Hardswish;
      const fused =
        fused6 ||
        fusedHs ||
        (this.fuse &&
          this.layers[at + 1] instanceof ReLU &&
          (layer instanceof Conv2d || layer instanceof Linear || layer instanceof BatchNorm2d));
      const pooled =
        fused &&
        !fused6 &&
        !fusedHs &&
        isMaxPool2x2(this.layers[at + 2]) &&
        (layer instanceof Conv2d || layer instanceof BatchNorm2d) &&
        fusedPoolFits(layer, h);
      this.onLayer?.(i, layer, 'start');
      const y =
        bn || fused
          ? forwardFused(layer as Conv2d | Linear | BatchNorm2d, h, {
              bn: bn as BatchNorm2d | null,
              relu: fused,
              relu6: fused6,
              hardswish: fusedHs,
              maxPool2x2: pooled,
            })
          : layer.forward(h);
      this.onLayer?.(i, layer, 'end');
      i = at + (fused ? 1 : 0) + (pooled ? 1 : 0);
      if (h !== x && h !== y) h.dispose();
      h = y;
    }
    return h === x ? x.clone() : h;
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    let shape = [...inputShape];
    let macs = 0;
    for (const l of this.layers) {
      const d = l.describe(shape);
      shape = d.outputShape;
      macs += d.macs;
    }
    return { outputShape: shape, macs };
  }
  /** The architecture as JSON-serialisable data (see {@link sequentialFromJSON}). */
  toJSON(): SequentialSpec {
    return {
      format: 'dlf.sequential',
      version: 1,
      layers: this.layers.map((l) => {
        const spec = (l as Module & { toSpec?: () => LayerSpec }).toSpec;
        if (typeof spec !== 'function')
          throw new TypeError(`Layer ${l.constructor.name} cannot be described as JSON`);
        return spec.call(l);
      }),
    };
  }
}

/** The JSON form of a {@link Sequential} model. */
export interface SequentialSpec {
  format: 'dlf.sequential';
  version: 1;
  layers: LayerSpec[];
}

/**
 * Builds a {@link Sequential} model from its JSON form. Weights are freshly initialised from the
 * generator; load trained weights with {@link Module.loadStateDict}.
 *
 * @example
 * ```ts
 * const copy = sequentialFromJSON(model.toJSON());
 * ```
 */
export function sequentialFromJSON(spec: unknown, options: InitOptions = {}): Sequential {
  const s = typeof spec === 'string' ? (JSON.parse(spec) as unknown) : spec;
  if (typeof s !== 'object' || s === null || (s as SequentialSpec).format !== 'dlf.sequential') {
    throw invalidParam('spec', "a model description with format 'dlf.sequential'", s, 'type');
  }
  const { version, layers } = s as SequentialSpec;
  if (version !== 1) throw invalidParam('spec.version', '1', version);
  if (!Array.isArray(layers)) throw invalidParam('spec.layers', 'an array of layers', layers, 'type');
  const g = options.generator;
  return new Sequential(
    ...layers.map((l, i): Module => {
      if (typeof l !== 'object' || l === null || typeof l.type !== 'string') {
        throw invalidParam(`spec.layers[${i}]`, 'a layer object with a type', l, 'type');
      }
      const layerType = layerRegistry.get(l.type);
      if (!layerType) throw invalidParam(`spec.layers[${i}].type`, 'a known layer type', l.type);
      return layerType.fromJSON(l, { generator: g });
    }),
  );
}

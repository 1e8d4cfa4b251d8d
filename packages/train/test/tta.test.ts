/**
 * Flip test-time augmentation in evaluate(): on a model whose output does not change when the image
 * is mirrored it equals plain evaluation; on any other model it equals the average of the logits of
 * the image and of its mirror, computed by hand.
 */
import { DataLoader, fromArrays } from '@dlf/data';
import { crossEntropy } from '@dlf/loss';
import { Flatten, Linear, noGrad, Sequential } from '@dlf/nn';
import { add, Generator, mul, randint, tensor, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { argmaxRows, evaluate, mirrored } from '../src/evaluate.js';

const N = 30;
const W = 4;
const FEATURES = 2 * 3 * W;

function data() {
  const px = randint([N * FEATURES], 0, 256, { generator: new Generator(9) }).toTypedArray();
  const labels = Int32Array.from({ length: N }, (_, i) => i % 3);
  return fromArrays(Uint8Array.from(px, Number), labels, [2, 3, W], { classes: ['a', 'b', 'c'] });
}

/** Flatten + Linear(24 → 3) with the given weights. */
function linearModel(weights: (out: number, channel: number, row: number, col: number) => number) {
  const model = new Sequential(new Flatten(), new Linear(FEATURES, 3, { generator: new Generator(1) }));
  const w = new Float32Array(3 * FEATURES);
  for (let o = 0; o < 3; o++)
    for (let c = 0; c < 2; c++)
      for (let r = 0; r < 3; r++)
        for (let k = 0; k < W; k++) w[o * FEATURES + (c * 3 + r) * W + k] = weights(o, c, r, k);
  model.loadStateDict({
    '1.weight': tensor(w, { shape: [3, FEATURES] }),
    '1.bias': tensor(new Float32Array([0.1, -0.2, 0.05])),
  });
  return model;
}

describe('evaluate with tta', () => {
  it('equals plain evaluation when mirroring the image does not change the output', async () => {
    // Each output weighs column k and column W-1-k alike, so the mirror gives the same logits.
    const model = linearModel((o, c, r, k) => Math.sin(1 + o * 7 + c * 3 + r) * (1 + Math.min(k, W - 1 - k)));
    const ds = data();
    const plain = await evaluate(model, ds, { batchSize: 7 });
    const tta = await evaluate(model, ds, { batchSize: 7, tta: true });
    expect(tta.confusion).toEqual(plain.confusion);
    expect(tta.accuracy).toBe(plain.accuracy);
    expect(Math.abs(tta.loss - plain.loss)).toBeLessThan(1e-6);
    expect(Number.isFinite(tta.loss)).toBe(true);
    model.dispose();
  });

  it('equals the average of the logits of the image and of its mirror otherwise', async () => {
    const model = linearModel((o, c, r, k) => Math.cos(o * 5 + c * 2 + r * 3 + k * k));
    const ds = data();
    const tta = await evaluate(model, ds, { batchSize: 8, tta: true });
    const plain = await evaluate(model, ds, { batchSize: 8 });
    // By hand, over the whole set at once.
    const all = new DataLoader(ds, { batchSize: N, shuffle: false, prefetch: 0 }).batch(0, 0);
    const { loss, logits } = tidy(() =>
      noGrad(() => {
        const x = all.x;
        const avg = mul(add(model.forward(x), model.forward(mirrored(x))), 0.5);
        return {
          loss: crossEntropy(avg, all.y, { reduction: 'mean' }).item(),
          logits: avg.toTypedArray() as Float32Array,
        };
      }),
    );
    const preds = new Int32Array(N);
    argmaxRows(logits, N, 3, preds);
    const labels = all.y.toTypedArray() as Int32Array;
    const confusion = [0, 1, 2].map(() => [0, 0, 0]);
    for (let i = 0; i < N; i++) confusion[labels[i]!]![preds[i]!]!++;
    expect(tta.confusion).toEqual(confusion);
    expect(Math.abs(tta.loss - loss)).toBeLessThan(1e-6);
    expect(Math.abs(tta.loss - plain.loss)).toBeGreaterThan(1e-3);
    all.x.dispose();
    all.y.dispose();
    model.dispose();
  });
});

/**
 * Test-time augmentation in evaluate(). Flip: on a model whose output does not change when the image
 * is mirrored it equals plain evaluation; on any other model it equals the average of the logits of
 * the image and of its mirror, computed by hand. Flip-translate: the one-pixel translation against a
 * hand-computed reflect-padded example, and evaluate() against the weighted average of the six views.
 */
import { DataLoader, fromArrays } from '@dlf/data';
import { crossEntropy } from '@dlf/loss';
import { Flatten, Linear, noGrad, Sequential } from '@dlf/nn';
import { add, Generator, mul, randint, tensor, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { argmaxRows, evaluate, mirrored } from '../src/evaluate.js';
import { translated, ttaLevel } from '../src/tta.js';

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

describe('translated', () => {
  // Two channels of 2×3: channel 1 is channel 0 + 6.
  const x = () => tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), { shape: [1, 2, 2, 3] });
  const values = (t: ReturnType<typeof x>) => [...(t.toTypedArray() as Float32Array)];

  it('crops the 1-pixel reflect-padded image, edges reflected, each plane on its own', () => {
    // Reflect-padded channel 0 (rows -1…2, columns -1…3):
    //   5 4 5 6 5
    //   2 1 2 3 2
    //   5 4 5 6 5
    //   2 1 2 3 2
    // [0:2, 0:3] is the window moved up-left, [2:4, 2:5] the one moved down-right.
    const cases: [-1 | 0 | 1, -1 | 0 | 1, number[]][] = [
      [-1, -1, [5, 4, 5, 2, 1, 2]],
      [1, 1, [5, 6, 5, 2, 3, 2]],
      [0, 1, [2, 3, 2, 5, 6, 5]],
      [1, 0, [4, 5, 6, 1, 2, 3]],
      [0, -1, [2, 1, 2, 5, 4, 5]],
      [0, 0, [1, 2, 3, 4, 5, 6]],
    ];
    for (const [dy, dx, plane] of cases) {
      const input = x();
      const out = translated(input, dy, dx);
      expect(out.shape).toEqual([1, 2, 2, 3]);
      expect(values(out)).toEqual([...plane, ...plane.map((v) => v + 6)]);
      expect(values(input)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      out.dispose();
      input.dispose();
    }
  });

  it('refuses planes of side 1, naming the image size, and shifts other than one pixel', () => {
    const thin = tensor(new Float32Array(5), { shape: [1, 1, 1, 5] });
    expect(() => translated(thin, -1, -1)).toThrow(/at least 2×2 pixels; these images are 1×5\./);
    expect(() => translated(thin, 1, 0)).toThrow(RangeError);
    expect(translated(thin, 0, 1).shape).toEqual([1, 1, 1, 5]);
    expect(() => translated(thin, 2 as never, 0)).toThrow(/dy/);
    thin.dispose();
  });
});

describe('evaluate with flip-translate tta', () => {
  it('equals ½ · mirror average + ¼ · that of each one-pixel translation, from the six views by hand', async () => {
    const model = linearModel((o, c, r, k) => Math.cos(o * 5 + c * 2 + r * 3 + k * k) + 0.3 * r * k);
    const ds = data();
    const level2 = await evaluate(model, ds, { batchSize: 8, tta: 'flip-translate' });
    const flip = await evaluate(model, ds, { batchSize: 8, tta: true });
    const all = new DataLoader(ds, { batchSize: N, shuffle: false, prefetch: 0 }).batch(0, 0);
    // Logits of each view, combined in float64: weights ¼ for the image and its mirror, ⅛ for each
    // of the four views of the translated images.
    const views = tidy(() =>
      noGrad(() => {
        const up = translated(all.x, -1, -1);
        const down = translated(all.x, 1, 1);
        return [all.x, mirrored(all.x), up, mirrored(up), down, mirrored(down)].map(
          (v) => model.forward(v).toTypedArray() as Float32Array,
        );
      }),
    );
    const weights = [0.25, 0.25, 0.125, 0.125, 0.125, 0.125];
    const logits = new Float32Array(N * 3);
    for (let i = 0; i < logits.length; i++) logits[i] = views.reduce((a, v, k) => a + weights[k]! * v[i]!, 0);
    const labels = all.y.toTypedArray() as Int32Array;
    let loss = 0;
    for (let i = 0; i < N; i++) {
      const row = [0, 1, 2].map((j) => logits[i * 3 + j]!);
      const max = Math.max(...row);
      loss += max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) - row[labels[i]!]!;
    }
    const preds = new Int32Array(N);
    argmaxRows(logits, N, 3, preds);
    const confusion = [0, 1, 2].map(() => [0, 0, 0]);
    for (let i = 0; i < N; i++) confusion[labels[i]!]![preds[i]!]!++;
    expect(level2.confusion).toEqual(confusion);
    expect(Math.abs(level2.loss - loss / N)).toBeLessThan(1e-5);
    // The translated views matter: the result is not the flip-only one.
    expect(Math.abs(level2.loss - flip.loss)).toBeGreaterThan(1e-3);
    all.x.dispose();
    all.y.dispose();
    model.dispose();
  });

  it("takes 'flip' for true, rejects other values, and names the size of images too small to translate", async () => {
    const model = linearModel((o, c, r, k) => Math.sin(o + c + r * k));
    const ds = data();
    const asTrue = await evaluate(model, ds, { tta: true });
    const asFlip = await evaluate(model, ds, { tta: 'flip' });
    expect(asFlip.loss).toBe(asTrue.loss);
    expect(asFlip.confusion).toEqual(asTrue.confusion);
    await expect(evaluate(model, ds, { tta: 'translate' as never })).rejects.toThrow(/flip-translate/);
    expect([undefined, false, true, 'flip', 'flip-translate'].map((t) => ttaLevel(t as never))).toEqual([
      'none',
      'none',
      'flip',
      'flip',
      'flip-translate',
    ]);
    const thin = fromArrays(new Uint8Array(4 * 6), Int32Array.from([0, 1, 2, 0]), [1, 1, 6], {
      classes: ['a', 'b', 'c'],
    });
    const flat = new Sequential(new Flatten(), new Linear(6, 3, { generator: new Generator(2) }));
    await expect(evaluate(flat, thin, { tta: 'flip-translate' })).rejects.toThrow(/these images are 1×6/);
    flat.dispose();
    model.dispose();
  });

  it('keeps tta: true in configurations (old run folders resume), with flip as its synonym', () => {
    expect(resolveConfig({ tta: true }).tta).toBe(true);
    expect(resolveConfig({ tta: 'flip' }).tta).toBe(true);
    expect(resolveConfig({ tta: 'flip-translate' }).tta).toBe('flip-translate');
    expect(() => resolveConfig({ tta: 'mirror' as never })).toThrow(UsageError);
  });
});

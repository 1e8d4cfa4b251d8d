import {
  customTransform,
  DataLoader,
  fromArrays,
  normalize,
  randomCrop,
  randomHorizontalFlip,
  type Transform,
} from '@dlf/data';
import { describe, expect, it } from 'vitest';

const C = 2;
const H = 4;
const W = 5;

/** n images [2, 4, 5]; value = 10 c + ... distinct per (sample, c, y, x) within 0..255. */
function images(n: number) {
  const data = new Uint8Array(n * C * H * W);
  for (let s = 0; s < n; s++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          data[((s * C + c) * H + y) * W + x] = (s * 7 + c * 100 + y * 10 + x + 1) % 256;
  return fromArrays(data, new Int32Array(n), [C, H, W]);
}

function run(
  transforms: Transform[],
  n = 8,
  opts: { seed?: number; epoch?: number; batchSize?: number } = {},
) {
  const loader = new DataLoader(images(n), {
    batchSize: opts.batchSize ?? n,
    transforms,
    seed: opts.seed ?? 0,
    scale: 1,
  });
  const out: number[] = [];
  let shape: readonly number[] = [];
  for (let b = 0; b < loader.length; b++) {
    const batch = loader.batch(opts.epoch ?? 0, b);
    out.push(...(batch.x.data() as Float32Array));
    shape = batch.x.shape;
    batch.x.dispose();
    batch.y.dispose();
  }
  return { out, shape };
}

/** Pixel (s, c, y, x) of the source, or `fill` outside it. */
function src(s: number, c: number, y: number, x: number, fill = 0): number {
  if (y < 0 || y >= H || x < 0 || x >= W) return fill;
  return (s * 7 + c * 100 + y * 10 + x + 1) % 256;
}

describe('transforms', () => {
  it('normalize: (x·scale − mean[c]) / std[c]', () => {
    const loader = new DataLoader(images(1), { transforms: [normalize([0.1, 0.2], [0.5, 0.25])] });
    const b = loader.batch(0, 0);
    const x = b.x.data() as Float32Array;
    expect(x[0]).toBeCloseTo((src(0, 0, 0, 0) / 255 - 0.1) / 0.5, 5);
    expect(x[H * W + 3]).toBeCloseTo((src(0, 1, 0, 3) / 255 - 0.2) / 0.25, 5);
    b.x.dispose();
    b.y.dispose();
    expect(() => new DataLoader(images(1), { transforms: [normalize([0.1, 0.2, 0.3], 1)] })).toThrow(
      /1 or 2 values/,
    );
    expect(() => normalize(0, 0)).toThrow(/std\[0\]/);
  });

  it('horizontal flip: p = 1 mirrors every image, p = 0 none, p = 0.5 some', () => {
    const flipped = run([randomHorizontalFlip(1)], 2).out;
    const plain = run([], 2).out;
    for (let s = 0; s < 2; s++)
      for (let c = 0; c < C; c++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const i = ((s * C + c) * H + y) * W + x;
            expect(flipped[i]).toBe(src(s, c, y, W - 1 - x));
            expect(plain[i]).toBe(src(s, c, y, x));
          }
    expect(run([randomHorizontalFlip(0)], 2).out).toEqual(plain);
    const half = run([randomHorizontalFlip(0.5)], 64).out;
    const n = 64;
    let count = 0;
    for (let s = 0; s < n; s++) if (half[s * C * H * W] !== src(s, 0, 0, 0)) count++;
    expect(count).toBeGreaterThan(16);
    expect(count).toBeLessThan(48);
  });

  it('alternating flip: each image is mirrored in every other epoch, half of them first', () => {
    const n = 64;
    const mirroredIn = (epoch: number): boolean[] => {
      const out = run([randomHorizontalFlip(0.5, { alternate: true })], n, { epoch, seed: 3 }).out;
      return Array.from({ length: n }, (_, s) => out[s * C * H * W] !== src(s, 0, 0, 0));
    };
    const epochs = [0, 1, 2, 3].map(mirroredIn);
    for (let s = 0; s < n; s++) {
      expect(epochs[1]![s]).toBe(!epochs[0]![s]);
      expect(epochs[2]![s]).toBe(epochs[0]![s]);
      expect(epochs[3]![s]).toBe(epochs[1]![s]);
    }
    const first = epochs[0]!.filter(Boolean).length;
    expect(first).toBeGreaterThan(16);
    expect(first).toBeLessThan(48);
    expect(() => randomHorizontalFlip(0.3, { alternate: true })).toThrow(/0\.5 with alternate/);
  });

  it('random crop with padding: every output is a window of the zero-padded image, positions vary', () => {
    const pad = 2;
    const { out, shape } = run([randomCrop([3, 4], { padding: pad })], 32);
    expect(shape).toEqual([32, C, 3, 4]);
    const offsets = new Set<string>();
    for (let s = 0; s < 32; s++) {
      const img = out.slice(s * C * 12, (s + 1) * C * 12);
      const matches: string[] = [];
      for (let top = 0; top <= H + 2 * pad - 3; top++)
        for (let left = 0; left <= W + 2 * pad - 4; left++) {
          let ok = true;
          for (let c = 0; c < C && ok; c++)
            for (let y = 0; y < 3 && ok; y++)
              for (let x = 0; x < 4 && ok; x++)
                ok = img[c * 12 + y * 4 + x] === src(s, c, y + top - pad, x + left - pad);
          if (ok) matches.push(`${top},${left}`);
        }
      expect(matches.length).toBeGreaterThan(0);
      offsets.add(matches[0]!);
    }
    expect(offsets.size).toBeGreaterThan(8);
    expect(() => randomCrop(40, { padding: 1 })).not.toThrow();
    expect(() => new DataLoader(images(1), { transforms: [randomCrop(40, { padding: 1 })] })).toThrow(
      /no larger than the padded image/,
    );
  });

  it('crop then flip, and the fill value, are applied as specified', () => {
    const pad = 1;
    const { out } = run([randomCrop([H, W], { padding: pad, fill: 0.5 }), randomHorizontalFlip(1)], 16);
    for (let s = 0; s < 16; s++) {
      const img = out.slice(s * C * H * W, (s + 1) * C * H * W);
      let found = false;
      for (let top = 0; top <= 2 * pad && !found; top++)
        for (let left = 0; left <= 2 * pad && !found; left++) {
          let ok = true;
          for (let c = 0; c < C && ok; c++)
            for (let y = 0; y < H && ok; y++)
              for (let x = 0; x < W && ok; x++)
                ok = img[c * H * W + y * W + x] === src(s, c, y + top - pad, W - 1 - x + left - pad, 0.5);
          found = ok;
        }
      expect(found).toBe(true);
    }
  });

  it('augmentation is seeded per (seed, epoch, sample), independent of batch size', () => {
    const t = [randomCrop(4, { padding: 2 }), randomHorizontalFlip()];
    const a = run(t, 16, { seed: 3, epoch: 1 }).out;
    expect(run(t, 16, { seed: 3, epoch: 1, batchSize: 5 }).out).toEqual(a);
    expect(run(t, 16, { seed: 3, epoch: 2 }).out).not.toEqual(a);
    expect(run(t, 16, { seed: 4, epoch: 1 }).out).not.toEqual(a);
  });

  it('runs custom transforms after the built-in ones', () => {
    const seen: number[][] = [];
    const t = customTransform('negate', (x, shape, ctx) => {
      seen.push([...shape, ctx.epoch, ctx.indices.length]);
      for (let i = 0; i < x.length; i++) x[i] = -x[i]!;
    });
    const { out } = run([t], 2, { epoch: 4 });
    expect(out[0]).toBe(-src(0, 0, 0, 0));
    expect(seen).toEqual([[2, C, H, W, 4, 2]]);
  });

  it('rejects unknown, duplicate and misplaced transforms', () => {
    expect(() => new DataLoader(images(1), { transforms: [{ kind: 'blur' } as never] })).toThrow(
      /transforms\[0\]/,
    );
    expect(
      () => new DataLoader(images(1), { transforms: [randomHorizontalFlip(), randomHorizontalFlip()] }),
    ).toThrow(/at most one horizontalFlip/);
    const flat = fromArrays(new Uint8Array(4), Int32Array.of(0, 0), [2]);
    expect(() => new DataLoader(flat, { transforms: [randomHorizontalFlip()] })).toThrow(
      /image samples \[C, H, W\]/,
    );
  });
});

import {
  arange,
  dispose,
  keep,
  memory,
  ones,
  rand,
  type Tensor,
  tensor,
  tidy,
  zeros,
  zerosLike,
} from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { expectThrows, gc, tick } from './helpers.js';

/** Live tensors and bytes right now. */
const live = () => {
  const m = memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes, numBlocks: m.numBlocks };
};

describe('dispose', () => {
  it('is idempotent and counted once', () => {
    const before = live();
    const t = ones([10]);
    expect(memory().numTensors).toBe(before.numTensors + 1);
    expect(memory().numBytes).toBeGreaterThan(before.numBytes);
    expect(t.isDisposed).toBe(false);
    t.dispose();
    t.dispose();
    t[Symbol.dispose]();
    expect(t.isDisposed).toBe(true);
    expect(live()).toEqual(before);
  });

  it('use after dispose throws an Error naming the problem, never a crash', () => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]);
    t.dispose();
    const uses: [string, () => unknown][] = [
      ['toArray', () => t.toArray()],
      ['toTypedArray', () => t.toTypedArray()],
      ['data', () => t.data()],
      ['item', () => t.slice(0).item()],
      ['reshape', () => t.reshape([4])],
      ['view', () => t.view([4])],
      ['slice', () => t.slice(1)],
      ['contiguous', () => t.contiguous()],
      ['clone', () => t.clone()],
      ['astype', () => t.astype('int32')],
      ['strides', () => t.strides],
      ['isContiguous', () => t.isContiguous],
      ['handle', () => t.handle],
      ['zerosLike', () => zerosLike(t)],
    ];
    for (const [, use] of uses) {
      expectThrows(use, Error, /^Tensor of shape \[2, 2\] was used after dispose\(\)$/);
    }
    // Metadata stays readable.
    expect(t.shape).toEqual([2, 2]);
    expect(t.dtype).toBe('float32');
    expect(t.size).toBe(4);
  });

  it('views keep the memory of a disposed base', () => {
    const before = live();
    const flat = arange(6);
    const base = flat.reshape([3, 2]);
    const view = base.slice(1);
    flat.dispose();
    base.dispose();
    expect(memory().numBytes).toBeGreaterThan(before.numBytes);
    expect(view.toArray()).toEqual([
      [2, 3],
      [4, 5],
    ]);
    view.dispose();
    expect(live()).toEqual(before);
  });

  it('dispose(value) disposes tensors in arrays, Maps and plain objects', () => {
    const before = live();
    const a = zeros([1]);
    const b = zeros([2]);
    const c = zeros([3]);
    const d = zeros([4]);
    dispose({ list: [a, { deeper: b }], map: new Map([['c', c]]), d, n: 3, s: 'x' });
    expect([a, b, c, d].every((t) => t.isDisposed)).toBe(true);
    expect(live()).toEqual(before);
    dispose(null);
    dispose(a); // already disposed: fine
  });
});

describe('tidy', () => {
  it('disposes everything made inside except what it returns', () => {
    const before = live();
    let inner: Tensor[] = [];
    const result = tidy(() => {
      const a = ones([4]);
      const b = a.reshape([2, 2]);
      const c = b.slice(1);
      inner = [a, b, c];
      return c.clone();
    });
    expect(inner.every((t) => t.isDisposed)).toBe(true);
    expect(result.isDisposed).toBe(false);
    expect(result.toArray()).toEqual([[1, 1]]);
    result.dispose();
    expect(live()).toEqual(before);
  });

  it('keeps tensors returned inside arrays, Maps and plain objects', () => {
    const before = live();
    let scratch!: Tensor;
    const out = tidy(() => {
      scratch = zeros([1]);
      return { list: [ones([1]), { deep: ones([2]) }], map: new Map([['m', ones([3])]]), n: 5 };
    });
    expect(scratch.isDisposed).toBe(true);
    const kept = [out.list[0] as Tensor, (out.list[1] as { deep: Tensor }).deep, out.map.get('m')!];
    expect(kept.every((t) => !t.isDisposed)).toBe(true);
    expect(out.n).toBe(5);
    dispose(out);
    expect(live()).toEqual(before);
  });

  it('returns non-tensor values unchanged', () => {
    expect(tidy(() => 42)).toBe(42);
    expect(tidy(() => undefined)).toBeUndefined();
    expect(tidy(() => ones([3]).toArray())).toEqual([1, 1, 1]);
  });

  it('leaves tensors made before it alone, even when they are used inside', () => {
    const outer = ones([2]);
    tidy(() => {
      outer.reshape([1, 2]);
      return outer; // returning an outside tensor does not move it anywhere
    });
    expect(outer.isDisposed).toBe(false);
    outer.dispose();
  });

  it('nests: returned tensors belong to the enclosing scope', () => {
    const before = live();
    let fromInner!: Tensor;
    let innerScratch!: Tensor;
    let outerScratch!: Tensor;
    const result = tidy(() => {
      outerScratch = zeros([1]);
      fromInner = tidy(() => {
        innerScratch = zeros([2]);
        return ones([3]);
      });
      expect(innerScratch.isDisposed).toBe(true);
      expect(fromInner.isDisposed).toBe(false);
      return ones([4]);
    });
    // fromInner moved to the outer scope and was not returned from it.
    expect(fromInner.isDisposed).toBe(true);
    expect(outerScratch.isDisposed).toBe(true);
    expect(result.isDisposed).toBe(false);
    result.dispose();
    expect(live()).toEqual(before);
  });

  it('keep() takes a tensor out of every enclosing scope', () => {
    const before = live();
    let kept!: Tensor;
    let other!: Tensor;
    tidy(() => {
      tidy(() => {
        kept = keep(ones([2]));
        other = ones([2]);
      });
    });
    expect(kept.isDisposed).toBe(false);
    expect(other.isDisposed).toBe(true);
    expect(keep(kept)).toBe(kept); // outside any scope: a no-op
    kept.dispose();
    expect(live()).toEqual(before);
  });

  it('tensors disposed inside are fine', () => {
    const before = live();
    tidy(() => {
      const a = ones([2]);
      a.dispose();
      return a;
    });
    expect(live()).toEqual(before);
  });

  it('rethrows and still cleans up when fn throws', () => {
    const before = live();
    let made: Tensor[] = [];
    expect(() =>
      tidy(() => {
        made = [ones([5]), zeros([5])];
        tidy(() => {
          made.push(ones([1]));
          throw new RangeError('inner failure');
        });
      }),
    ).toThrow(new RangeError('inner failure'));
    expect(made).toHaveLength(3);
    expect(made.every((t) => t.isDisposed)).toBe(true);
    expect(live()).toEqual(before);
    // The scope stack is intact: a later tidy still works normally.
    const r = tidy(() => ones([1]));
    expect(r.isDisposed).toBe(false);
    r.dispose();
    expect(live()).toEqual(before);
  });

  it('throws a TypeError for an async function and disposes what it made', async () => {
    const before = live();
    let made!: Tensor;
    expectThrows(
      () =>
        tidy(async () => {
          made = ones([3]);
          return made;
        }),
      TypeError,
      /synchronous function/,
    );
    expect(made.isDisposed).toBe(true);
    expect(live()).toEqual(before);
    await tick(); // the returned promise settles without an unhandled rejection
  });
});

describe('using declarations', () => {
  it('dispose at the end of the block, also when it throws', () => {
    const before = live();
    let seen!: Tensor;
    {
      using t = ones([8]);
      seen = t;
      expect(memory().numTensors).toBe(before.numTensors + 1);
    }
    expect(seen.isDisposed).toBe(true);
    expect(live()).toEqual(before);
    expect(() => {
      using t = ones([8]);
      seen = t;
      throw new Error('in the block');
    }).toThrow('in the block');
    expect(seen.isDisposed).toBe(true);
    expect(live()).toEqual(before);
  });
});

describe('no leaks', () => {
  // Node runs Node-API finalizers (which free each handle's small native holder) from the event
  // loop, so the loops yield every 1000 iterations, as any real program does.
  const data = Array.from({ length: 300 }, (_, i) => i / 7);
  const f32 = new Float32Array(data);

  /**
   * Process RSS minus the V8 heap's reserved size. Without --expose-gc, V8 grows its heap lazily by
   * tens of MB during a long loop, which is not a leak; JS-side leaks show in numTensors instead.
   */
  function nativeRss(): number {
    const m = process.memoryUsage();
    return m.rss - m.heapTotal;
  }

  /** Asserts RSS growth since `start`: < 30 MB outside the JS heap, < 64 MB in all. */
  function expectFlat(start: { rss: number; native: number }): void {
    // Under AddressSanitizer (pnpm test:sanitize) freed memory sits in its quarantine by design.
    if (process.env.DLF_SANITIZE === '1') return;
    const nativeMB = (nativeRss() - start.native) / 2 ** 20;
    const totalMB = (process.memoryUsage().rss - start.rss) / 2 ** 20;
    expect(nativeMB, `RSS outside the JS heap grew by ${nativeMB.toFixed(1)} MB`).toBeLessThan(30);
    expect(totalMB, `RSS grew by ${totalMB.toFixed(1)} MB`).toBeLessThan(64);
  }

  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await tick();
    }
  }

  it('memory() and RSS return to baseline after 100,000 create/dispose cycles', async () => {
    // Warm-up: reach the allocator cache's and V8's steady state.
    for (let i = 0; i < 20_000; i++) {
      tensor(data).dispose();
      if (i % 1000 === 0) await tick();
    }
    await settle();
    const before = live();
    const start = { rss: process.memoryUsage().rss, native: nativeRss() };
    for (let i = 0; i < 100_000; i++) {
      const t = tensor(data);
      if (i % 2 === 0) t.dispose();
      else t[Symbol.dispose]();
      if (i % 1000 === 0) await tick();
    }
    await settle();
    expect(live()).toEqual(before);
    expectFlat(start);
  });

  it('memory() and RSS return to baseline after 100,000 tidy cycles with views and random fills', async () => {
    const cycle = () => {
      const kept = tidy(() => {
        const a = tensor(f32, { shape: [30, 10] });
        const b = a.reshape([-1]).slice(5, 50);
        rand([16]);
        return { b, c: a.astype('int32') };
      });
      dispose(kept);
    };
    for (let i = 0; i < 10_000; i++) {
      cycle();
      if (i % 1000 === 0) await tick();
    }
    await settle();
    const before = live();
    const start = { rss: process.memoryUsage().rss, native: nativeRss() };
    for (let i = 0; i < 100_000; i++) {
      cycle();
      if (i % 1000 === 0) await tick();
    }
    await settle();
    expect(live()).toEqual(before);
    expectFlat(start);
  });
});

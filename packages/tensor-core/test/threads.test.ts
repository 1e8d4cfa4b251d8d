import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Generator, getNumThreads, rand, randint, randn, setNumThreads, tidy } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

// Set by the first test: when the pool can hang, the in-process tests below would hang too.
let poolOk = false;

/** The bytes of 1e6 values from each distribution, drawn with `threads` threads. */
function draw(threads: number): Buffer[] {
  setNumThreads(threads);
  return tidy(() => {
    const g = new Generator(123);
    return [
      rand([1_000_003], -1, 1, { generator: g }),
      randn([1_000_001], 0, 1, { generator: g }),
      randint([999_999], -50, 50, { generator: g }),
    ].map((t) => Buffer.from(t.toTypedArray().buffer));
  });
}

describe('threads', () => {
  it('a parallel op right after resizing the pool does not hang', () => {
    // Workers used to read the job counter only once their thread first ran, so a job posted right
    // after a resize could be missed and the caller waited forever. A hang cannot be interrupted
    // in-process, so this runs in a child process with a time limit.
    const addon =
      process.env['DLF_NATIVE_PATH'] ??
      fileURLToPath(new URL('../../native/build/Release/dlf.node', import.meta.url));
    const script = `
      const n = require(${JSON.stringify(addon)}).tensor;
      const h = n.empty([1 << 20], 0);
      for (let i = 0; i < 300; i++) {
        n.setNumThreads(1 + (i % 3));
        n.randomFill(h, 0, 0, 1, 1, 0);
      }
      n.release(h);
      console.log('ok');
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({
      status: child.status,
      signal: child.signal,
      stdout: child.stdout.trim(),
      stderr: child.stderr,
    }).toEqual({
      status: 0,
      signal: null,
      stdout: 'ok',
      stderr: '',
    });
    poolOk = true;
  });

  it('getNumThreads/setNumThreads round-trip', () => {
    expect(initialThreads).toBeGreaterThanOrEqual(1);
    for (const n of [1, 2, 3, 1, initialThreads]) {
      setNumThreads(n);
      expect(getNumThreads()).toBe(n);
    }
  });

  it('random tensors are identical with 1 to 7 threads', (ctx) => {
    if (!poolOk) ctx.skip();
    // Each participant runs its own range of chunks first, then takes what is left of the others'
    // (more threads than cores: workers join late, or after the caller has taken their chunks).
    const one = draw(1);
    for (const threads of [2, 3, 4, 5, 7]) {
      const other = draw(threads);
      for (let i = 0; i < one.length; i++) expect(one[i]!.equals(other[i]!), `${threads} threads`).toBe(true);
    }
  });
});

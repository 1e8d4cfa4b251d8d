// The addon in several worker threads at once: each thread has its own kernel table, thread count,
// switches and memory account (native runtime/env_state.h), the shared thread pool runs a job in
// its submitter's state, and a worker that exits or is terminated mid-computation leaves the
// process healthy. The workers run workers/native-worker.mjs over the built addon.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { conv2d } from '@dlf/nn';
import { Generator, memory, randn, tidy } from '@dlf/tensor-core';
import { expectScriptOk } from '@dlf/testing';
import { describe, expect, it } from 'vitest';

const addon =
  process.env['DLF_NATIVE_PATH'] ??
  fileURLToPath(new URL('../../native/build/Release/dlf.node', import.meta.url));
const workerScript = new URL('./workers/native-worker.mjs', import.meta.url);

interface ComputeReport {
  skipped?: true;
  simd: string;
  threads: number;
  start: number;
  end: number;
  mismatches: number;
  maxError: number;
  aloneConv: Float32Array;
  aloneStrided: Float32Array;
  liveBytesBefore: number;
  liveBytesAfter: number;
  liveBlocksBefore: number;
  liveBlocksAfter: number;
}

/** Starts a worker and resolves with its first message; rejects on an error or an early exit. */
function start(workerData: Record<string, unknown>): { worker: Worker; first: Promise<unknown> } {
  const worker = new Worker(workerScript, { workerData: { addon, ...workerData } });
  const first = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
  return { worker, first };
}

function nextMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve) => worker.once('message', resolve));
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

describe('worker threads', () => {
  it('workers on different kernel tables compute correctly at the same time', async () => {
    const tables = ['avx512', 'avx2', 'base'];
    const sync = new SharedArrayBuffer(8);
    const workers = tables.map((simd) =>
      start({ task: 'compute', simd, threads: 2, iterations: 25, sync, parties: tables.length }),
    );
    const reports = (await Promise.all(workers.map((w) => w.first))) as ComputeReport[];
    await Promise.all(workers.map((w) => w.worker.terminate()));

    const ran = reports.filter((r) => !r.skipped);
    // Every x86-64 CPU has the baseline; the CI and development machines have AVX2 too.
    expect(ran.map((r) => r.simd)).toContain('base');
    expect(ran.length).toBeGreaterThanOrEqual(2);
    for (const r of ran) {
      const tag = `worker on ${r.simd}`;
      expect(r.simd, tag).toBe(tables[reports.indexOf(r)]);
      expect(r.threads, tag).toBe(2);
      // Bit for bit what the same table gives without the pool: no chunk ran on another table.
      expect(r.mismatches, tag).toBe(0);
      expect(r.maxError, tag).toBeLessThan(1e-4);
      expect(r.liveBytesAfter, tag).toBe(r.liveBytesBefore);
      expect(r.liveBlocksAfter, tag).toBe(r.liveBlocksBefore);
    }
    // The loops overlapped in time, and the baseline gives other bits than the vector tables (AVX2
    // and AVX-512 may agree: both use FMA), so a chunk run on the wrong table would show.
    expect(Math.max(...ran.map((r) => r.start))).toBeLessThan(Math.min(...ran.map((r) => r.end)));
    const base = ran.find((r) => r.simd === 'base')!;
    for (const r of ran.filter((other) => other !== base)) {
      expect(sameBits(r.aloneConv, base.aloneConv), `${r.simd} vs base`).toBe(false);
      expect(sameBits(r.aloneStrided, base.aloneStrided), `${r.simd} vs base`).toBe(false);
    }
  });

  it("memory stats count each thread's own tensors", async () => {
    interface Stats {
      liveBytes: number;
      liveBlocks: number;
    }
    interface Holding {
      before: Stats;
      holding: Stats;
    }
    const mainBefore = memory();
    const sizes = [3, 5];
    const workers = sizes.map((mib) => start({ task: 'memory', mib }));
    const held = (await Promise.all(workers.map((w) => w.first))) as Holding[];
    const mainDuring = memory();
    sizes.forEach((mib, i) => {
      expect(held[i]!.holding.liveBytes - held[i]!.before.liveBytes).toBe(mib << 20);
      expect(held[i]!.holding.liveBlocks - held[i]!.before.liveBlocks).toBe(mib);
    });
    expect(mainDuring.numBytes).toBe(mainBefore.numBytes);
    expect(mainDuring.numBlocks).toBe(mainBefore.numBlocks);

    const released = workers.map((w) => nextMessage(w.worker));
    for (const w of workers) w.worker.postMessage('release');
    const after = (await Promise.all(released)) as { released: Stats }[];
    sizes.forEach((_, i) => expect(after[i]!.released.liveBytes).toBe(held[i]!.before.liveBytes));
    await Promise.all(workers.map((w) => w.worker.terminate()));
  });

  it('a worker that exits in the middle of its work leaves the main thread computing correctly', async () => {
    const g = new Generator(7);
    const x = randn([8, 8, 16, 16], 0, 1, { generator: g });
    const w = randn([8, 8, 3, 3], 0, 1, { generator: g });
    const step = () =>
      tidy(() => conv2d(x, w, undefined, { padding: 1, relu: true }).toTypedArray() as Float32Array);
    const expected = step();
    const before = memory();

    const { worker, first } = start({ task: 'loop', exitAfter: 40 });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    await first;
    let done = false;
    let exitCode = -1;
    void exited.then((code) => {
      exitCode = code;
      done = true;
    });
    let steps = 0;
    let mismatches = 0;
    // Compute while the worker runs and exits (with its tensors alive), then some more.
    for (let after = 0; after < 20; steps++) {
      if (!sameBits(step(), expected)) mismatches++;
      if (done) after++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(exitCode).toBe(0);
    expect(mismatches).toBe(0);
    expect(steps).toBeGreaterThan(20);
    expect(memory().numBytes).toBe(before.numBytes);
  });

  it('terminating workers in the middle of a forward pass leaves the process alive', () => {
    // Used to abort the process (a C++ exception thrown where no JavaScript can run). An abort
    // cannot be caught in-process, so this runs in a child process.
    const script = `
      import { Worker } from 'node:worker_threads';
      const workerData = { task: 'loop', addon: ${JSON.stringify(addon)} };
      for (let i = 0; i < 10; i++) {
        // execArgv: [] so the workers do not inherit --input-type.
        const worker = new Worker(new URL(${JSON.stringify(workerScript.href)}), { workerData, execArgv: [] });
        await new Promise((resolve) => worker.once('message', resolve));
        await new Promise((resolve) => setTimeout(resolve, 5 + 7 * i));
        await worker.terminate();
      }
      console.log('ok');
    `;
    expectScriptOk(script, { module: true });
  });
});

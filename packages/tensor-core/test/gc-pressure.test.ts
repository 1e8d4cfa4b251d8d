// V8 is told how much tensor memory JS holds (native runtime/napi_util.cc): tensors left to the GC
// backstop are still collected once they pile up, while a loop that disposes what it makes (a
// training step's activations: hundreds of MB rising and falling every step) does not bring on a
// full collection each time round.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { memory, zeros } from '@dlf/tensor-core';
import { tick } from './helpers.js';

const MB = 2 ** 20;
const FLOATS = (16 * MB) / 4; // 16 MB a tensor

/** Runs fn and counts the full (mark-compact) collections V8 ran meanwhile. */
async function majorCollections(fn: () => Promise<void>): Promise<number> {
  let count = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) count++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    await fn();
    await tick();
  } finally {
    observer.disconnect();
  }
  return count;
}

describe('external memory reported to V8', () => {
  it('lets the GC collect tensors nobody disposed before they pile up', async () => {
    let peak = 0;
    // 2.5 GB if nothing were collected
    for (let i = 0; i < 160; i++) {
      zeros([FLOATS]); // left to the backstop
      peak = Math.max(peak, memory().numBytes);
      if (i % 4 === 3) await tick();
    }
    expect(peak / MB).toBeLessThan(1024);
  });

  it('does not bring on a full collection each time a loop of disposed tensors comes and goes', async () => {
    const majors = await majorCollections(async () => {
      for (let step = 0; step < 30; step++) {
        const ts = Array.from({ length: 16 }, () => zeros([FLOATS])); // 256 MB a step
        for (const t of ts) t.dispose();
        await tick();
      }
    });
    expect(majors).toBeLessThan(6);
  });
});

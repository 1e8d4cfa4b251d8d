import { memory, releaseCachedMemory, tidy, zeros } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

// Run without DLF_CACHE_MB (which caps the cache at a fixed size).
describe.skipIf(process.env.DLF_CACHE_MB !== undefined)('allocator reuse cache', () => {
  afterAll(() => releaseCachedMemory());

  it('keeps every block of a step that holds more than 1 GB, so the next step allocates nothing', () => {
    // 320 buffers of 4 MB: 1.25 GB alive at once, above the cache's 1 GB floor.
    const step = () =>
      tidy(() => {
        for (let i = 0; i < 320; i++) zeros([1 << 20]);
      });
    step();
    const before = memory().systemAllocations;
    step();
    expect(memory().systemAllocations).toBe(before);
  });
});

import { mean, seedCnn } from '@dlf/nn';
import { memory, randn, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

describe('steady state', () => {
  it('a training step reuses cached buffers: no system allocations and flat memory after warm-up', () => {
    const model = seedCnn({ classes: 10 });
    const x = randn([16, 3, 32, 32]);
    const step = () =>
      tidy(() => {
        model.zeroGrad();
        mean(model.forward(x)).backward();
      });
    for (let i = 0; i < 6; i++) step();
    const before = memory();
    for (let i = 0; i < 20; i++) step();
    const after = memory();
    expect(after.systemAllocations).toBe(before.systemAllocations);
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });
});

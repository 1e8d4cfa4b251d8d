// The benchmark's evaluation-mode profile (`dlf_bench.mjs --profile --mode infer`): one row per
// group the model runs as one step, nested containers included, multiply-adds summed over a group's
// convs, and the model left as it was found.

import * as nn from '@dlf/nn';
import * as core from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module without types
import { formatProfile, profileInference } from '../profile.mjs';

const { BatchNorm2d, Conv2d, Flatten, GraphBuilder, Linear, ReLU, Sequential, AdaptiveAvgPool2d } = nn;

type Row = { layer: string; count: number; macs: number; fwdMs: number; dataMs: null; weightsMs: null };

function graphBlock(): nn.GraphModule {
  const g = new GraphBuilder();
  const a = g.node(new Conv2d(8, 8, 3, { padding: 1, bias: false }), g.input, 'a');
  const ab = g.node(new BatchNorm2d(8), a, 'ab');
  const s = g.add([ab, g.input], 'sum');
  return g.build(g.node(new ReLU(), s, 'out'));
}

// A hand-written module (no onLayer hook) around a conv: one group, its conv's multiply-adds counted.
class Wrapped extends nn.Module {
  readonly conv = this.registerModule('conv', new Conv2d(8, 8, 1, { bias: false }));
  override forward(x: core.Tensor): core.Tensor {
    return this.conv.forward(x);
  }
}

describe('profileInference', () => {
  it('times each fused group in place, nested ones too, and restores the model', () => {
    const model = new Sequential(
      new Conv2d(3, 8, 3, { padding: 1 }),
      new BatchNorm2d(8),
      new ReLU(),
      new Sequential(new Conv2d(8, 8, 1, { bias: false }), new BatchNorm2d(8), new ReLU()),
      graphBlock(),
      new Wrapped(),
      new AdaptiveAvgPool2d(1),
      new Flatten(),
      new Linear(8, 4),
    ).eval();
    const rows: Row[] = profileInference({ core, nn }, model, [2, 3, 8, 8], { warmup: 1, reps: 2 });
    const names = rows.map((r) => r.layer);
    expect(names[0]).toBe('0: Conv2d 3->8 k3 s1+BatchNorm2d+ReLU in 2x3x8x8');
    expect(names[1]).toBe('3.0: Conv2d 8->8 k1 s1+BatchNorm2d+ReLU in 2x8x8x8');
    expect(names[2]).toMatch(/^4\.0: Conv2d 8->8 k3 s1\+fused in 2x8x8x8$/);
    expect(names.slice(3)).toEqual([
      '5: Wrapped',
      '6: AdaptiveAvgPool2d',
      '7: Flatten',
      '8: Linear 8->4 in 2x8',
    ]);
    // Multiply-adds: N * K * C * R * S * P * Q.
    const pointwise = 2 * 8 * 8 * 64;
    expect(rows.map((r) => r.macs)).toEqual([
      2 * 8 * 3 * 9 * 64,
      pointwise,
      9 * pointwise,
      pointwise,
      0,
      0,
      2 * 8 * 4,
    ]);
    for (const r of rows) {
      expect(Number.isFinite(r.fwdMs) && r.fwdMs >= 0).toBe(true);
      expect(r.dataMs).toBeNull();
    }
    // Hooks and fusion as they were; the table has the forward column only.
    for (const m of model.modules()) {
      if ('onLayer' in m) expect(m.onLayer).toBeNull();
      if ('fuse' in m) expect(m.fuse).toBe(true);
    }
    const table: string = formatProfile(rows, 1, { peakPerCore: 100, isa: 'test', inference: true });
    expect(table).toContain('forward');
    expect(table).not.toContain('bwd-data');
  });
});

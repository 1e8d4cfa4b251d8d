/**
 * Parameter groups: a group's rate multiplier and weight decay give exactly the update of an
 * optimizer of its own with that rate and decay; frozen parameters (no gradient) are left alone; a
 * state dict records the groups and refuses to load into other groups.
 */
import '@dlf/autograd';
import { Parameter, sum, mul } from '@dlf/nn';
import { Adam, type Optimizer, SGD } from '@dlf/optim';
import { type Tensor, tensor, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

const values = (t: Tensor): number[] => [...(t.toTypedArray() as Float32Array)];

function makeParams(): Parameter[] {
  return [
    new Parameter(tensor([0.5, -1.25, 2])),
    new Parameter(
      tensor([
        [1, -2],
        [0.25, 3],
      ]),
    ),
    new Parameter(tensor([-0.75])),
  ];
}

/** Three steps on a loss whose gradient depends on the parameters (so momentum matters). */
function run(opt: Optimizer, params: Parameter[]): void {
  for (let step = 0; step < 3; step++) {
    tidy(() => {
      opt.zeroGrad();
      const loss = params.map((p) => sum(mul(mul(p, p), p))).reduce((a, b) => a.add(b));
      loss.backward();
      opt.step();
    });
  }
}

describe('parameter groups', () => {
  it('SGD: each group steps as its own optimizer with lr · lrScale and its weight decay', () => {
    const grouped = makeParams();
    const opt = new SGD(
      [{ params: [grouped[0]!, grouped[2]!] }, { params: [grouped[1]!], lrScale: 4, weightDecay: 0.01 }],
      { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    );
    run(opt, grouped);
    const a = makeParams();
    run(new SGD([a[0]!, a[2]!], { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }), [
      a[0]!,
      a[2]!,
    ]);
    const b = makeParams();
    run(new SGD([b[1]!], { lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 0.01 }), [b[1]!]);
    expect(values(grouped[0]!)).toEqual(values(a[0]!));
    expect(values(grouped[2]!)).toEqual(values(a[2]!));
    expect(values(grouped[1]!)).toEqual(values(b[1]!));
    expect(values(grouped[1]!)).not.toEqual(values(makeParams()[1]!));
  });

  it('Adam: groups keep their own step counts and rates', () => {
    const grouped = makeParams();
    run(
      new Adam([{ params: [grouped[0]!] }, { params: [grouped[1]!, grouped[2]!], lrScale: 0.5 }], {
        lr: 0.1,
      }),
      grouped,
    );
    const a = makeParams();
    run(new Adam([a[0]!], { lr: 0.1 }), [a[0]!]);
    const b = makeParams();
    run(new Adam([b[1]!, b[2]!], { lr: 0.05 }), [b[1]!, b[2]!]);
    expect(values(grouped[0]!)).toEqual(values(a[0]!));
    expect(values(grouped[1]!)).toEqual(values(b[1]!));
    expect(values(grouped[2]!)).toEqual(values(b[2]!));
  });

  it('a frozen parameter (requiresGrad false) is neither stepped nor decayed', () => {
    const params = makeParams();
    params[0]!.requiresGrad = false;
    const before = values(params[0]!);
    run(new SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 0.1 }), params);
    expect(values(params[0]!)).toEqual(before);
    expect(values(params[1]!)).not.toEqual(values(makeParams()[1]!));
  });

  it('a state dict keeps the groups and refuses other groups', () => {
    const params = makeParams();
    const groups = [
      { params: [params[0]!] },
      { params: [params[1]!, params[2]!], lrScale: 64, weightDecay: 1e-5 },
    ];
    const opt = new SGD(groups, { lr: 0.1, momentum: 0.9 });
    run(opt, params);
    const saved = opt.stateDict();
    expect(saved.state['paramGroups']).toEqual([
      [1, 1, null],
      [2, 64, 1e-5],
    ]);
    const again = new SGD(groups, { lr: 0.1, momentum: 0.9 });
    again.loadStateDict(saved);
    expect(again.stepCount).toBe(3);
    const flat = new SGD(params, { lr: 0.1, momentum: 0.9 });
    expect(() => flat.loadStateDict(saved)).toThrow(/state\.paramGroups/);
    const other = new SGD([{ params: [params[0]!, params[1]!] }, { params: [params[2]!], lrScale: 64 }], {
      lr: 0.1,
      momentum: 0.9,
    });
    expect(() => other.loadStateDict(saved)).toThrow(/state\.paramGroups/);
    for (const t of saved.tensors.values()) t.dispose();
  });

  it('refuses a bad group with the name of the field', () => {
    const params = makeParams();
    expect(() => new SGD([{ params: [params[0]!], lrScale: -1 }], { lr: 0.1 })).toThrow(
      /params\[0\]\.lrScale/,
    );
    expect(() => new SGD([{ params: [params[0]!], weightDecay: Number.NaN }], { lr: 0.1 })).toThrow(
      /params\[0\]\.weightDecay/,
    );
    expect(() => new SGD([{ params: [params[0]!] }, { params: [params[0]!] }], { lr: 0.1 })).toThrow(/once/);
    expect(() => new SGD([{ params: 3 as never }], { lr: 0.1 })).toThrow(/params\[0\]\.params/);
  });
});

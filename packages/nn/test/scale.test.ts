// Scale: a constant multiplier as a graph-describable layer (fast-cifar's logit scale).
import { tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, graphFromJSON, Scale, sum } from '@dlf/nn';

describe('Scale', () => {
  it('multiplies values and gradients by its factor', () => {
    const x = tensor([1, -2, 3.5]).requiresGrad_();
    const y = new Scale(-0.25).forward(x);
    expect([...(y.toTypedArray() as Float32Array)]).toEqual([-0.25, 0.5, -0.875]);
    sum(y).backward();
    expect([...(x.grad!.toTypedArray() as Float32Array)]).toEqual([-0.25, -0.25, -0.25]);
  });

  it('round-trips through a dlf.graph description', () => {
    const g = new GraphBuilder();
    const model = g.build(g.node(new Scale(0.125), g.input, 'scale'));
    const back = graphFromJSON(JSON.stringify(model.toJSON()));
    expect((back.layers[0] as Scale).factor).toBe(0.125);
    expect(back.describeNodes([4])[0]!.outputShape).toEqual([4]);
  });

  it('refuses a factor that is not a finite number, naming it', () => {
    expect(() => new Scale(Number.NaN)).toThrow(/factor/);
    expect(() => new Scale(Number.POSITIVE_INFINITY)).toThrow(/factor/);
    expect(() => new Scale('2' as unknown as number)).toThrow(/factor/);
  });
});

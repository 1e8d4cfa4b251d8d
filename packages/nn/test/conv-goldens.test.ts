/**
 * Every convolution algorithm against PyTorch, on every kernel table: the conv2d cases of
 * goldens/ops.json (PyTorch's outputs and gradients; ops.test.ts runs them once more with a
 * gradcheck on the default table) run forward and backward under each table at 1 and 2 threads, and
 * the native chooser's plan for those cases must reach each algorithm of each pass, so a golden
 * case stands behind every kernel path the chooser can pick.
 */
import { testing } from '@dlf/native/testing';
import type { ConvAlgorithm } from '@dlf/native/testing';
import * as F from '@dlf/nn';
import { expectClose, goldenTensor, loadGolden, makeOpInputs, maxAbs, type OpCase } from '@dlf/testing';
import { getNumThreads, getSimd, setNumThreads, setSimd, tidy } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

const golden = loadGolden<{ cases: OpCase[] }>(import.meta.url, 'ops.json');
const cases = golden.cases.filter((c) => c.op === 'conv2d');

type Pair = [number, number];
const attr = (c: OpCase, key: string) => c.attrs[key] as Pair | number;

// Tolerances relative to each quantity's largest value: a float32 sum's rounding follows the
// magnitude of what it sums, not of the element (Winograd's transforms mix a tile's values, and the
// baseline table rounds them in another order: ~1e-5 of the largest output).
const close = (actual: F.Tensor, want: OpCase['output'], name: string) =>
  expectClose(actual, want, { atol: 2e-5 + 3e-5 * maxAbs(want.data), rtol: 2e-4, name });

function check(c: OpCase): void {
  tidy(() => {
    const inputs = makeOpInputs(c);
    const [x, w, b] = inputs;
    const y = F.conv2d(x!, w!, b ?? null, {
      stride: attr(c, 'stride') as Pair,
      padding: attr(c, 'padding') as Pair,
      dilation: attr(c, 'dilation') as Pair,
      groups: attr(c, 'groups') as number,
    });
    close(y, c.output, `${c.name}: forward`);
    y.backward({ grad: goldenTensor(c.upstream) });
    c.grads.forEach((want, i) => {
      if (want) close(inputs[i]!.grad!, want, `${c.name}: gradient of input ${i}`);
    });
  });
}

function planOf(c: OpCase) {
  return tidy(() => {
    const [x, w] = makeOpInputs(c);
    const [sh, sw] = attr(c, 'stride') as Pair;
    const [ph, pw] = attr(c, 'padding') as Pair;
    const [dh, dw] = attr(c, 'dilation') as Pair;
    return testing.convPlan(x!.handle, w!.handle, {
      strideH: sh,
      strideW: sw,
      padH: ph,
      padW: pw,
      dilationH: dh,
      dilationW: dw,
      groups: attr(c, 'groups') as number,
    });
  });
}

const ALL: ConvAlgorithm[] = [
  'dense',
  'depthwise',
  'grouped',
  'winograd',
  'direct',
  'channel-vectorised',
  'gemm',
];
// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
const startThreads = getNumThreads();
afterAll(() => {
  setSimd(startSimd);
  setNumThreads(startThreads);
});

describe('conv2d algorithms against PyTorch goldens on every kernel table', () => {
  it('has conv2d goldens', () => expect(cases.length).toBeGreaterThan(20));

  for (const isa of isas) {
    it(`reach every algorithm of every pass (${isa})`, () => {
      setSimd(isa);
      const reached = {
        forward: new Set<string>(),
        inputGrad: new Set<string>(),
        weightGrad: new Set<string>(),
      };
      for (const c of cases) {
        const plan = planOf(c);
        reached.forward.add(plan.forward);
        reached.inputGrad.add(plan.inputGrad);
        reached.weightGrad.add(plan.weightGrad);
      }
      for (const pass of ['forward', 'inputGrad', 'weightGrad'] as const)
        expect([...reached[pass]].sort(), `${pass} (${isa})`).toEqual([...ALL].sort());
    });

    for (const threads of [1, 2]) {
      it(`match PyTorch's outputs and gradients (${isa}, ${threads} thread(s))`, () => {
        setSimd(isa);
        setNumThreads(threads);
        for (const c of cases) check(c);
      });
    }
  }
});

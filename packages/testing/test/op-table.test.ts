/**
 * The op table runner and gradcheck must fail on a wrong or NaN-producing op. The checks are called
 * directly and expected to throw, so no failing vitest test is registered.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  checkOpCase,
  checkOpGradients,
  type GoldenTensor,
  goldenTensor,
  loadGolden,
  nonContiguousTensor,
  type OpCase,
  type OpTable,
  opsWithoutGoldens,
} from '@dlf/testing';
import { abs, add, log, mul, saveSafetensorsSync, sqrt, sub, tensor } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

const entry = (shape: number[], data: number[]): GoldenTensor => ({ shape, data });

/** The golden case PyTorch would store for a unary op at `x` with upstream 1: f(x) and f'(x). */
const unaryCase = (
  op: string,
  x: GoldenTensor,
  f: (v: number) => number,
  df: (v: number) => number,
): OpCase => ({
  name: `${op}/test`,
  op,
  inputs: [x],
  attrs: {},
  output: entry(x.shape, x.data.map(f)),
  upstream: entry(
    x.shape,
    x.data.map(() => 1),
  ),
  grads: [entry(x.shape, x.data.map(df))],
});

const logCase = unaryCase('log', entry([2, 3], [0.5, 1, 2, 1.5, 0.75, 1.25]), Math.log, (v) => 1 / v);
// |x| at a 0, where PyTorch's gradient is sign(0) = 0.
const absCase = unaryCase('abs', entry([2, 3], [0.5, -1, 0, 1.5, -0.75, 1.25]), Math.abs, Math.sign);

const good: OpTable = { log: ([a]) => log(a!), abs: ([a]) => abs(a!) };
// Deliberately broken ops. NaN in the output: log x, plus 0 · log(x - 0.6), which is NaN where
// x < 0.6 (index 0) and 0 elsewhere. NaN only in the gradient: |x| as sqrt(x·x), whose derivative
// x / sqrt(x·x) is 0/0 at 0. A finite but wrong gradient: log x detached, plus x - x (gradient 0).
const nanOutput: OpTable = { log: ([a]) => add(log(a!), mul(log(sub(a!, 0.6)), 0)) };
const nanGradient: OpTable = { abs: ([a]) => sqrt(mul(a!, a!)) };
const wrongGradient: OpTable = { log: ([a]) => add(log(a!).detach(), sub(a!, a!)) };
const noGradient: OpTable = { log: ([a]) => log(a!).detach() };

describe('op table runner', () => {
  it('passes a correct op, contiguous and not, and its gradcheck', () => {
    checkOpCase(good, logCase, 'contiguous');
    checkOpCase(good, logCase, 'non-contiguous');
    checkOpGradients(good, logCase);
  });

  it('fails a NaN-producing op on the forward comparison and on gradcheck', () => {
    expect(() => checkOpCase(nanOutput, logCase)).toThrow(/log\/test: forward: 1 of 6 elements differ/);
    expect(() => checkOpCase(nanOutput, logCase)).toThrow(/index 0 \[0, 0\]: actual NaN/);
    expect(() => checkOpCase(nanOutput, logCase, 'non-contiguous')).toThrow(/actual NaN/);
    expect(() => checkOpGradients(nanOutput, logCase)).toThrow(/gradcheck failed: output element 0 is NaN/);
  });

  it('fails an op whose forward is right but whose gradient is NaN', () => {
    checkOpCase(good, absCase); // the golden itself is consistent
    expect(() => checkOpCase(nanGradient, absCase)).toThrow(
      /abs\/test: gradient of input 0: 1 of 6 elements differ .* index 2 \[0, 2\]: actual NaN, expected 0/,
    );
    expect(() => checkOpGradients(nanGradient, absCase)).toThrow(
      /gradcheck failed: gradient of input 0 at element 2/,
    );
  });

  it('fails a wrong gradient, a lost gradient and a case whose op is not in the table', () => {
    expect(() => checkOpCase(wrongGradient, logCase)).toThrow(/gradient of input 0: 6 of 6 elements differ/);
    expect(() => checkOpGradients(wrongGradient, logCase)).toThrow(
      /input 0 at element 0: analytic 0, numeric -?\d/,
    );
    expect(() => checkOpCase(noGradient, logCase)).toThrow(/output does not require grad/);
    expect(() => checkOpCase(good, { ...logCase, op: 'exp' })).toThrow(/no entry 'exp'/);
  });

  it('lists exported ops without a golden case and refuses a stale allow-list', () => {
    const module = { add: () => 0, gelu: () => 0, pair: () => 0, Size: 3 };
    expect(opsWithoutGoldens(module, ['pair'], [{ ...logCase, op: 'add' }])).toEqual(['gelu']);
    expect(opsWithoutGoldens(module, ['pair', 'gelu'], [{ ...logCase, op: 'add' }])).toEqual([]);
    expect(() => opsWithoutGoldens(module, ['normalizeAxis'], [])).toThrow(/normalizeAxis/);
  });
});

describe('golden files and tensors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dlf-testing-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const testFile = pathToFileURL(join(dir, 'some.test.ts'));
  mkdirSync(join(dir, 'goldens'));

  it('loads goldens/<file> next to the test file, JSON or safetensors', () => {
    writeFileSync(join(dir, 'goldens', 'cases.json'), JSON.stringify({ cases: [logCase] }));
    expect(loadGolden<{ cases: OpCase[] }>(testFile, 'cases.json').cases[0]!.name).toBe('log/test');
    saveSafetensorsSync(join(dir, 'goldens', 'w.safetensors'), new Map([['w', tensor([1, 2, 3])]]), {
      torch: '1.13',
    });
    const st = loadGolden(testFile, 'w.safetensors');
    expect(st.tensors.get('w')!.toArray()).toEqual([1, 2, 3]);
    expect(st.metadata['torch']).toBe('1.13');
    expect(() => loadGolden(testFile, 'w.npy' as 'w.json')).toThrow(/\.json or \.safetensors/);
  });

  it('makes float32 tensors from golden entries, contiguous or as a strided view', () => {
    const d = entry(
      [2, 2, 3],
      [...Array(12).keys()].map((i) => i / 4),
    );
    const a = goldenTensor(d);
    const b = nonContiguousTensor(d);
    expect(a.dtype).toBe('float32');
    expect(a.isContiguous).toBe(true);
    expect(b.isContiguous).toBe(false);
    expect(b.shape).toEqual([2, 2, 3]);
    expect(b.toArray()).toEqual(a.toArray());
    expect(() => nonContiguousTensor(entry([3], [1, 2, 3]))).toThrow(/rank >= 2/);
  });
});

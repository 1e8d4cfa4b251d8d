import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFile } from '@dlf/nn';
import { cleanup, isolateCache, makeShapes, runCli, tempDir } from './helpers.js';

let dir: string;
let data: string;
beforeAll(async () => {
  dir = tempDir();
  isolateCache(dir);
  data = await makeShapes(join(dir, 'shapes'), { train: 8, test: 4 });
});
afterAll(() => cleanup(dir));

describe('presets, graph descriptions and recipes on the command line', () => {
  it('dlf summary <preset> reports the zoo models per node', async () => {
    const r = await runCli(['summary', 'resnet20', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      totalParams: number;
      rows: { name: string }[];
    };
    expect(doc.totalParams).toBe(272474);
    expect(doc.rows.map((row) => row.name)).toContain('s2b0_add: Add');
    const human = await runCli(['summary', 'fast-cifar']);
    expect(human.stdout).toMatch(/s1_add: Add/);
  });

  it('dlf summary <graph.json> names the node of a hostile description', async () => {
    const file = join(dir, 'cycle.json');
    const nodes = [
      { name: 'a', op: 'ReLU', inputs: ['b'] },
      { name: 'b', op: 'ReLU', inputs: ['a'] },
    ];
    writeFileSync(file, JSON.stringify({ format: 'dlf.graph', version: 1, nodes, output: 'b' }));
    const r = await runCli(['summary', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/node '(a|b)' \(ReLU\) is part of a cycle/);
  });

  it('dlf train --model <preset> trains a zoo graph model with a recipe and writes a graph model file', async () => {
    const out = join(dir, 'run');
    const r = await runCli([
      'train',
      data,
      '--recipe',
      'cifar10-fast',
      '--model',
      'resnet8',
      '--size',
      '16',
      '--epochs',
      '1',
      '--batch-size',
      '8',
      '--out',
      out,
      '--threads',
      '1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toMatch(
      /recipe cifar10-fast, label smoothing 0.2, flip test-time augmentation/,
    );
    const { model, info } = await readModelFile(join(out, 'model.safetensors'));
    expect(model.toJSON().format).toBe('dlf.graph');
    expect(info.inputShape).toEqual([3, 16, 16]);
    model.dispose();
  });

  it('dlf train --help lists each recipe with what it sets; bad values are usage errors', async () => {
    const help = await runCli(['train', '--help']);
    expect(help.stdout).toMatch(/--recipe <name>/);
    expect(help.stdout).toMatch(/cifar10-fast: fast-cifar model, 10 epochs, batch 256, SGD Nesterov/);
    const bad = await runCli(['train', '--recipe', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--recipe/);
    const both = await runCli(['train', '--tta', '--no-tta']);
    expect(both.code).toBe(2);
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, runCli, tempDir } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir();
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

  it('dlf train --help lists each recipe with what it sets; bad values are usage errors', async () => {
    const help = await runCli(['train', '--help']);
    expect(help.stdout).toMatch(/--recipe <name>/);
    expect(help.stdout).toMatch(/cifar10-fast: fast-cifar model, 16 epochs, batch 256, SGD Nesterov/);
    const bad = await runCli(['train', '--recipe', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--recipe/);
    const both = await runCli(['train', '--tta', '--no-tta']);
    expect(both.code).toBe(2);
  });
});

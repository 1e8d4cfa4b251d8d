import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFile } from '@dlf/nn';
import { cleanup, isolateCache, jsonLines, makeShapes, runCli, tempDir } from './helpers.js';

let dir: string;
let data: string;
beforeAll(async () => {
  dir = tempDir();
  isolateCache(dir);
  data = await makeShapes(join(dir, 'shapes'), { train: 8, test: 4 });
});
afterAll(() => cleanup(dir));

/** `dlf train` of resnet8 with the cifar10-fast recipe on the 16×16 shapes, batch 8, one thread. */
const trainResnet8 = (out: string, epochs: number, extra: string[]) =>
  runCli([
    ...['train', data, '--recipe', 'cifar10-fast', '--model', 'resnet8', '--size', '16'],
    ...['--epochs', String(epochs), '--batch-size', '8', '--out', out, '--threads', '1', ...extra],
  ]);

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
    expect(human.stdout).toMatch(/b2_conv2_conv: Conv2d/);
    expect(human.stdout).toMatch(/scale: Scale/);
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

  it('dlf train --model <preset> trains a zoo graph model with a recipe and --ema; dlf evaluate --tta matches its test result', async () => {
    const out = join(dir, 'run');
    const r = await trainResnet8(out, 1, ['--ema', '0.9', '--tta']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toMatch(
      /recipe cifar10-fast, label smoothing 0.2, flip test-time augmentation, weight average \(EMA decay 0.9\)/,
    );
    expect(existsSync(join(out, 'ckpt-e0001', 'ema.safetensors'))).toBe(true);
    const modelFile = join(out, 'model.safetensors');
    const { model, info } = await readModelFile(modelFile);
    expect(model.toJSON().format).toBe('dlf.graph');
    expect(info.inputShape).toEqual([3, 16, 16]);
    model.dispose();

    // The recipe evaluated the test set with flip TTA; dlf evaluate --tta computes the same.
    const final = jsonLines(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).find(
      (e) => e.type === 'final',
    )!;
    const withTta = await runCli(['evaluate', data, modelFile, '--tta', '--json', '--threads', '1']);
    expect(withTta.code, withTta.stderr).toBe(0);
    const doc = JSON.parse(withTta.stdout) as { tta: boolean; accuracy: number; loss: number };
    expect(doc.tta).toBe(true);
    expect(doc.accuracy).toBe(final.testAccuracy);
    expect(doc.loss).toBe(final.testLoss);
    const plain = JSON.parse((await runCli(['evaluate', data, modelFile, '--json'])).stdout) as typeof doc;
    expect(plain.tta).toBe(false);
    expect(plain.loss).not.toBe(doc.loss);
    const human = await runCli(['evaluate', data, modelFile, '--tta', '--no-color']);
    expect(human.stdout).toMatch(/\(test, 12 images, flip test-time augmentation\)/);
  });

  it('dlf train --lookahead --tta-translate keeps the slow weights in checkpoints; dlf evaluate --tta-translate matches the test result', async () => {
    const out = join(dir, 'run-lookahead');
    const r = await trainResnet8(out, 2, ['--lookahead', '--tta-translate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toMatch(
      /label smoothing 0.2, flip and translate test-time augmentation, lookahead weight averaging/,
    );
    // 24 images in batches of 8: the slow copy is taken at step 5 (in the second epoch).
    expect(existsSync(join(out, 'ckpt-e0001', 'ema.safetensors'))).toBe(false);
    expect(existsSync(join(out, 'ckpt-e0002', 'ema.safetensors'))).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ lookahead: true, tta: 'flip-translate' });
    const final = jsonLines(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).find(
      (e) => e.type === 'final',
    )!;
    const modelFile = join(out, 'model.safetensors');
    const ev = await runCli(['evaluate', data, modelFile, '--tta-translate', '--json', '--threads', '1']);
    expect(ev.code, ev.stderr).toBe(0);
    const doc = JSON.parse(ev.stdout) as { tta: unknown; accuracy: number; loss: number };
    expect(doc.tta).toBe('flip-translate');
    expect(doc.accuracy).toBe(final.testAccuracy);
    expect(doc.loss).toBe(final.testLoss);
    const flip = JSON.parse(
      (await runCli(['evaluate', data, modelFile, '--tta', '--json'])).stdout,
    ) as typeof doc;
    expect(flip.loss).not.toBe(doc.loss);
    const human = await runCli(['evaluate', data, modelFile, '--tta-translate', '--no-color']);
    expect(human.stdout).toMatch(/\(test, 12 images, flip and translate test-time augmentation\)/);
  });

  it('dlf train --help lists each recipe with what it sets; bad values are usage errors', async () => {
    const help = await runCli(['train', '--help']);
    expect(help.stdout).toMatch(/--recipe <name>/);
    expect(help.stdout).toMatch(/cifar10-fast: fast-cifar model, \d+ epochs, batch \d+, SGD Nesterov/);
    const bad = await runCli(['train', '--recipe', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--recipe/);
    const both = await runCli(['train', '--tta', '--no-tta']);
    expect(both.code).toBe(2);
    expect(help.stdout).toMatch(/--ema <decay>/);
    expect(help.stdout).toMatch(/--tta-translate {10}test-time augmentation after airbench/);
    expect(help.stdout).toMatch(/--lookahead, --no-lookahead {2}lookahead weight averaging after airbench/);
    expect(help.stdout).toMatch(/rho = 0\.95\^5/);
    const evaluateHelp = await runCli(['evaluate', '--help']);
    expect(evaluateHelp.stdout).toMatch(/--tta-translate {7}flip and translate test-time augmentation/);
    // Checked before any data is read: the folder does not exist, yet the flag is what is reported.
    for (const value of ['1', '-0.1', 'x']) {
      const ema = await runCli(['train', join(dir, 'missing'), '--ema', value]);
      expect(ema.code).toBe(2);
      expect(ema.stderr).toMatch(/Expected a number in \[0, 1\) for --ema but received/);
    }
    expect(help.stdout).toMatch(/--bn-lr-scale <k>/);
    const crop = await runCli(['train', join(dir, 'missing'), '--crop-padding', '-1']);
    expect(crop.code).toBe(2);
    expect(crop.stderr).toMatch(/--crop-padding/);
    for (const value of ['0', '-2', 'x']) {
      const scale = await runCli(['train', join(dir, 'missing'), '--bn-lr-scale', value]);
      expect(scale.code).toBe(2);
      expect(scale.stderr).toMatch(/for --bn-lr-scale but received/);
    }
  });
});

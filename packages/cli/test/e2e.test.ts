import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFile } from '@dlf/nn';
import {
  cleanup,
  isolateCache,
  isPng,
  jsonLines,
  makeShapes,
  runCli,
  SHAPES,
  tempDir,
  writeTinyModel,
} from './helpers.js';

let dir: string;
let data: string;
let tiny: string;
let run: string;
let trainOut: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  dir = tempDir();
  isolateCache(dir);
  data = await makeShapes(join(dir, 'shapes'));
  tiny = writeTinyModel(dir);
  run = join(dir, 'run');
  trainOut = await runCli([
    'train',
    data,
    '--model',
    tiny,
    '--size',
    '16',
    '--epochs',
    '3',
    '--batch-size',
    '16',
    '--out',
    run,
    '--json',
    '--profile',
  ]);
});

afterAll(() => cleanup(dir));

describe('dlf train → evaluate → predict → summary on a generated image folder', () => {
  it('trains, prints JSON Lines ending with a done event, and writes the run folder', () => {
    expect(trainOut.code, trainOut.stderr).toBe(0);
    const events = jsonLines(trainOut.stdout);
    const kinds = events.map((e) => e.event);
    expect(kinds).toContain('summary');
    expect(kinds).toContain('data');
    expect(kinds).toContain('start');
    expect(kinds.filter((k) => k === 'epoch')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'checkpoint')).toHaveLength(3);
    const done = events[events.length - 1]!;
    expect(done.event).toBe('done');
    for (const k of ['trainAccuracy', 'testAccuracy'] as const) {
      expect(typeof done[k]).toBe('number');
      expect(done[k] as number).toBeGreaterThanOrEqual(0);
      expect(done[k] as number).toBeLessThanOrEqual(1);
    }
    expect(done.testAccuracy as number).toBeGreaterThan(0.6); // a learnable toy problem
    expect(done.model).toBe(join(run, 'model.safetensors'));
    const epoch = events.find((e) => e.event === 'epoch')!;
    const profile = epoch.profile as {
      layers: { name: string; ms: number }[];
      backwardMs: number;
      dataMs: number;
    };
    expect(profile.backwardMs).toBeGreaterThan(0);
    expect(profile.dataMs).toBeGreaterThan(0);
    // Every layer is timed once, fused groups under one name.
    const covered = profile.layers.flatMap((l) => l.name.split(': ')[1]!.split('+'));
    expect(covered).toEqual(['Conv2d', 'ReLU', 'MaxPool2d', 'Flatten', 'Dropout', 'Linear']);
    const summary = events.find((e) => e.event === 'summary')!;
    expect(summary.totalParams).toBe(883);
    expect(summary.totalMacs).toBe(28416);
    const dataEvent = events.find((e) => e.event === 'data')!;
    expect(dataEvent.batchMs).toBeGreaterThan(0);
    expect(dataEvent.classes).toEqual([...SHAPES]);
  });

  it('writes the model, checkpoints, metrics, plots and a self-contained report', async () => {
    for (const f of [
      'model.safetensors',
      'config.json',
      'metrics.jsonl',
      'summary.txt',
      'report.html',
      'last',
      'best',
    ]) {
      expect(existsSync(join(run, f)), f).toBe(true);
    }
    for (const f of ['loss.png', 'accuracy.png', 'confusion.png']) expect(isPng(join(run, f)), f).toBe(true);
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'state.json']) {
      expect(existsSync(join(run, 'ckpt-e0003', f)), f).toBe(true);
    }
    expect(readFileSync(join(run, 'last'), 'utf8').trim()).toBe('ckpt-e0003');
    const metrics = jsonLines(readFileSync(join(run, 'metrics.jsonl'), 'utf8'));
    expect(metrics.filter((m) => m.type === 'epoch')).toHaveLength(3);
    expect(metrics.filter((m) => m.type === 'step').length).toBeGreaterThan(0);
    expect(metrics[metrics.length - 1]!.type).toBe('final');
    const html = readFileSync(join(run, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain('Confusion matrix');
    expect(html).toContain('Profile');
    expect(html).not.toMatch(/(src|href)=['"]?(https?:)?\/\//); // nothing external
    const { info } = await readModelFile(join(run, 'model.safetensors'));
    expect(info.classes).toEqual([...SHAPES]);
    expect(info.inputShape).toEqual([3, 16, 16]);
    expect(info.preprocess.mean).toHaveLength(3);
    expect(info.metadata['dlf.architecture']).toContain('dlf.sequential');
  });

  it('evaluates: accuracy, loss, per-class metrics, confusion matrix (printed, JSON and PNG)', async () => {
    const runPlotTime = statSync(join(run, 'confusion.png')).mtimeMs;
    const human = await runCli(['evaluate', data, join(run, 'model.safetensors'), '--no-color']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/accuracy \d+\.\d\d %/);
    expect(human.stdout).toContain('precision');
    expect(human.stdout).toContain('Confusion matrix');
    const r = await runCli(['evaluate', data, join(run, 'model.safetensors'), '--json']);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(o.accuracy as number).toBeGreaterThanOrEqual(0);
    expect(o.accuracy as number).toBeLessThanOrEqual(1);
    expect(typeof o.loss).toBe('number');
    expect(o.perClass as unknown[]).toHaveLength(3);
    const confusion = o.confusion as number[][];
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(18);
    // Nothing beside the model: the run's own confusion.png is untouched; --plot draws elsewhere.
    expect(statSync(join(run, 'confusion.png')).mtimeMs).toBe(runPlotTime);
    const plotted = join(dir, 'eval-confusion.png');
    expect(
      (await runCli(['evaluate', data, join(run, 'model.safetensors'), '--plot', plotted, '-q'])).code,
    ).toBe(0);
    expect(isPng(plotted)).toBe(true);
    // The same numbers as the training run's final test evaluation.
    const done = jsonLines(trainOut.stdout).at(-1)!;
    expect(o.accuracy).toBe(done.testAccuracy);
  });

  it('predicts class names with probabilities', async () => {
    const img = join(data, 'test', 'cross', '000.png');
    const r = await runCli(['predict', join(run, 'model.safetensors'), img, '--top', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as {
      predictions: { image: string; top: { class: string; probability: number }[] }[];
    };
    expect(o.predictions[0]!.image).toBe(img);
    expect(o.predictions[0]!.top).toHaveLength(2);
    expect(SHAPES).toContain(o.predictions[0]!.top[0]!.class);
    expect(o.predictions[0]!.top[0]!.probability).toBeGreaterThanOrEqual(
      o.predictions[0]!.top[1]!.probability,
    );
    const human = await runCli(['predict', join(run, 'model.safetensors'), img, '--no-color']);
    expect(human.stdout).toMatch(/(circle|cross|square) \d+\.\d %/);
  });

  it('summarises model files and presets', async () => {
    const r = await runCli(['summary', join(run, 'model.safetensors')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Total');
    expect(r.stdout).toContain('28,416');
    const preset = await runCli(['summary', 'seed-cnn', '--json']);
    const s = JSON.parse(preset.stdout) as { totalParams: number; totalMacs: number; totalFlops: number };
    expect(s.totalParams).toBe(134466);
    expect(s.totalMacs).toBe(1238272);
    expect(s.totalFlops).toBe(2 * 1238272);
    const mnist = await runCli(['summary', 'seed-cnn', '--input', '1x28x28', '--classes', '10']);
    expect(mnist.stdout).toContain('103,602');
  });

  it('exports a dataset as an image folder that trains again', async () => {
    const out = join(dir, 'exported');
    const r = await runCli(['export', data, out, '--size', '16', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as { files: number };
    expect(o.files).toBe(78);
    expect(existsSync(join(out, 'train', 'cross'))).toBe(true);
    const again = await runCli(['export', data, out, '--size', '16']);
    // Refused before the data loads: a usage error that names --overwrite.
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists and is not empty; add --overwrite to replace it\./);
  });
});

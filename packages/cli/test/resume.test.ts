import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, type TrainConfig, type TrainEvent, train } from '@dlf/train';
import { cleanup, jsonLines, runCli, shapesFixture } from './helpers.js';

let dir: string, data: string, tiny: string;
beforeAll(async () => {
  ({ dir, data, tiny } = await shapesFixture({ train: 30, test: 6 }));
});
afterAll(() => cleanup(dir));

const bytes = (run: string): Buffer => readFileSync(join(run, 'model.safetensors'));

function config(extra: Partial<TrainConfig> = {}): Partial<TrainConfig> {
  return { data, model: tiny, size: 16, batchSize: 8, epochs: 4, seed: 3, ...extra };
}

async function interrupted(
  out: string,
  stopAt: (e: TrainEvent) => boolean,
  extra: Partial<TrainConfig> = {},
) {
  const ac = new AbortController();
  const err = await train(config(extra), {
    out,
    threads: 1,
    signal: ac.signal,
    onEvent: (e) => {
      if (stopAt(e)) ac.abort();
    },
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AbortError);
  return err as AbortError;
}

describe('resume', () => {
  let reference: string;
  beforeAll(async () => {
    reference = join(dir, 'reference');
    await train(config(), { out: reference, threads: 1 });
  });

  it('is deterministic: two uninterrupted runs with one seed give the same bytes', async () => {
    const again = join(dir, 'again');
    await train(config(), { out: again, threads: 1 });
    expect(bytes(again).equals(bytes(reference))).toBe(true);
  });

  it('after an interruption at an epoch boundary (2 + 2 epochs) ends with the uninterrupted weights', async () => {
    const run = join(dir, 'boundary');
    const err = await interrupted(run, (e) => e.type === 'epoch' && e.record.epoch === 2);
    expect(err.checkpoint).toBe(join(run, 'ckpt-e0002'));
    expect(existsSync(join(run, 'model.safetensors'))).toBe(false);
    const r = await train({}, { resume: run, threads: 1 });
    expect(r.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(bytes(run).equals(bytes(reference))).toBe(true);
    // metrics.jsonl holds each epoch once
    const epochs = jsonLines(readFileSync(join(run, 'metrics.jsonl'), 'utf8')).filter(
      (m) => m.type === 'epoch',
    );
    expect(epochs.map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
  });

  it('after an interruption in the middle of an epoch ends with the uninterrupted weights', async () => {
    const run = join(dir, 'middle');
    const err = await interrupted(run, (e) => e.type === 'batch' && e.epoch === 2 && e.batch === 5);
    expect(err.checkpoint).toBe(join(run, 'ckpt-e0001-b000005'));
    const r = await train({}, { resume: run, threads: 1 });
    expect(bytes(run).equals(bytes(reference))).toBe(true);
    const ref = JSON.parse(readFileSync(join(reference, 'ckpt-e0004', 'state.json'), 'utf8'));
    expect(r.history.map((h) => h.trainLoss)).toEqual(
      ref.trainer.history.map((h: { trainLoss: number }) => h.trainLoss),
    );
  });

  it('twice (interrupted again after resuming) still ends with the uninterrupted weights', async () => {
    const run = join(dir, 'twice');
    await interrupted(run, (e) => e.type === 'batch' && e.epoch === 1 && e.batch === 3);
    const ac = new AbortController();
    await expect(
      train(
        {},
        {
          resume: run,
          threads: 1,
          signal: ac.signal,
          onEvent: (e) => e.type === 'batch' && e.epoch === 3 && e.batch === 2 && ac.abort(),
        },
      ),
    ).rejects.toBeInstanceOf(AbortError);
    await train({}, { resume: run, threads: 1 });
    expect(bytes(run).equals(bytes(reference))).toBe(true);
  });

  it('after a crash while the epoch-3 checkpoint was being written, resumes from epoch 2 and still matches', async () => {
    const run = join(dir, 'crash');
    let n = 0;
    await expect(
      train(config(), {
        out: run,
        threads: 1,
        hooks: {
          afterFile: (f) => {
            if (f === 'optimizer.safetensors' && ++n === 3) throw new Error('simulated power cut');
          },
        },
      }),
    ).rejects.toThrow('simulated power cut');
    expect(readFileSync(join(run, 'last'), 'utf8').trim()).toBe('ckpt-e0002');
    const r = await train({}, { resume: run, threads: 1 });
    expect(r.history).toHaveLength(4);
    expect(bytes(run).equals(bytes(reference))).toBe(true);
  });

  it('an interruption during the final evaluation points at the last checkpoint; resume finishes the run', async () => {
    const run = join(dir, 'final');
    const err = await interrupted(run, (e) => e.type === 'finalEvaluation');
    expect(err.checkpoint).toBe(join(run, 'ckpt-e0004'));
    const r = await train({}, { resume: run, threads: 1 });
    expect(r.history).toHaveLength(4);
    expect(bytes(run).equals(bytes(reference))).toBe(true);
  });

  it('with Adam and a step schedule too', async () => {
    const extra: Partial<TrainConfig> = { optimizer: 'adamw', schedule: 'step', augment: ['crop', 'flip'] };
    const ref = join(dir, 'adam-ref');
    await train(config(extra), { out: ref, threads: 1 });
    const run = join(dir, 'adam');
    await interrupted(run, (e) => e.type === 'batch' && e.epoch === 3 && e.batch === 4, extra);
    await train({}, { resume: run, threads: 1 });
    expect(bytes(run).equals(bytes(ref))).toBe(true);
  });

  it('--epochs 2 then --resume --epochs 4 (constant schedule) equals --epochs 4', async () => {
    const ref = join(dir, 'const-ref');
    const a = await runCli([
      'train',
      data,
      '--model',
      tiny,
      '--size',
      '16',
      '--batch-size',
      '8',
      '--seed',
      '3',
      '--schedule',
      'constant',
      '--epochs',
      '4',
      '--threads',
      '1',
      '--out',
      ref,
      '--quiet',
    ]);
    expect(a.code, a.stderr).toBe(0);
    const run = join(dir, 'const');
    const b = await runCli([
      'train',
      data,
      '--model',
      tiny,
      '--size',
      '16',
      '--batch-size',
      '8',
      '--seed',
      '3',
      '--schedule',
      'constant',
      '--epochs',
      '2',
      '--threads',
      '1',
      '--out',
      run,
      '--quiet',
    ]);
    expect(b.code, b.stderr).toBe(0);
    const c = await runCli(['train', '--resume', run, '--epochs', '4', '--threads', '1', '--quiet']);
    expect(c.code, c.stderr).toBe(0);
    expect(bytes(run).equals(bytes(ref))).toBe(true);
  });

  it('refuses settings that differ from the run being resumed (exit 2)', async () => {
    const r = await runCli(['train', '--resume', join(dir, 'reference'), '--lr', '0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--lr .* differs from the run being resumed/);
    const missing = await runCli(['train', '--resume', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: The run folder .*nope does not exist; check --resume\.$/m);
  });
});

describe('Ctrl-C', () => {
  const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

  it('in the dlf process writes a checkpoint and exits 130; --resume then matches an uninterrupted run', async () => {
    expect(existsSync(bin), 'build @dlf/cli first (pnpm run build)').toBe(true);
    const args = [
      'train',
      data,
      '--model',
      tiny,
      '--size',
      '16',
      '--batch-size',
      '4',
      '--epochs',
      '40', // long enough (about a second) that the signal arrives mid-run even on a slow machine
      '--seed',
      '5',
      '--threads',
      '1',
    ];
    const ref = join(dir, 'sigint-ref');
    const a = await runCli([...args, '--out', ref, '--quiet']);
    expect(a.code, a.stderr).toBe(0);

    const run = join(dir, 'sigint');
    const child = spawn(process.execPath, [bin, ...args, '--out', run, '--json'], {
      env: { ...process.env, DLF_CACHE_DIR: process.env.DLF_CACHE_DIR },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let sent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!sent && stdout.includes('"event":"step"')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    expect(code, stderr).toBe(130);
    const events = jsonLines(stdout);
    const last = events.at(-1)!;
    expect(last.event).toBe('interrupted');
    expect(typeof last.checkpoint).toBe('string');
    expect(existsSync(join(last.checkpoint as string, 'state.json'))).toBe(true);
    expect(stderr).toMatch(/continue with: dlf train --resume/);

    const r = await runCli(['train', '--resume', run, '--threads', '1', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(bytes(run).equals(bytes(ref))).toBe(true);
  });
});

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seedCnn, Sequential, Linear } from '@dlf/nn';
import { tensor } from '@dlf/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CheckpointState,
  cleanTemporary,
  disposeCheckpoint,
  findResumeCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readPointer,
  rotateCheckpoints,
  setPointer,
  writeCheckpoint,
} from '../src/checkpoint.js';
import { FileError } from '../src/errors.js';
import { train } from '../src/train.js';
import { cleanup, isolateCache, makeShapes, tempDir, writeTinyModel } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir();
  isolateCache(dir);
});
afterAll(() => cleanup(dir));

function state(epoch: number): CheckpointState {
  return {
    format: 'dlf.checkpoint',
    version: 1,
    dlfVersion: 'test',
    epoch,
    batch: 0,
    step: epoch * 10,
    epochs: 5,
    threads: 1,
    generator: { seed: 0, offset: 0 },
    schedule: {},
    optimizer: { name: 'sgd' },
    trainer: {},
    config: {},
    configHash: 'x',
    createdAt: new Date(0).toISOString(),
  };
}

function content(model: Sequential, epoch: number) {
  return {
    model: model.stateDict(),
    modelMetadata: { note: `epoch ${epoch}` },
    optimizer: {
      tensors: new Map([['momentum_buffer.0.weight', tensor([epoch, epoch], { shape: [1, 2] })]]),
      meta: { name: 'sgd', epoch },
    },
    state: state(epoch),
  };
}

describe('atomic checkpoints', () => {
  it('a crash in the middle of writing a checkpoint leaves the previous one loadable and pointed to', async () => {
    const run = join(dir, 'crash');
    const model = new Sequential(new Linear(2, 1));
    await writeCheckpoint(run, 'ckpt-e0001', content(model, 1));
    await setPointer(run, 'last', 'ckpt-e0001');
    // The second write "crashes" after its model file: the process dies before the rename.
    await expect(
      writeCheckpoint(run, 'ckpt-e0002', content(model, 2), {
        afterFile: (f) => {
          if (f === 'model.safetensors') throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    // Debris of the interrupted write is there, under a temporary name only.
    expect(readdirSync(run).some((n) => n.startsWith('.tmp-ckpt-e0002'))).toBe(true);
    expect(existsSync(join(run, 'ckpt-e0002'))).toBe(false);
    expect(readPointer(run, 'last')).toBe('ckpt-e0001');
    expect(listCheckpoints(run)).toEqual(['ckpt-e0001']);
    const c = await findResumeCheckpoint(run);
    expect(c?.name).toBe('ckpt-e0001');
    expect(c?.state.epoch).toBe(1);
    expect(c?.optimizer.meta.epoch).toBe(1);
    expect([...c!.model.keys()].sort()).toEqual(['0.bias', '0.weight']);
    disposeCheckpoint(c!);
    await cleanTemporary(run);
    expect(readdirSync(run).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    model.dispose();
  });

  it('a crash while replacing the last pointer leaves the old pointer; a half-written pointer temp file is ignored', async () => {
    const run = join(dir, 'pointer');
    const model = new Sequential(new Linear(2, 1));
    await writeCheckpoint(run, 'ckpt-e0001', content(model, 1));
    await setPointer(run, 'last', 'ckpt-e0001');
    writeFileSync(join(run, '.tmp-last-123-abcd'), 'ckpt-e00'); // died mid-write
    expect(readPointer(run, 'last')).toBe('ckpt-e0001');
    expect((await findResumeCheckpoint(run))?.name).toBe('ckpt-e0001');
    model.dispose();
  });

  it('falls back to the newest readable checkpoint when last points to a damaged one', async () => {
    const run = join(dir, 'damaged');
    const model = new Sequential(new Linear(2, 1));
    await writeCheckpoint(run, 'ckpt-e0001', content(model, 1));
    await writeCheckpoint(run, 'ckpt-e0002', content(model, 2));
    await setPointer(run, 'last', 'ckpt-e0002');
    const f = join(run, 'ckpt-e0002', 'model.safetensors');
    writeFileSync(f, readFileSync(f).subarray(0, 20)); // truncated by a disk problem
    await expect(loadCheckpoint(join(run, 'ckpt-e0002'))).rejects.toBeInstanceOf(FileError);
    const c = await findResumeCheckpoint(run);
    expect(c?.name).toBe('ckpt-e0001');
    disposeCheckpoint(c!);
    model.dispose();
  });

  it('rotation keeps the newest N and the best', async () => {
    const run = join(dir, 'rotate');
    for (const e of [1, 2, 3, 4, 5]) mkdirSync(join(run, `ckpt-e000${e}`), { recursive: true });
    mkdirSync(join(run, 'ckpt-e0003-b000010'));
    await rotateCheckpoints(run, 2, ['ckpt-e0002']);
    expect(listCheckpoints(run)).toEqual(['ckpt-e0002', 'ckpt-e0004', 'ckpt-e0005']);
  });

  it('training keeps --keep checkpoints plus best, and best/last pointers', async () => {
    const data = await makeShapes(join(dir, 'shapes'), { train: 6, test: 2 });
    const tiny = writeTinyModel(dir);
    const run = join(dir, 'keep');
    await train({ data, model: tiny, size: 16, epochs: 4, valSplit: 0 }, { out: run, keep: 1 });
    const left = listCheckpoints(run);
    expect(left).toContain('ckpt-e0004');
    expect(left).toContain(readPointer(run, 'best'));
    expect(left.length).toBeLessThanOrEqual(2);
    expect(readPointer(run, 'last')).toBe('ckpt-e0004');
    // A checkpoint's model file is a complete model file.
    const c = await loadCheckpoint(join(run, 'ckpt-e0004'));
    expect(c.modelMetadata['dlf.architecture']).toBeDefined();
    expect(c.modelMetadata['dlf.classes']).toBeDefined();
    disposeCheckpoint(c);
  });

  it('seed-cnn state round-trips through a checkpoint', async () => {
    const run = join(dir, 'seed');
    const model = seedCnn({ classes: 10 });
    await writeCheckpoint(run, 'ckpt-e0001', content(model, 1));
    const c = await loadCheckpoint(join(run, 'ckpt-e0001'));
    const other = seedCnn({ classes: 10, seed: 9 });
    other.loadStateDict(c.model);
    for (const [k, t] of model.stateDict()) {
      expect(
        Buffer.from((t.toTypedArray() as Float32Array).buffer).equals(
          Buffer.from((other.stateDict().get(k)!.toTypedArray() as Float32Array).buffer),
        ),
      ).toBe(true);
    }
    disposeCheckpoint(c);
    model.dispose();
    other.dispose();
  });
});

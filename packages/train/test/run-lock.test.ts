/**
 * Issue 16, cases 2, 3 and 6: one trainer per run folder, metrics write failures as one clear
 * error (never an unhandled rejection), results written before plots.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FileError, loadRunConfig, resolveConfig, type TrainConfig, train, UsageError } from '@dlf/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, isolateCache, makeShapes, tempDir, writeTinyModel } from './helpers.js';

let dir: string;
let data: string;
let tiny: string;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => {
  unhandled.push(e);
};

beforeAll(async () => {
  dir = tempDir('dlf-lock-');
  isolateCache(dir);
  data = await makeShapes(join(dir, 'shapes'), { train: 12, test: 3 });
  tiny = writeTinyModel(dir);
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  cleanup(dir);
});

function config(extra: Partial<TrainConfig> = {}): Partial<TrainConfig> {
  return { data, model: tiny, size: 16, batchSize: 8, epochs: 2, seed: 3, ...extra };
}

describe('the run-folder lock', () => {
  it('two trainers started together against one folder: exactly one proceeds', async () => {
    const out = join(dir, 'together');
    const results = await Promise.allSettled([
      train(config(), { out, threads: 1 }),
      train(config(), { out, threads: 1 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(UsageError);
    expect(lost.reason.message).toMatch(
      new RegExp(`${out} (is in use by process ${process.pid}|already holds a run)`),
    );
    expect(existsSync(join(out, '.lock'))).toBe(false); // released at the end
  });

  it('a resume while the run trains is refused, naming the process; the run finishes', async () => {
    const out = join(dir, 'busy');
    let resumed: Promise<unknown> | undefined;
    const first = train(config({ epochs: 3 }), {
      out,
      threads: 1,
      hooks: {
        // The first checkpoint waits until the resume attempt has been answered.
        afterFile: async () => {
          resumed ??= train({}, { resume: out, threads: 1 }).then(
            () => 'proceeded',
            (e: unknown) => e,
          );
          await resumed;
        },
      },
    });
    const r = await first;
    const err = await resumed;
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      `${out} is in use by process ${process.pid} on this host (train, since ${(err as Error).message.match(/since ([^)]+)\)/)![1]}); wait for it to finish, or delete ${join(out, '.lock')} if no process is using the folder.`,
    );
    expect(r.history).toHaveLength(3);
  });

  it('a stale lock (its process is gone) is taken over; a lock from another host is respected', async () => {
    const stale = join(dir, 'stale');
    mkdirSync(stale);
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
    writeFileSync(
      join(stale, '.lock'),
      JSON.stringify({ pid: dead, host: hostname(), since: 'x', purpose: 'train' }),
    );
    const r = await train(config({ epochs: 1 }), { out: stale, threads: 1 });
    expect(r.history).toHaveLength(1);

    const remote = join(dir, 'remote');
    mkdirSync(remote);
    writeFileSync(
      join(remote, '.lock'),
      JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x', purpose: 'train' }),
    );
    const e = await train(config({ epochs: 1 }), { out: remote, threads: 1 }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/is in use by process 1 on host elsewhere/);
  });

  it('a folder in use is refused before any data is read; a new folder is removed when the data fails', async () => {
    const busy = join(dir, 'in-use');
    mkdirSync(busy);
    writeFileSync(
      join(busy, '.lock'),
      JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x', purpose: 'train' }),
    );
    const missingData = join(dir, 'no-such-data');
    // The data does not exist: had it been opened first, that would be the error.
    for (const options of [{ out: busy }, { resume: busy }]) {
      const e = await train(config({ data: missingData, epochs: 1 }), options).catch((x: unknown) => x);
      expect(e, JSON.stringify(options)).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(
        /in-use is in use by process 1 on host elsewhere \(train, since x\)/,
      );
    }
    const fresh = join(dir, 'fresh');
    const e = await train(config({ data: missingData, epochs: 1 }), { out: fresh }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/does not exist/);
    expect(existsSync(fresh)).toBe(false);
  });

  it("a data-parallel run's other ranks read rank 0's locked run folder without refusing it", async () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    writeFileSync(join(shared, 'config.json'), JSON.stringify(resolveConfig(config({ epochs: 1 }))));
    writeFileSync(
      join(shared, '.lock'),
      JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x', purpose: 'train' }),
    );
    await expect(loadRunConfig(shared, {})).rejects.toThrow(
      /shared is in use by process 1 on host elsewhere/,
    );
    const loaded = await loadRunConfig(shared, { epochs: 3 }, { checkLock: false });
    expect(loaded.epochs).toBe(3);
    expect(loaded.model).toBe(tiny);
  });

  it('--out refuses a folder that is not a run but holds a model or a report', async () => {
    const mine = join(dir, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'model.safetensors'), 'precious');
    const e = await train(config({ epochs: 1 }), { out: mine, threads: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(
      `${mine} is not a run folder but holds model.safetensors, which a run would overwrite; choose another --out.`,
    );
    expect(readFileSync(join(mine, 'model.safetensors'), 'utf8')).toBe('precious');
  });
});

describe('metrics write failures', () => {
  it('metrics.jsonl replaced by a folder mid-run: one FileError naming it and the intact checkpoint', async () => {
    const out = join(dir, 'metrics-folder');
    let broken = false;
    const e = await train(config({ epochs: 2 }), {
      out,
      threads: 1,
      hooks: {
        afterFile: () => {
          if (broken) return;
          broken = true;
          rmSync(join(out, 'metrics.jsonl'));
          mkdirSync(join(out, 'metrics.jsonl'));
        },
      },
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileError);
    expect((e as FileError).path).toBe(join(out, 'metrics.jsonl'));
    expect((e as Error).message).toMatch(
      new RegExp(
        `^Cannot write ${join(out, 'metrics.jsonl')}: it is a folder, not a file \\(EISDIR\\); the last checkpoint ${join(out, 'ckpt-e0002')} is intact\\.$`,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
    expect(existsSync(join(out, '.lock'))).toBe(false);
  });
});

describe('results before plots', () => {
  it('a plot that cannot be drawn costs a warning; the model and report are written', async () => {
    const out = join(dir, 'plotless');
    // confusion.png as a folder: the plot cannot be written there.
    mkdirSync(join(out, 'confusion.png'), { recursive: true });
    const warnings: string[] = [];
    const r = await train(config({ epochs: 1 }), {
      out,
      threads: 1,
      onEvent: (ev) => {
        if (ev.type === 'warning') warnings.push(ev.message);
      },
    });
    expect(existsSync(r.modelPath)).toBe(true);
    expect(existsSync(r.reportPath)).toBe(true);
    expect(warnings.some((w) => w.startsWith(`Could not draw ${join(out, 'confusion.png')}`))).toBe(true);
  });
});

describe('resuming under other kernels', () => {
  it('a checkpoint written with another SIMD level warns on resume, as a thread-count change does', async () => {
    const out = join(dir, 'simd');
    const ac = new AbortController();
    await train(config({ epochs: 2 }), {
      out,
      threads: 1,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'epoch' && e.record.epoch === 1) ac.abort();
      },
    }).catch(() => {});
    const state = join(out, 'ckpt-e0001', 'state.json');
    const s = JSON.parse(readFileSync(state, 'utf8'));
    expect(typeof s.simd).toBe('string');
    const other = s.simd === 'base' ? 'avx2' : 'base';
    writeFileSync(state, JSON.stringify({ ...s, simd: other }));
    const warnings: string[] = [];
    await train(
      {},
      {
        resume: out,
        threads: 1,
        onEvent: (e) => {
          if (e.type === 'warning') warnings.push(e.message);
        },
      },
    );
    expect(warnings).toContain(
      `The run used the ${other} kernels and continues with ${s.simd}; results can differ in the last bits (set DLF_SIMD=${other} for a bit-identical continuation).`,
    );
  });
});

describe('file-system errors', () => {
  it('a full disk while writing a checkpoint: one sentence with the path, the cause and the intact checkpoint', async () => {
    const out = join(dir, 'enospc');
    let files = 0;
    const e = await train(config({ epochs: 3 }), {
      out,
      threads: 1,
      hooks: {
        afterFile: (file) => {
          // The second checkpoint's first file meets a full disk.
          if (++files === 5) {
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
              code: 'ENOSPC',
              path: join(out, file),
            });
          }
        },
      },
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileError);
    expect((e as Error).message).toMatch(
      new RegExp(
        `^Cannot write ${join(out, '')}[^ ]+: the disk is full \\(ENOSPC\\); the last checkpoint ${join(out, 'ckpt-e0001')} is intact\\.$`,
      ),
    );
  });
});

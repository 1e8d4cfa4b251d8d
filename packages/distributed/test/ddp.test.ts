// Multi-process jobs on loopback: each process is single-threaded and the models tiny, so the jobs
// take seconds. The workers run the built packages (pnpm run build first).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, runJob, tempDir } from './helpers.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => join(dir, name);

describe('distributed data parallel', () => {
  it('2 and 4 processes end with the weights of 1 process with the combined batch', async () => {
    // 98 samples: the last global batch is 2 (of 32), so with 4 ranks two ranks have an empty shard.
    expect((await runJob(1, { batchSize: 32, out: file('one.json') })).exitCode).toBe(0);
    expect((await runJob(2, { batchSize: 16, out: file('two.json') })).exitCode).toBe(0);
    expect((await runJob(4, { batchSize: 8, out: file('four.json') })).exitCode).toBe(0);
    expect(maxAbsDiff(file('one.json'), file('two.json'))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(file('one.json'), file('four.json'))).toBeLessThanOrEqual(1e-5);
    // A different global batch gives different weights: the comparison has teeth.
    expect((await runJob(2, { batchSize: 8, out: file('two-small.json') })).exitCode).toBe(0);
    expect(maxAbsDiff(file('one.json'), file('two-small.json'))).toBeGreaterThan(1e-3);
  });

  it('a distributed run stopped and resumed equals an uninterrupted one', async () => {
    const job = { batchSize: 8, epochs: 3, samples: 64, val: true };
    expect((await runJob(2, { ...job, dir: file('whole'), out: file('whole.json') })).exitCode).toBe(0);
    // Rank 1 is asked to stop: every rank stops before the same batch and rank 0 saves a checkpoint.
    const stopped = await runJob(2, { ...job, dir: file('parts'), stopAtStep: 6, stopRank: 1 });
    expect(stopped.exitCode).toBe(0);
    const resumed = await runJob(2, {
      ...job,
      dir: file('parts'),
      resume: file('parts'),
      out: file('parts.json'),
    });
    expect(resumed.exitCode).toBe(0);
    expect(maxAbsDiff(file('whole.json'), file('parts.json'))).toBe(0);
    // A rank that cannot see the checkpoint stops every rank with an explanation, instead of diverging.
    const unshared = await runJob(2, { ...job, resume: file('parts'), resumeOnRank0: true });
    expect(unshared.exits.map((e) => e.code)).toEqual([3, 3]);
    for (const lines of unshared.stderr)
      expect(lines.join('\n')).toMatch(/Every rank must read the same checkpoint/);
  });

  it('with lookahead, 2 processes match 1 and a stopped run resumes to the same weights', async () => {
    // 64 samples in global batches of 16: 4 steps per epoch, 12 in all; the slow copy is taken at
    // step 5 and averaged into at step 10, on every rank alike.
    const job = { epochs: 3, samples: 64, lookahead: true };
    expect((await runJob(1, { ...job, batchSize: 16, out: file('la-one.json') })).exitCode).toBe(0);
    const whole = await runJob(2, { ...job, batchSize: 8, dir: file('la-whole'), out: file('la-two.json') });
    expect(whole.exitCode).toBe(0);
    expect(maxAbsDiff(file('la-one.json'), file('la-two.json'))).toBeLessThanOrEqual(1e-5);
    const parts = { ...job, batchSize: 8, dir: file('la-parts') };
    expect((await runJob(2, { ...parts, stopAtStep: 7, stopRank: 1 })).exitCode).toBe(0);
    const resumed = await runJob(2, { ...parts, resume: file('la-parts'), out: file('la-parts.json') });
    expect(resumed.exitCode).toBe(0);
    expect(maxAbsDiff(file('la-two.json'), file('la-parts.json'))).toBe(0);
    // Without lookahead the weights differ: the comparison has teeth.
    expect(
      (await runJob(1, { epochs: 3, samples: 64, batchSize: 16, out: file('plain.json') })).exitCode,
    ).toBe(0);
    expect(maxAbsDiff(file('la-one.json'), file('plain.json'))).toBeGreaterThan(1e-4);
  });

  it('killing one rank makes every rank exit non-zero naming the lost rank, within the timeout', async () => {
    const started = Date.now();
    const r = await runJob(4, { batchSize: 8, epochs: 100, dieRank: 2, dieAtStep: 4, timeoutMs: 4000 }, 4000);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.exitCode).toBe(1);
    expect(r.firstFailure).toMatchObject({ rank: 2, signal: 'SIGKILL' });
    expect(r.exits).toHaveLength(4);
    for (const e of r.exits.filter((x) => x.rank !== 2)) {
      expect(e.code).toBe(3);
      expect(r.stderr[e.rank]!.join('\n')).toMatch(
        new RegExp(`Distributed training failed on rank ${e.rank} of 4: lost rank 2 \\(its process stopped`),
      );
    }
    expect(r.messages.join('\n')).toMatch(
      /rank 2 \(pid \d+\) was killed by SIGKILL; stopped all 4 local processes/,
    );
  });
});

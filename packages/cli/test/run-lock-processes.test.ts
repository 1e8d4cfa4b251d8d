/**
 * Issue 16: one run folder, one trainer, across real processes. Two `dlf train` processes with one
 * `--out` start together, and a `--resume` of that folder starts while the run trains: exactly one
 * proceeds; the others exit with code 2 and a message naming the folder and the process holding it.
 * Runs the built CLI (pnpm run build first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, shapesFixture } from './helpers.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string, data: string, tiny: string;

beforeAll(async () => {
  ({ dir, data, tiny } = await shapesFixture({ train: 6, test: 2 }));
});
afterAll(() => cleanup(dir));

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts `dlf <args>` as its own process (single-threaded kernels, the test's decode cache). */
function dlf(args: string[]): Run {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, DLF_NUM_THREADS: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

/** The process id in a run folder's lock file, once a trainer has written it. */
async function lockHolder(runDir: string, within = 60_000): Promise<number> {
  const end = Date.now() + within;
  for (;;) {
    try {
      const owner = JSON.parse(readFileSync(join(runDir, '.lock'), 'utf8')) as { pid: number };
      if (Number.isInteger(owner.pid)) return owner.pid;
    } catch {
      // not there yet, or being written
    }
    if (Date.now() > end) throw new Error(`no trainer locked ${runDir} within ${within} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('run-folder lock across processes', () => {
  it('two trainers started together and a resume while one trains: exactly one proceeds', async () => {
    expect(existsSync(bin), 'build @dlf/cli first (pnpm run build)').toBe(true);
    const out = join(dir, 'shared-run');
    const args = ['train', data, '--model', tiny, '--size', '16', '--epochs', '1', '--out', out, '--json'];
    const trainers = [dlf(args), dlf(args)];
    let holder: ChildProcess | undefined;
    try {
      const pid = await lockHolder(out);
      holder = trainers.find((t) => t.child.pid === pid)?.child;
      expect(holder, `the lock names pid ${pid}, one of the two trainers`).toBeDefined();
      // Hold the trainer still, lock taken, so that the resume certainly arrives while it runs.
      holder!.kill('SIGSTOP');
      const resume = await dlf(['train', '--resume', out, '--json']).done;
      holder!.kill('SIGCONT');
      const results = await Promise.all(trainers.map((t) => t.done));

      const holderIndex = trainers.findIndex((t) => t.child === holder);
      const winner = results[holderIndex]!;
      const loser = results[1 - holderIndex]!;
      expect(winner.code, winner.stderr).toBe(0);
      expect(winner.stdout).toMatch(/"event":"done"/);
      const busy = new RegExp(
        `^error: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by process ${pid} on this host \\((train|resume), since [^)]+\\); wait for it to finish, or delete .*\\.lock if no process is using the folder\\.$`,
        'm',
      );
      for (const [name, r] of [
        ['the second trainer', loser],
        ['the resume', resume],
      ] as const) {
        expect(r.code, `${name}: ${r.stderr}`).toBe(2);
        expect(r.stderr, name).toMatch(busy);
        const event = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { event: string; message: string };
        expect(event).toMatchObject({ event: 'error', exitCode: 2 });
        expect(event.message).toContain(`process ${pid} on this host`);
      }
      // One run's files, written once: one config, one epoch of metrics, the lock gone.
      expect(readdirSync(out)).not.toContain('.lock');
      const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"epoch"'));
      expect(epochs).toHaveLength(1);
      expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    } finally {
      holder?.kill('SIGCONT');
      for (const t of trainers) if (t.child.exitCode === null) t.child.kill('SIGKILL');
    }
  }, 120_000);

  it('Ctrl-C while the data loads exits at once and leaves no lock behind', async () => {
    const out = join(dir, 'interrupted-run');
    const run = dlf(['train', data, '--model', tiny, '--size', '16', '--epochs', '1', '--out', out]);
    await lockHolder(out);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(existsSync(join(out, '.lock'))).toBe(false);
  }, 60_000);
});

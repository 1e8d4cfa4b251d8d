// `dlf train --nproc`: the launcher, the ranks' roles, and the result against one process with the
// combined batch. Runs the built CLI (pnpm run build first); every process is single-threaded.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensorsSync } from '@dlf/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childArgs } from '../src/cli/distributed.js';
import { cleanup, isolateCache, makeShapes, TINY_MODEL, tempDir } from './helpers.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;
let data: string;
let model: string;

beforeAll(async () => {
  dir = tempDir();
  isolateCache(dir);
  data = await makeShapes(join(dir, 'shapes'), { train: 12, test: 3 });
  // No dropout or BatchNorm: those draw or count per process, so only such a model matches exactly.
  model = join(dir, 'model.json');
  writeFileSync(
    model,
    JSON.stringify({ ...TINY_MODEL, layers: TINY_MODEL.layers.filter((l) => l.type !== 'Dropout') }),
  );
});
afterAll(() => cleanup(dir));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function dlf(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function maxDiff(a: string, b: string): number {
  const x = loadSafetensorsSync(join(a, 'model.safetensors'));
  const y = loadSafetensorsSync(join(b, 'model.safetensors'));
  let max = 0;
  for (const [name, t] of x.tensors) {
    const u = y.tensors.get(name);
    if (!u) return Number.POSITIVE_INFINITY;
    const p = t.toTypedArray();
    const q = u.toTypedArray();
    for (let i = 0; i < p.length; i++) {
      const d = Math.abs(Number(p[i]) - Number(q[i]));
      max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(max, d);
    }
  }
  return max;
}

/** Two local processes of one thread each. */
const TWO_PROCESSES = ['--nproc', '2', '--threads', '2'];

describe('dlf train --nproc', () => {
  const common = () => [
    'train',
    data,
    '--model',
    model,
    '--size',
    '16',
    '--epochs',
    '2',
    '--seed',
    '3',
    '--quiet',
  ];

  it('2 processes with batch 4 end with the weights of 1 process with batch 8; rank 0 alone writes', async () => {
    expect(existsSync(bin), 'build @dlf/cli first (pnpm run build)').toBe(true);
    const one = join(dir, 'one');
    const a = await dlf([...common(), '--batch-size', '8', '--threads', '1', '--out', one]);
    expect(a.code, a.stderr).toBe(0);
    const two = join(dir, 'two');
    const port = String(await freePort());
    const b = await dlf([
      ...common(),
      '--batch-size',
      '4',
      ...TWO_PROCESSES,
      '--master-port',
      port,
      '--out',
      two,
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect(maxDiff(one, two)).toBeLessThanOrEqual(1e-5);
    expect(existsSync(join(two, 'report.html'))).toBe(true);
    // Only rank 0 printed the results.
    expect(b.stdout.match(/test accuracy/g)).toHaveLength(1);
  });

  it('Ctrl-C stops every rank at one batch with a checkpoint; --resume --nproc 2 then ends as an uninterrupted run', async () => {
    const args = [...common().slice(0, -3), '--epochs', '30', '--batch-size', '4', ...TWO_PROCESSES];
    const reference = join(dir, 'ref2');
    const a = await dlf([...args, '--master-port', String(await freePort()), '--out', reference, '--quiet']);
    expect(a.code, a.stderr).toBe(0);

    const run = join(dir, 'interrupted');
    // Its own process group, so the signal reaches the launcher and both ranks, as Ctrl-C in a terminal does.
    const child = spawn(
      process.execPath,
      [bin, ...args, '--master-port', String(await freePort()), '--out', run, '--json'],
      {
        env: process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!sent && stdout.includes('"event":"step"')) {
        sent = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    expect(code, stderr).toBe(130);
    expect(stdout).toMatch(/"event":"interrupted","checkpoint":"[^"]+"/);

    const resumed = await dlf([
      'train',
      '--resume',
      run,
      ...TWO_PROCESSES,
      '--master-port',
      String(await freePort()),
      '--quiet',
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(maxDiff(reference, run)).toBe(0);
  });

  it('a wrong master port gives a clear error, not a hang', async () => {
    const port = String(await freePort());
    const started = Date.now();
    // Rank 1 of 2 as torchrun would start it, with nobody listening at the master port.
    const lost = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [bin, ...common(), '--dist-timeout', '2', '--out', join(dir, 'y')],
        {
          env: { ...process.env, RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/could not reach the rendezvous store at 127\.0\.0\.1:\d+ within 2/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("passes every flag but the launcher's own to the ranks", () => {
    expect(
      childArgs([
        'train',
        'd',
        '--nproc',
        '2',
        '--threads=4',
        '--nnodes',
        '1',
        '--node-rank=0',
        '--epochs',
        '3',
      ]),
    ).toEqual(['train', 'd', '--epochs', '3']);
  });
});

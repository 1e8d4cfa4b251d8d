import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, jsonLines, runCli, shapesFixture } from './helpers.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};
const ANSI = new RegExp(String.fromCharCode(27) + '\\[');
const ANSI_COLOR = new RegExp(`${String.fromCharCode(27)}\\[3\\dm`);

let dir: string, data: string, tiny: string;
beforeAll(async () => {
  ({ dir, data, tiny } = await shapesFixture({ train: 8, test: 3 }));
});
afterAll(() => cleanup(dir));

describe('dlf conventions', () => {
  it('--help on every command (exit 0, on stdout) and --version', async () => {
    for (const cmd of ['train', 'evaluate', 'summary', 'predict', 'export']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: dlf ${cmd}`));
      expect(r.stderr).toBe('');
      const h = await runCli(['help', cmd]);
      expect(h.stdout).toBe(r.stdout);
    }
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Commands:');
    const v = await runCli(['--version']);
    expect(v.stdout.trim()).toBe(pkg.version);
    expect(pkg.bin.dlf).toBe('./bin/dlf.js');
  });

  it('usage errors exit 2 with one sentence and a pointer to --help', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /Unknown command 'frobnicate'/],
      [
        ['train', '--epochs', 'ten'],
        /Expected an integer in \[0, 1000000\] for --epochs but received 'ten'\./,
      ],
      [['train', '--lr', '0'], /Expected a positive number for --lr/],
      [['train', '--optimizer', 'rmsprop'], /Expected one of sgd, adam, adamw for --optimizer/],
      [['train', '--augment', 'rotate'], /--augment/],
      [['train', '--bogus'], /Unknown option --bogus for dlf train\./],
      [['train', '--epochs'], /The option --epochs needs a value\./],
      [['train', 'a', 'b'], /Unexpected argument 'b'/],
      [['evaluate', 'data'], /needs <data> and <model>; missing <model>/],
      [['summary', 'resnet-9000'], /Unknown model 'resnet-9000'/],
      [['summary', 'seed-cnn', '--input', '3x31'], /Expected --input as CxHxW/],
      [['predict', 'm.safetensors'], /missing <image>/],
      [['train', '--resume', 'x', '--out', 'y'], /either --resume/],
    ];
    for (const [argv, pattern] of cases) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(pattern);
      expect(lines[0]).toMatch(/\.$/);
      expect(lines[1]).toMatch(/^Run 'dlf .*--help' for usage\.$/);
    }
    expect((await runCli([])).code).toBe(2);
  });

  it('failures exit 1 with one sentence naming the file, no stack trace', async () => {
    const r = await runCli(['train', join(dir, 'missing-folder'), '--epochs', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: The dataset folder .*missing-folder does not exist\.\n$/);
    const p = await runCli(['predict', join(dir, 'none.safetensors'), 'x.png']);
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/does not exist\.\n$/);
  });

  it('--json failures print an error event on stdout', async () => {
    const r = await runCli(['train', join(dir, 'missing-folder'), '--json']);
    expect(r.code).toBe(1);
    const events = jsonLines(r.stdout);
    expect(events.at(-1)).toMatchObject({ event: 'error', exitCode: 1 });
  });

  it('colour: only on a terminal, never with NO_COLOR or --no-color; FORCE_COLOR forces it', async () => {
    const argv = ['train', data, '--model', tiny, '--size', '16', '--epochs', '1', '--out'];
    const plain = await runCli([...argv, join(dir, 'c1')]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(ANSI);
    const forced = await runCli([...argv, join(dir, 'c2')], { env: { FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(ANSI);
    const tty = await runCli([...argv, join(dir, 'c3')], { tty: true });
    expect(tty.stdout).toMatch(ANSI);
    expect(tty.stderr).toMatch(/epoch 1\/1 .*img\/s/); // progress bar on a terminal
    for (const env of [{ NO_COLOR: '1' }, { NO_COLOR: '1', FORCE_COLOR: '1' }]) {
      const r = await runCli([...argv, join(dir, `c4${Object.keys(env).length}`)], { env, tty: true });
      expect(r.stdout).not.toMatch(ANSI);
      expect(r.stderr).not.toMatch(ANSI_COLOR);
    }
    const flag = await runCli([...argv, join(dir, 'c5'), '--no-color'], {
      tty: true,
      env: { FORCE_COLOR: '1' },
    });
    expect(flag.stdout).not.toMatch(ANSI);
  });

  it('human output: summary, data facts with batch time, a line per epoch, final accuracies', async () => {
    const r = await runCli([
      'train',
      data,
      '--model',
      tiny,
      '--size',
      '16',
      '--epochs',
      '2',
      '--out',
      join(dir, 'human'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Params');
    expect(r.stdout).toContain('MACs');
    expect(r.stdout).toContain('FLOPs');
    expect(r.stdout).toMatch(/one batch takes [\d.]+ ms to assemble/);
    expect(r.stdout).toMatch(
      /epoch 1\/2 {2}train loss [\d.]+ acc [\d.]+ % {2}val loss [\d.]+ acc [\d.]+ %.* s .*img\/s/,
    );
    expect(r.stdout).toMatch(/epoch 2\/2/);
    expect(r.stdout).toMatch(/Final train accuracy [\d.]+ % {3}test accuracy [\d.]+ %/);
    expect(r.stdout).toMatch(/Report {2}.*report\.html/);
    // Not a TTY: no progress bar escapes on stderr.
    expect(r.stderr).not.toMatch(/\r/);
    const q = await runCli([
      'train',
      data,
      '--model',
      tiny,
      '--size',
      '16',
      '--epochs',
      '1',
      '--out',
      join(dir, 'quiet'),
      '--quiet',
    ]);
    expect(q.stdout).not.toContain('Params');
    expect(q.stdout).toMatch(/test accuracy/);
    expect(q.stderr).toBe('');
  });

  it('refuses to overwrite an existing run folder', async () => {
    const r = await runCli([
      'train',
      data,
      '--model',
      tiny,
      '--size',
      '16',
      '--epochs',
      '1',
      '--out',
      join(dir, 'human'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already holds a run; continue it with --resume/);
  });

  it('the built bin runs through the package manager shims', () => {
    const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
    expect(existsSync(bin), 'build @dlf/cli first (pnpm run build)').toBe(true);
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    const launcher = fileURLToPath(new URL('../bin/dlf.js', import.meta.url));
    const l = spawnSync(process.execPath, [launcher, '--version'], { encoding: 'utf8' });
    expect(l.status).toBe(0);
    expect(l.stdout.trim()).toBe(pkg.version);
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    const shim = fileURLToPath(new URL('../../../node_modules/.bin/dlf', import.meta.url));
    expect(existsSync(shim)).toBe(true);
    const s = spawnSync(shim, ['summary', 'seed-cnn'], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain('134,466');
  });
});

/**
 * Issue 15: the command line never makes a user guess. One table of argv → exit code and message,
 * then the cases that need a run: the decode progress, and the notices --quiet keeps.
 */
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closest, editDistance } from '../src/cli/args.js';
import { main } from '../src/cli/main.js';
import { type CliIO, Output } from '../src/cli/output.js';
import { decodeProgress } from '../src/cli/progress.js';
import { oneSentence } from '../src/errors.js';
import { cleanup, makeShapes, runCli, shapesFixture } from './helpers.js';

let dir: string, data: string, tiny: string;
beforeAll(async () => {
  ({ dir, data, tiny } = await shapesFixture({ train: 8, test: 3 }));
});
afterAll(() => cleanup(dir));

class Capture extends Writable {
  text = '';
  constructor(
    readonly isTTY = false,
    readonly onText: (text: string) => void = () => {},
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    this.onText(this.text);
    cb();
  }
}

describe('argv → exit code and message', () => {
  // [argv, exit code, the first stderr line]; a missing data folder proves the check ran before loading.
  const table = (): [string[], number, RegExp][] => [
    [['train', '--lr', '-1'], 2, /^error: Expected a positive number for --lr but received '-1'\.$/],
    [['train', '--lr=-0.5'], 2, /^error: Expected a positive number for --lr but received '-0\.5'\.$/],
    [['train', '--seed', '-3'], 2, /^error: Expected an integer ≥ 0 for --seed but received '-3'\.$/],
    [
      ['train', '--momentum', '-.5'],
      2,
      /^error: Expected a number in \[0, 1\) for --momentum but received '-\.5'\.$/,
    ],
    [['evaluate', 'd', 'm', '--batch-size', '-8'], 2, /for --batch-size but received '-8'\.$/],
    [['train', '--epoch', '1'], 2, /^error: Unknown option --epoch for dlf train; did you mean --epochs\?$/],
    [['train', '--batchsize', '8'], 2, /did you mean --batch-size\?$/],
    [['train', '--learning-rate', '1'], 2, /^error: Unknown option --learning-rate for dlf train\.$/],
    [['predict', '--topp', '2'], 2, /did you mean --top\?$/],
    [
      ['train', '--optimizer', 'adan'],
      2,
      /^error: Expected one of sgd, adam, adamw for --optimizer but received 'adan'; did you mean adam\?$/,
    ],
    [['evaluate', 'd', 'm', '--split', 'tset'], 2, /did you mean test\?$/],
    [['trian'], 2, /^error: Unknown command 'trian'; did you mean train\?$/],
    [
      ['train', 'no-such-data', '--out', `${fileURLToPath(import.meta.url)}/run`],
      1,
      /^error: Cannot create the run folder .*usability\.test\.ts\/run: a part of the path is a file, not a folder \(ENOTDIR\)\.$/,
    ],
    [['evalute', 'd', 'm'], 2, /did you mean evaluate\?$/],
    [['help', 'sumary'], 2, /^error: Unknown command 'sumary'; did you mean summary\?$/],
    [['frobnicate'], 2, /the commands are train, evaluate, summary, predict, export and onnx\.$/],
    [
      ['train', join(dir, 'no-data'), '--model', 'transformer'],
      2,
      /^error: Unknown model 'transformer'; use a preset \(seed-cnn, resnet8/,
    ],
    [
      ['train', join(dir, 'no-data'), '--model', 'resnet'],
      2,
      /^error: Unknown model 'resnet'; did you mean resnet8\?$/,
    ],
    [
      ['train', join(dir, 'no-data'), '--model', 'seed-cn'],
      2,
      /^error: Unknown model 'seed-cn'; did you mean seed-cnn\?$/,
    ],
    [
      ['train', join(dir, 'no-data'), '--model', join(dir, 'none.json')],
      1,
      /^error: The model file .*none\.json does not exist\.$/,
    ],
    [['train', join(dir, 'no-data'), '--epochs', '-2'], 2, /for --epochs but received '-2'\.$/],
    [['summary', 'seed-cnn', '--input', '3x30x30'], 2, /^error: seed-cnn needs a square input/],
    [['summary', 'seed-cnm'], 2, /did you mean seed-cnn\?$/],
    [['evaluate', 'data'], 2, /^error: dlf evaluate needs <data> and <model>; missing <model>\.$/],
  ];

  it('each case exits with its code and one sentence, before any data is read', async () => {
    for (const [argv, code, message] of table()) {
      const r = await runCli(argv);
      const name = argv.join(' ');
      expect(r.code, name).toBe(code);
      expect(r.stdout, name).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines[0], name).toMatch(message);
      expect(r.stderr, name).not.toMatch(/Loading|ambiguous|\bDlf\b|Seed-cnn/);
      if (code === 2) expect(lines[1], name).toMatch(/^Run 'dlf .*--help' for usage\.$/);
    }
  });

  it('--json reports the same message as an error event', async () => {
    const r = await runCli(['train', '--epoch', '1', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({
      event: 'error',
      exitCode: 2,
      message: 'Unknown option --epoch for dlf train; did you mean --epochs?',
    });
  });
});

describe('helpers', () => {
  it('edit distance counts a swap of neighbours as one edit', () => {
    expect(editDistance('epoch', 'epochs')).toBe(1);
    expect(editDistance('trian', 'train')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('closest suggests only likely typos', () => {
    expect(closest('epoch', ['epochs', 'lr', 'seed'])).toBe('epochs');
    expect(closest('zzzzz', ['epochs', 'lr', 'seed'])).toBeUndefined();
    expect(closest('batch', ['batch-size', 'seed'])).toBe('batch-size'); // a prefix
  });

  it('one sentence keeps names as written and capitalises plain words', () => {
    expect(oneSentence(new Error('bad thing\n  at x'))).toBe('Bad thing.');
    expect(oneSentence(new Error('dlf train needs <data>'))).toBe('dlf train needs <data>.');
    expect(oneSentence(new Error('seed-cnn needs square images'))).toBe('seed-cnn needs square images.');
    expect(oneSentence(new Error('model.json is invalid'))).toBe('model.json is invalid.');
  });
});

describe('decode progress', () => {
  const outputOn = (tty: boolean, options: { quiet?: boolean; json?: boolean } = {}) => {
    const stderr = new Capture(tty);
    const io: CliIO = { stdout: new Capture(tty), stderr, env: {} };
    return { out: new Output(io, options), stderr };
  };

  it('on a terminal: a redrawn line with the count, rate and ETA', () => {
    const { out, stderr } = outputOn(true);
    let t = 0;
    const p = decodeProgress(out, 'images', () => t);
    p(1, 1000);
    t = 2000;
    p(500, 1000);
    expect(stderr.text).toContain('\r\u001b[2Kdecoding 500/1,000 images ');
    expect(stderr.text).toMatch(/decoding 500\/1,000 images .* 250 images\/s {2}eta 2\.0s/);
    t = 4000;
    p(1000, 1000);
    expect(stderr.text).toMatch(/decoded 1,000 images; writing the decode cache…$/);
  });

  it('not a terminal: a plain line every ten seconds; nothing under --quiet or --json', () => {
    for (const [options, lines] of [
      [{}, 2],
      [{ quiet: true }, 0],
      [{ json: true }, 0],
    ] as const) {
      const { out, stderr } = outputOn(false, options);
      let t = 0;
      const p = decodeProgress(out, 'images', () => t);
      for (let i = 1; i <= 30; i++) {
        t = i * 1000;
        p(i * 100, 3100);
      }
      expect(stderr.text).not.toMatch(/\r/);
      const got = stderr.text.split('\n').filter(Boolean);
      expect(got, JSON.stringify(options)).toHaveLength(lines);
      if (lines) expect(got[0]).toMatch(/^decoding: 1,100\/3,100 images, 110 images\/s, eta 18s$/);
    }
  });

  it('dlf train on a terminal shows it while decoding an image folder', async () => {
    const fresh = await makeShapes(join(dir, 'fresh'), { train: 8, test: 3 });
    const r = await runCli(
      ['train', fresh, '--model', tiny, '--size', '16', '--epochs', '1', '--out', join(dir, 'p1')],
      { tty: true },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/decoding \d+\/\d+ images|decoded \d+ images/);
  });
});

describe('--quiet', () => {
  it('still prints the interruption and resume notices on stderr', async () => {
    const ac = new AbortController();
    const run = join(dir, 'quiet-run');
    const stdout = new Capture(false, (text) => {
      if (text.includes('"event":"step"') && !ac.signal.aborted) ac.abort();
    });
    const stderr = new Capture(false);
    const io: CliIO = { stdout, stderr, env: { ...process.env }, signal: ac.signal };
    const argv = ['train', data, '--model', tiny, '--size', '16', '--batch-size', '2', '--epochs', '30'];
    const code = await main([...argv, '--out', run, '--quiet', '--json'], io);
    expect(code, stderr.text).toBe(130);
    expect(stderr.text).toMatch(/Interrupted: saving a checkpoint/);
    expect(stderr.text).toMatch(/Checkpoint saved in .*; continue with: dlf train --resume /);
    const again = await runCli(['train', '--resume', run, '--epochs', '1', '--quiet'], {});
    expect(again.stderr).toMatch(/^Resuming from /m);
  });
});

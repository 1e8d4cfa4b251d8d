/**
 * Issue 15: the command line never makes a user guess. One table of argv → exit code and message,
 * then the cases that need a run: the decode progress, and the notices --quiet keeps.
 */
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closest, editDistance } from '../src/cli/args.js';
import { main } from '../src/cli/main.js';
import { type CliIO, Output } from '../src/cli/output.js';
import { decodeProgress } from '../src/cli/progress.js';
import { oneSentence } from '../src/errors.js';
import { cleanup, makeShapes, runCli, shapesFixture } from './helpers.js';

// Every dataset opened and every process launch in this file is recorded (the real ones still run):
// no flag check may come after either.
const touched = vi.hoisted(() => ({ opened: [] as string[], launched: 0 }));
vi.mock('@dlf/data', async (importOriginal) => {
  const real = await importOriginal<typeof import('@dlf/data')>();
  return {
    ...real,
    openDataset: vi.fn((...args: Parameters<typeof real.openDataset>) => {
      touched.opened.push(args[0]);
      return real.openDataset(...args);
    }),
  };
});
vi.mock('@dlf/distributed', async (importOriginal) => {
  const real = await importOriginal<typeof import('@dlf/distributed')>();
  return {
    ...real,
    launch: vi.fn((...args: Parameters<typeof real.launch>) => {
      touched.launched++;
      return real.launch(...args);
    }),
  };
});

let dir: string, data: string, tiny: string;
beforeAll(async () => {
  ({ dir, data, tiny } = await shapesFixture({ train: 8, test: 3 }));
  mkdirSync(join(dir, 'a-run'));
  writeFileSync(join(dir, 'a-run', 'config.json'), '{}');
  mkdirSync(join(dir, 'folder.json'));
  mkdirSync(join(dir, 'plot.png'));
  mkdirSync(join(dir, 'exported'));
  writeFileSync(join(dir, 'exported', 'keep.txt'), 'mine');
});
afterAll(() => cleanup(dir));

/**
 * A row per flag family of every command: each value is wrong in one way (type, range, choice, a
 * missing file, a file where a folder belongs, …). The data argument is a real dataset, so a check
 * that ran after loading would be seen by the spies above.
 */
function flagFamilies(): [string[], number, RegExp][] {
  const file = fileURLToPath(import.meta.url);
  const model = join(dir, 'none.safetensors');
  const t = (...argv: string[]): string[] => ['train', data, ...argv];
  const e = (...argv: string[]): string[] => ['evaluate', data, model, ...argv];
  return [
    // dlf train: numbers, choices, switches
    [
      t('--batch-size', '0'),
      2,
      /^error: Expected an integer in \[1, 65536\] for --batch-size but received '0'\.$/,
    ],
    [t('--weight-decay', '-1'), 2, /^error: Expected a number ≥ 0 for --weight-decay but received '-1'\.$/],
    [t('--val-split', '1'), 2, /^error: Expected a number in \[0, 1\) for --val-split but received '1'\.$/],
    [t('--size', '2'), 2, /^error: Expected an integer in \[4, 4096\] for --size but received '2'\.$/],
    [t('--channels', '2'), 2, /^error: Expected 1 or 3 for --channels but received '2'\.$/],
    [t('--early-stop', '0'), 2, /^error: Expected an integer ≥ 1 for --early-stop but received '0'\.$/],
    [t('--keep', 'all'), 2, /^error: Expected an integer in \[1, 1000\] for --keep but received 'all'\.$/],
    [
      t('--threads', '999'),
      2,
      /^error: Expected an integer in \[1, 256\] for --threads but received '999'\.$/,
    ],
    [t('--schedule', 'cosin'), 2, /for --schedule but received 'cosin'; did you mean cosine\?$/],
    [t('--augment', 'rotate'), 2, /for --augment but received 'rotate'\.$/],
    [
      t('--label-smoothing', '1'),
      2,
      /^error: Expected a number in \[0, 1\) for --label-smoothing but received 1\.$/,
    ],
    [
      t('--recipe', 'cifar10-fats'),
      2,
      /for --recipe but received 'cifar10-fats'; did you mean cifar10-fast\?$/,
    ],
    [t('--ema', '1.5'), 2, /^error: Expected a number in \[0, 1\) for --ema but received '1\.5'\.$/],
    [t('--ema', 'x'), 2, /^error: Expected a number in \[0, 1\) for --ema but received 'x'\.$/],
    [t('--tta', '--no-tta'), 2, /^error: Pass --tta or --no-tta, not both\.$/],
    [
      t('--tta', '--tta-translate'),
      2,
      /^error: Pass --tta \(flip\) or --tta-translate \(flip and translate\), not --tta with --tta-translate\.$/,
    ],
    [t('--no-tta', '--tta-translate'), 2, /, not --no-tta with --tta-translate\.$/],
    [t('--lookahead', '--no-lookahead'), 2, /^error: Pass --lookahead or --no-lookahead, not both\.$/],
    [
      t('--lookahead', '--ema', '0.99'),
      2,
      /^error: --ema and --lookahead both average the weights; pass one of them, not both\.$/,
    ],
    [t('--lookahead=yes'), 2, /^error: The option --lookahead takes no value\.$/],
    [t('--profile=yes'), 2, /^error: The option --profile takes no value\.$/],
    // dlf train: files and folders
    [
      t('--model', join(dir, 'folder.json')),
      2,
      /^error: The model file .*folder\.json is a folder, not a file; check --model\.$/,
    ],
    [
      t('--out', file),
      2,
      /^error: Cannot create the run folder .*usability\.test\.ts: it is a file; check --out\.$/,
    ],
    [
      t('--out', join(dir, 'a-run')),
      2,
      /^error: .*a-run already holds a run; continue it with --resume .*a-run or choose another --out\.$/,
    ],
    [
      t('--resume', join(dir, 'no-run')),
      2,
      /^error: The run folder .*no-run does not exist; check --resume\.$/,
    ],
    [t('--resume', file), 2, /^error: .*usability\.test\.ts is not a dlf run folder .*; check --resume\.$/],
    [t('--max-image-pixels', '0'), 2, /for --max-image-pixels but received '0'\.$/],
    [t('--max-model-macs', '1e3.5'), 2, /for --max-model-macs but received '1e3\.5'\.$/],
    // dlf train: distributed (checked before any process is launched)
    [t('--nproc', '0'), 2, /^error: Expected an integer in \[1, 1024\] for --nproc but received '0'\.$/],
    [t('--nproc', '2', '--nnodes', 'two'), 2, /for --nnodes but received 'two'\.$/],
    [
      t('--nnodes', '2', '--node-rank', '2'),
      2,
      /^error: Expected --node-rank below --nnodes \(2\) but received 2\.$/,
    ],
    [t('--nnodes', '2', '--node-rank', '1'), 2, /^error: A run on several hosts needs --master-addr/],
    [t('--nproc', '2', '--master-port', '70000'), 2, /for --master-port but received '70000'\.$/],
    [t('--master-port', 'x'), 2, /for --master-port but received 'x'\.$/],
    [t('--nproc', '2', '--master-addr', 'http://h:1'), 2, /for --master-addr but received 'http:\/\/h:1'\.$/],
    [t('--nproc', '2', '--iface', 'no-such-if0'), 2, /for --iface but received 'no-such-if0'/],
    [t('--nproc', '2', '--dist-timeout', '0'), 2, /for --dist-timeout but received '0'\.$/],
    [t('--nproc', '2', '--recipe', 'fast'), 2, /for --recipe but received 'fast'/],
    [t('--nproc', '2', '--resume', join(dir, 'no-run')), 2, /does not exist; check --resume\.$/],
    [
      ['train', join(dir, 'no-data'), '--nproc', '2'],
      1,
      /^error: The dataset folder .*no-data does not exist\.$/,
    ],
    // dlf evaluate
    [e('--seed', 'x'), 2, /^error: Expected an integer ≥ 0 for --seed but received 'x'\.$/],
    [
      e('--tta', '--tta-translate'),
      2,
      /^error: Pass --tta \(flip\) or --tta-translate \(flip and translate\)/,
    ],
    [e('--threads', '0'), 2, /for --threads but received '0'\.$/],
    [
      e('--plot', join(dir, 'confusion.svg')),
      2,
      /^error: Expected a \.png file name for --plot but received/,
    ],
    [e('--plot', join(dir, 'none', 'c.png')), 2, /^error: The folder of --plot .*c\.png does not exist;/],
    [
      e('--plot', join(dir, 'plot.png')),
      2,
      /^error: The --plot file .*plot\.png is a folder; give a \.png file name\.$/,
    ],
    [e('--plot', join(file, 'c.png')), 2, /^error: The folder of --plot .* is a file;/],
    [e('--max-model-activations', 'big'), 2, /for --max-model-activations but received 'big'\.$/],
    // dlf predict, summary, export, onnx
    [['predict', model, 'x.png', '--top', '0'], 2, /for --top but received '0'\.$/],
    [
      ['predict', model, 'x.png', '--max-image-pixels', '-1'],
      2,
      /for --max-image-pixels but received '-1'\.$/,
    ],
    [['summary', 'seed-cnn', '--classes', '0'], 2, /for --classes but received '0'\.$/],
    [['summary', 'seed-cnn', '--input', '3x0x2'], 2, /^error: Expected --input as CxHxW/],
    [['summary', 'seed-cnn', '--max-model-params', '0'], 2, /for --max-model-params but received '0'\.$/],
    [['summary', 'seed-cnn', '--threads', 'abc'], 2, /for --threads but received 'abc'\.$/],
    [['export', data, join(dir, 'out'), '--threads', '0'], 2, /for --threads but received '0'\.$/],
    [['onnx', 'export', model, 'm.onnx', '--threads', '-2'], 2, /for --threads but received '-2'\.$/],
    [['predict', model, 'x.png', '--threads', '1.5'], 2, /for --threads but received '1\.5'\.$/],
    [['export', data, join(dir, 'out'), '--size', '0'], 2, /for --size but received '0'\.$/],
    [['export', data, join(dir, 'out'), '--channels', '2'], 2, /for --channels but received '2'\.$/],
    [
      ['export', data, join(file, 'out')],
      2,
      /^error: Cannot export to .*: .*usability\.test\.ts is a file, not a folder\.$/,
    ],
    [
      ['export', data, join(dir, 'exported')],
      2,
      /already exists and is not empty; add --overwrite to replace it\.$/,
    ],
    [['onnx', 'export', model, 'm.onnx', '--opset', '99'], 2, /for --opset but received '99'\.$/],
    [['onnx', 'export', model, 'm.onnx', '--batch-size', '0'], 2, /for --batch-size but received '0'\.$/],
    [
      ['onnx', 'import', 'm.onnx', 'm.safetensors', '--fit', 'stretch'],
      2,
      /for --fit but received 'stretch'/,
    ],
    [
      ['onnx', 'import', 'm.onnx', 'm.safetensors', '--mean', 'x'],
      2,
      /^error: Expected 1 to 3 numbers for --mean/,
    ],
    [
      ['onnx', 'import', 'm.onnx', 'm.safetensors', '--std', '0'],
      2,
      /^error: Expected 1 to 3 positive numbers for --std/,
    ],
    [
      ['onnx', 'import', 'm.onnx', 'm.safetensors', '--classes', ','],
      2,
      /^error: Expected class names for --classes/,
    ],
    [
      ['onnx', 'import', 'm.onnx', 'm.safetensors', '--input', '3x32'],
      2,
      /^error: Expected --input as CxHxW/,
    ],
    [['onnx', 'convert'], 2, /^error: Unknown subcommand 'convert' for dlf onnx/],
  ];
}

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
      ['train', data, '--out', `${fileURLToPath(import.meta.url)}/run`],
      2,
      /^error: Cannot create the run folder .*usability\.test\.ts\/run: a part of the path is a file, not a folder \(ENOTDIR\); check --out\.$/,
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
      ['train', data, '--model', join(dir, 'none.json')],
      2,
      /^error: The model file .*none\.json does not exist; check --model\.$/,
    ],
    [['train', join(dir, 'no-data'), '--epochs', '-2'], 2, /for --epochs but received '-2'\.$/],
    [['summary', 'seed-cnn', '--input', '3x30x30'], 2, /^error: seed-cnn needs a square input/],
    [['summary', 'seed-cnm'], 2, /did you mean seed-cnn\?$/],
    [['evaluate', 'data'], 2, /^error: dlf evaluate needs <data> and <model>; missing <model>\.$/],
    ...flagFamilies(),
  ];

  it('each case exits with its code and one sentence, before any data is read', async () => {
    const opened = touched.opened.length;
    for (const [argv, code, message] of table()) {
      const r = await runCli(argv);
      const name = argv.join(' ');
      expect(r.code, name).toBe(code);
      expect(r.stdout, name).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines[0], name).toMatch(message);
      expect(r.stderr, name).not.toMatch(/Loading|ambiguous|\bDlf\b|Seed-cnn/);
      if (code === 2) expect(lines[1], name).toMatch(/^Run 'dlf .*--help' for usage\.$/);
      expect(touched.opened.length, `${name} opened the dataset`).toBe(opened);
      expect(touched.launched, `${name} launched processes`).toBe(0);
    }
  });

  it('the spies see a dataset being opened (so the table above proves none was)', async () => {
    const { launch } = await import('@dlf/distributed');
    expect(vi.isMockFunction(launch)).toBe(true);
    const before = touched.opened.length;
    const r = await runCli(['export', data, join(dir, 'control'), '--size', '8']);
    expect(r.code, r.stderr).toBe(0);
    expect(touched.opened.slice(before)).toEqual([data]);
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

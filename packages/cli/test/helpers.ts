import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../src/cli/main.js';
import type { CliIO } from '../src/cli/output.js';

import { isolateCache, makeShapes, tempDir, writeTinyModel } from '../../train/test/helpers.js';

// The data and model fixtures are the trainer's tests' own.
export {
  cleanup,
  isolateCache,
  isPng,
  jsonLines,
  makeShapes,
  SHAPES,
  TINY_MODEL,
  tempDir,
  writeTinyModel,
} from '../../train/test/helpers.js';

class Capture extends Writable {
  text = '';
  isTTY: boolean;
  columns = 100;
  constructor(tty = false) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Runs the CLI in this process and captures its output. */
export async function runCli(
  argv: string[],
  options: { env?: Record<string, string | undefined>; signal?: AbortSignal; tty?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture(options.tty);
  const stderr = new Capture(options.tty);
  const io: CliIO = {
    stdout,
    stderr,
    env: { ...options.env },
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * A temporary folder (the decode cache inside it) holding a shapes dataset (`data`) and the tiny
 * model description (`tiny`); remove it with `cleanup(dir)`.
 */
export async function shapesFixture(counts: {
  train: number;
  test: number;
}): Promise<{ dir: string; data: string; tiny: string }> {
  const dir = tempDir();
  isolateCache(dir);
  return { dir, data: await makeShapes(join(dir, 'shapes'), counts), tiny: writeTinyModel(dir) };
}

/**
 * {@link shapesFixture} plus a model trained on it for one epoch (the tiny model, 16×16 images);
 * `prepare` may change the data first (rename classes or files).
 */
export async function trainedFixture(
  counts: { train: number; test: number },
  prepare: (data: string) => void = () => {},
): Promise<{ dir: string; data: string; tiny: string; model: string }> {
  const fixture = await shapesFixture(counts);
  prepare(fixture.data);
  const out = join(fixture.dir, 'run');
  const args = ['train', fixture.data, '--model', fixture.tiny, '--epochs', '1', '--size', '16'];
  const r = await runCli([...args, '--out', out, '--quiet']);
  if (r.code !== 0) throw new Error(`training the fixture failed: ${r.stderr}`);
  return { ...fixture, model: join(out, 'model.safetensors') };
}

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

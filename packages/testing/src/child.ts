import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';

/** Options of {@link expectScriptOk}. */
export interface ScriptOptions {
  /** Run the script as an ES module (`import` statements, top-level `await`). Default: CommonJS. */
  module?: boolean;
  /** Kill the child after this many milliseconds (a hang then fails the test). Default: 60 000. */
  timeoutMs?: number;
}

/**
 * Runs a Node.js script in a child process and expects it to end cleanly: exit code 0, no signal,
 * nothing on stderr and `ok` as its whole output. For failures a test cannot survive in-process: a
 * hang (the time limit ends it) or an abort, which would take the test runner down with it.
 *
 * @example
 * ```ts
 * expectScriptOk(`const n = require(${JSON.stringify(addonPath)}); n.tensor.setNumThreads(2); console.log('ok');`);
 * expectScriptOk("await import('node:fs'); console.log('ok');", { module: true, timeoutMs: 30_000 });
 * ```
 */
export function expectScriptOk(script: string, options: ScriptOptions = {}): void {
  const args = options.module ? ['--input-type=module', '-e', script] : ['-e', script];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000 });
  expect({
    status: child.status,
    signal: child.signal,
    stdout: child.stdout.trim(),
    stderr: child.stderr,
  }).toEqual({ status: 0, signal: null, stdout: 'ok', stderr: '' });
}

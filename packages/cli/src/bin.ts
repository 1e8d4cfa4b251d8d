#!/usr/bin/env node
/**
 * The `dlf` executable. Ctrl-C asks the running command to stop (training saves a checkpoint and
 * exits with 130); a second Ctrl-C quits at once.
 */
import { main } from './cli/main.js';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (): void => {
  interrupts++;
  if (interrupts > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
  exit: (c) => process.exit(c),
});
process.exitCode = code;
// An interrupted or failed run may leave timers or native handles behind; do not wait for them.
if (code !== 0) setImmediate(() => process.exit(code));

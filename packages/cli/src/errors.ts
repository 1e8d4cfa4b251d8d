/**
 * Errors of the trainer and the command line. Every message is one sentence that names the file or
 * the argument at fault.
 */

/** Exit codes of the `dlf` command. */
export const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2, interrupted: 130 });

/** A wrong command line: an unknown flag, a missing argument, a value out of range (exit code 2). */
export class UsageError extends Error {
  /** The command the error is about (for the "see --help" hint). */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/**
 * A problem with a file the user gave us (a model file, a checkpoint, a run folder): one sentence
 * naming the file (exit code 1).
 */
export class FileError extends Error {
  /** The file or folder at fault. */
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FileError';
    this.path = path;
  }
}

/**
 * Training (or evaluation) was cancelled through its `AbortSignal`. When the trainer could save a
 * checkpoint first, `checkpoint` is its folder.
 */
export class AbortError extends Error {
  /** The checkpoint written before stopping, if any. */
  checkpoint: string | undefined;
  constructor(message = 'The operation was aborted.', checkpoint?: string) {
    super(message);
    this.name = 'AbortError';
    this.checkpoint = checkpoint;
  }
}

/** True for an {@link AbortError} or a DOM-style abort (`name === 'AbortError'`). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Throws an {@link AbortError} when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}

/**
 * One clear sentence for any thrown value: the first line of the message, with a final full stop.
 *
 * @example
 * ```ts
 * oneSentence(new Error('bad thing\n    at x')); // 'bad thing.'
 * ```
 */
export function oneSentence(error: unknown): string {
  let msg: string;
  if (error instanceof Error) msg = error.message || error.name;
  else msg = String(error);
  msg = msg.split('\n')[0]!.trim();
  if (msg === '') msg = 'An unknown error occurred';
  msg = msg.charAt(0).toUpperCase() + msg.slice(1);
  return /[.!?)]$/.test(msg) ? (msg.endsWith(')') ? `${msg}.` : msg) : `${msg}.`;
}

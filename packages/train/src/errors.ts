/**
 * Errors of the trainer. Every message is one sentence that names the file or the argument at fault.
 */

/** A wrong command line: an unknown flag, a missing argument, a value out of range (exit code 2). */
export class UsageError extends Error {
  /** The command the error is about (for the "see --help" hint). */
  readonly command: string | undefined;
  /**
   * Creates the error.
   *
   * @param message - One sentence saying what is wrong and what to pass instead.
   * @param command - The `dlf` command concerned, for the "Run 'dlf <command> --help'" hint.
   */
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

// One error class for every file at fault, shared with @dlf/nn's model-file reader.
export { FileError } from '@dlf/nn';

/**
 * Training (or evaluation) was cancelled through its `AbortSignal`. When the trainer could save a
 * checkpoint first, `checkpoint` is its folder.
 */
export class AbortError extends Error {
  /** The checkpoint written before stopping, if any. */
  checkpoint: string | undefined;
  /**
   * Creates the error.
   *
   * @param message - Why the work stopped.
   * @param checkpoint - The checkpoint written before stopping, if any.
   */
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

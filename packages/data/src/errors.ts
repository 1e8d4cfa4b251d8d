/**
 * Errors about data files and folders. Argument errors use `invalidParam` from `@dlf/tensor-core`;
 * problems with what is on disk throw a {@link DatasetError}: one sentence that names the path.
 */

/**
 * The kind of problem a {@link DatasetError} reports.
 *
 * @example
 * ```ts
 * if (e instanceof DatasetError && e.code === 'TRUNCATED') console.error(`re-download ${e.path}`);
 * ```
 */
export type DatasetErrorCode =
  | 'NOT_FOUND'
  | 'NOT_A_FOLDER'
  | 'UNKNOWN_LAYOUT'
  | 'EMPTY_CLASS'
  | 'NO_IMAGES'
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'BAD_LABEL'
  | 'MISMATCH'
  | 'CORRUPT_IMAGE'
  | 'UNREADABLE'
  | 'TOO_LARGE'
  | 'EXISTS';

/**
 * A problem with a dataset file or folder. `path` names the file or folder; the message is one
 * sentence that also names it.
 *
 * @example
 * ```ts
 * try {
 *   await openDataset('/data/broken');
 * } catch (e) {
 *   if (e instanceof DatasetError) console.error(e.code, e.path, e.message);
 * }
 * ```
 */
export class DatasetError extends Error {
  /** The file or folder at fault. */
  readonly path: string;
  /** What went wrong, for programs. */
  readonly code: DatasetErrorCode;

  /**
   * @param code - the kind of problem
   * @param path - the file or folder at fault
   * @param message - one sentence naming the path
   * @param options - an optional `cause`
   */
  constructor(code: DatasetErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatasetError';
    this.code = code;
    this.path = path;
  }
}

/** @internal A short description of a thrown value for messages. */
export function reason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const msg = error.message.split('\n')[0]!.replace(/\.$/, '');
    return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  }
  return String(error);
}

/** @internal Formats a count with thousands separators. */
export function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * A problem with a file the user gave us (a model file, a checkpoint, a run folder): one sentence
 * naming the file. The `dlf` command exits with code 1 on it.
 *
 * @example
 * ```ts
 * try {
 *   await readModelFile('model.safetensors');
 * } catch (e) {
 *   if (e instanceof FileError) console.error(e.message, e.path);
 * }
 * ```
 */
export class FileError extends Error {
  /** The file or folder at fault. */
  readonly path: string;
  /**
   * Creates the error.
   *
   * @param path - The file or folder at fault.
   * @param message - One sentence naming the file and what is wrong.
   * @param options - The underlying error as `cause`.
   */
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FileError';
    this.path = path;
  }
}

/**
 * File-system errors as one sentence naming the path and the cause, shared by every package that
 * writes files (the trainer, the CLI), so a full disk reads the same everywhere.
 */

/** The causes worth a plain word, by errno code. */
const CAUSES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'it is in a read-only folder',
  EACCES: 'it is in a read-only folder (permission denied)',
  EPERM: 'the operation is not permitted (permission denied)',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  ENOENT: 'its folder does not exist',
  EEXIST: 'it already exists',
  ELOOP: 'its symbolic links loop',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many files are open',
  EIO: 'the device reported an input/output error',
};

/**
 * The errno code of an error (`'ENOSPC'`, …), or `undefined`.
 *
 * @example
 * ```ts
 * errnoCode(Object.assign(new Error('x'), { code: 'ENOSPC' })); // 'ENOSPC'
 * ```
 */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * One sentence for a failed file operation: what was being done, the path, and the cause in plain
 * words with its errno code, plus `after` (e.g. "the last checkpoint runs/a/ckpt-e2 is intact").
 *
 * @example
 * ```ts
 * describeFsError(enospc, 'write', 'runs/a/metrics.jsonl', 'the last checkpoint runs/a/ckpt-e2 is intact');
 * // 'Cannot write runs/a/metrics.jsonl: the disk is full (ENOSPC); the last checkpoint runs/a/ckpt-e2 is intact.'
 * ```
 */
export function describeFsError(error: unknown, action: string, path: string, after?: string): string {
  const code = errnoCode(error);
  const plain = code ? CAUSES[code] : undefined;
  let cause: string;
  if (plain) cause = `${plain} (${code})`;
  else if (error instanceof Error)
    cause = code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  else cause = String(error);
  return `Cannot ${action} ${path}: ${cause}${after ? `; ${after}` : ''}.`;
}

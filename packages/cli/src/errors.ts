/**
 * Errors of the command line: exit codes and one-sentence messages. The error classes are the
 * trainer's.
 */
export { AbortError, FileError, isAbortError, UsageError } from '@dlf/train';

/** Exit codes of the `dlf` command. */
export const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2, interrupted: 130 });

/**
 * One clear sentence for any thrown value: the first line of the message, with a final full stop.
 * A plain lower-case first word is capitalised; names are kept as written (`dlf`, `seed-cnn`,
 * `model.json`, a path).
 *
 * @example
 * ```ts
 * oneSentence(new Error('bad thing\n    at x')); // 'Bad thing.'
 * oneSentence(new Error('dlf train needs <data>')); // 'dlf train needs <data>.'
 * ```
 */
export function oneSentence(error: unknown): string {
  let msg: string;
  if (error instanceof Error) msg = error.message || error.name;
  else msg = String(error);
  msg = msg.split('\n')[0]!.trim();
  if (msg === '') msg = 'An unknown error occurred';
  if (/^[a-z]+(?![\w./\\-])/.test(msg) && !/^dlf\b/.test(msg))
    msg = msg.charAt(0).toUpperCase() + msg.slice(1);
  return /[.!?)]$/.test(msg) ? (msg.endsWith(')') ? `${msg}.` : msg) : `${msg}.`;
}

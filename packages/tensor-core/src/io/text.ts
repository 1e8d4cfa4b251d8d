/**
 * Text from files (class names, file names, metadata) made safe to print: a name holding an escape
 * sequence must not recolour, move the cursor or retitle the user's terminal.
 */

/** C0 and C1 control characters and DEL, except tab and newline. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Replaces each control character (escape, bell, carriage return, C1 controls, …; not tab or
 * newline) by a visible escape such as `\x1b`, so printed names show what they hold.
 *
 * @example
 * ```ts
 * escapeControl('cat\u001b[31m'); // 'cat\\x1b[31m'
 * ```
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

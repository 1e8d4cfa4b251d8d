/**
 * `@dlf/tensor-core/text`: text helpers that load no native code, for front-ends (the `dlf` command's
 * help and error output) that must work before, or without, the addon.
 *
 * @example
 * ```ts
 * import { escapeControl } from '@dlf/tensor-core/text';
 * console.log(escapeControl('cat\u001b[2J')); // cat\x1b[2J
 * ```
 *
 * @packageDocumentation
 */
export { escapeControl } from './io/text.js';

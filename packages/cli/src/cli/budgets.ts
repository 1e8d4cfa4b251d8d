/**
 * The resource budgets the command line can raise: pixels per image (decoding), and what a model may
 * cost per example (activation bytes, multiply-accumulates, parameters). The libraries name their
 * options (`maxPixels`, `maxMacs`, …) when they refuse a file; on the command line those messages
 * name the flag instead.
 */
import { UsageError } from '../errors.js';
import type { Parsed } from './args.js';

export { withFlagNames } from './flag-names.js';

/** `--max-image-pixels`: the commands that decode images. */
export const IMAGE_BUDGET_OPTIONS = { 'max-image-pixels': { type: 'string' } } as const;

/** `--max-model-*`: the commands that read a model file or description. */
export const MODEL_BUDGET_OPTIONS = {
  'max-model-activations': { type: 'string' },
  'max-model-macs': { type: 'string' },
  'max-model-params': { type: 'string' },
} as const;

const BUDGET_FLAGS = {
  image: [
    [
      '--max-image-pixels <n>',
      'the most pixels (width × height, from its header) decoded from one image (default 40000000); a larger image is skipped (or refused)',
    ],
  ],
  model: [
    [
      '--max-model-activations <bytes>',
      'the most bytes of activations per example a model may need (default 1073741824, 1 GiB)',
    ],
    ['--max-model-macs <n>', 'the most multiply-accumulates per example (default 2e11)'],
    ['--max-model-params <n>', 'the most parameters a model description may declare (default 2^30)'],
  ],
} as const;

/**
 * The help lines of the budget flags, descriptions starting at `column` (each command's help has its
 * own) and wrapped before 100 characters; a flag too long for the column puts its text below it.
 */
export function budgetHelp(which: keyof typeof BUDGET_FLAGS, column: number): string {
  const lines: string[] = [];
  for (const [flag, text] of BUDGET_FLAGS[which]) {
    let line = `  ${flag}`;
    if (line.length + 1 > column) {
      lines.push(line);
      line = '';
    }
    for (const word of text.split(' ')) {
      if (line.length > column && line.length + 1 + word.length > 99) {
        lines.push(line);
        line = '';
      }
      line = line.length < column ? `${line.padEnd(column)}${word}` : `${line} ${word}`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

/** A positive whole count: digits or a number in e-notation (`2e11`), at most 2^53. */
function countFlag(command: string, v: Parsed['values'], name: string): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const s = String(raw).trim().replace(/_/g, '');
  const n = /^\d+(\.\d+)?([eE]\+?\d+)?$/.test(s) ? Number(s) : Number.NaN;
  if (!(Number.isSafeInteger(n) && n >= 1)) {
    throw new UsageError(
      `Expected a whole number ≥ 1 (e.g. 80000000 or 8e7) for --${name} but received '${String(raw)}'.`,
      command,
    );
  }
  return n;
}

/** `--max-image-pixels`, checked (undefined when absent). */
export function imageBudget(command: string, v: Parsed['values']): number | undefined {
  return countFlag(command, v, 'max-image-pixels');
}

/** `--max-model-*`, checked, as the libraries' `ModelBudget` (only the flags given). */
export function modelBudget(
  command: string,
  v: Parsed['values'],
): { maxActivationBytes?: number; maxMacs?: number; maxParams?: number } {
  const activations = countFlag(command, v, 'max-model-activations');
  const macs = countFlag(command, v, 'max-model-macs');
  const params = countFlag(command, v, 'max-model-params');
  return {
    ...(activations !== undefined ? { maxActivationBytes: activations } : {}),
    ...(macs !== undefined ? { maxMacs: macs } : {}),
    ...(params !== undefined ? { maxParams: params } : {}),
  };
}

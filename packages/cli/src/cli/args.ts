import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command accepts. */
export const COMMON: Options = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'no-color': { type: 'boolean' },
  color: { type: 'boolean' },
  threads: { type: 'string' },
};

/** Parsed flags and positionals of one command. */
export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses a command's arguments strictly (unknown flags and missing values are usage errors that
 * name the flag).
 */
export function parse(command: string, argv: string[], options: Options, maxPositionals: number): Parsed {
  let r: ReturnType<typeof parseArgs>;
  try {
    r = parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!;
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) throw new UsageError(`Unknown option ${unknown[1]} for dlf ${command}.`, command);
    const missing = /Option '([^']+)' argument missing/.exec(msg);
    if (missing)
      throw new UsageError(
        `The option ${missing[1]!.replace(/^-\w, /, '').replace(/ <value>$/, '')} needs a value.`,
        command,
      );
    const positional = /Unexpected argument '([^']+)'/.exec(msg);
    if (positional)
      throw new UsageError(`Unexpected argument '${positional[1]}' for dlf ${command}.`, command);
    throw new UsageError(msg.replace(/\.$/, '') + '.', command);
  }
  const values = r.values as Record<string, string | boolean | undefined>;
  if (!values.help && r.positionals.length > maxPositionals) {
    throw new UsageError(
      `Unexpected argument '${r.positionals[maxPositionals]}' for dlf ${command}.`,
      command,
    );
  }
  return { values, positionals: r.positionals };
}

/** An integer flag, or undefined when absent. */
export function intFlag(
  command: string,
  values: Parsed['values'],
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const n = /^[+-]?\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`;
    throw new UsageError(`Expected ${range} for --${name} but received '${s}'.`, command);
  }
  return n;
}

/** A number flag, or undefined when absent. */
export function numFlag(
  command: string,
  values: Parsed['values'],
  name: string,
  min: number,
  max = Infinity,
  openMin = false,
): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const n = s === '' ? Number.NaN : Number(s);
  if (!Number.isFinite(n) || n < min || n > max || (openMin && n === min)) {
    const range =
      openMin && min === 0 && max === Infinity
        ? 'a positive number'
        : max === Infinity
          ? `a number ≥ ${min}`
          : `a number in [${min}, ${max}${max === 1 ? ')' : ']'}`;
    throw new UsageError(`Expected ${range} for --${name} but received '${s}'.`, command);
  }
  return n;
}

/** A string flag restricted to choices. */
export function choiceFlag<T extends string>(
  command: string,
  values: Parsed['values'],
  name: string,
  choices: readonly T[],
): T | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const s = String(v).trim().toLowerCase();
  if (!(choices as readonly string[]).includes(s)) {
    throw new UsageError(
      `Expected one of ${choices.join(', ')} for --${name} but received '${String(v)}'.`,
      command,
    );
  }
  return s as T;
}

/** The largest image side `--input` accepts (as model files do). */
const MAX_SIDE = 8192;

/** Parses `3x32x32` (or `3,32,32`) into [C, H, W]. */
export function parseInputShape(text: string): [number, number, number] {
  const parts = text.split(/[x×,]/).map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1 || p > MAX_SIDE)) {
    throw new UsageError(`Expected --input as CxHxW (e.g. 3x32x32) but received '${text}'.`);
  }
  return parts as [number, number, number];
}

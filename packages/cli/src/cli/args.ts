import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { closest, didYouMean } from './suggest.js';

export { closest, didYouMean, editDistance } from './suggest.js';

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

/** A number as an option value: `-1`, `-0.5`, `-.5`, `-1e-3`. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)[\d.eE+-]*$/;

/**
 * Joins a string option and a following negative number (`--lr -1` → `--lr=-1`) so the number is
 * the option's value (and gets the option's own validation message) rather than "ambiguous".
 */
function attachNegativeValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const long = /^--([^=]+)$/.exec(arg)?.[1];
    const short = /^-([^-])$/.exec(arg)?.[1];
    const name = long ?? (short ? Object.keys(options).find((k) => options[k]!.short === short) : undefined);
    if (name && options[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
    if (arg === '--') {
      out.push(...argv.slice(i + 1));
      break;
    }
  }
  return out;
}

/**
 * Parses a command's arguments strictly (unknown flags and missing values are usage errors that
 * name the flag; a misspelled flag gets a "did you mean"; a negative number is a value).
 */
export function parse(command: string, argv: string[], options: Options, maxPositionals: number): Parsed {
  let r: ReturnType<typeof parseArgs>;
  const all = { ...COMMON, ...options };
  try {
    r = parseArgs({
      args: attachNegativeValues(argv, all),
      options: all,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!;
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) {
      const flag = unknown[1]!;
      const suggestion = flag.startsWith('--')
        ? closest(flag.slice(2).replace(/=.*$/, ''), Object.keys(all))
        : undefined;
      throw new UsageError(
        `Unknown option ${flag} for dlf ${command}${didYouMean(suggestion && `--${suggestion}`)}`,
        command,
      );
    }
    const missing = /Option '([^']+)' argument missing/.exec(msg);
    if (missing)
      throw new UsageError(
        `The option ${missing[1]!.replace(/^-\w, /, '').replace(/ <value>$/, '')} needs a value.`,
        command,
      );
    const noValue = /Option '([^']+)' does not take an argument/.exec(msg);
    if (noValue)
      throw new UsageError(`The option ${noValue[1]!.replace(/^-\w, /, '')} takes no value.`, command);
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
      `Expected one of ${choices.join(', ')} for --${name} but received '${String(v)}'${didYouMean(closest(s, choices))}`,
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

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
 * The edit distance between two strings (insertions, deletions, substitutions and swaps of
 * neighbours each cost 1).
 *
 * @example
 * ```ts
 * editDistance('epoch', 'epochs'); // 1
 * editDistance('trian', 'train');  // 1 (a swap)
 * ```
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The closest of `candidates` to a misspelled `word`, when it is close enough to be a likely typo
 * (at most a third of the word's letters apart, or one is a prefix of the other).
 *
 * @example
 * ```ts
 * closest('epoch', ['epochs', 'lr']); // 'epochs'
 * closest('zzz', ['epochs', 'lr']);   // undefined
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const distance = editDistance(w, c.toLowerCase());
    if (distance < bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(w.length, best.length) / 3));
  const prefix = w.length >= 3 && best.toLowerCase().startsWith(w);
  return bestDistance <= limit || prefix ? best : undefined;
}

/** Ends a sentence: `; did you mean X?` when there is a suggestion, else a full stop. */
export function didYouMean(suggestion: string | undefined): string {
  return suggestion === undefined ? '.' : `; did you mean ${suggestion}?`;
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

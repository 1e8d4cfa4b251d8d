/**
 * Terminal output: results on stdout, messages on stderr, colour only where it belongs (a TTY, no
 * NO_COLOR, no TERM=dumb, no --no-color; FORCE_COLOR forces it), a progress bar on a TTY and plain
 * lines elsewhere, JSON Lines for --json.
 */
import type { Writable } from 'node:stream';
import { escapeControl } from '@dlf/tensor-core/text';
import { withFlagNames } from './flag-names.js';

/** A stream as the CLI sees it. */
export type OutStream = Writable & { isTTY?: boolean; columns?: number };

/** What the CLI runs against (real process streams, or test doubles). */
export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  /** Fires on Ctrl-C. */
  signal?: AbortSignal;
  /** Ends the process at once (used when Ctrl-C arrives while nothing needs saving). */
  exit?: (code: number) => void;
}

/** ANSI styles that become identity functions when colour is off. */
export interface Colors {
  enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

/** Decides whether a stream gets colour. */
export function colorEnabled(stream: OutStream, env: CliIO['env'], noColorFlag = false): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** Colour functions for a stream. */
export function makeColors(enabled: boolean): Colors {
  const wrap =
    (open: number, close: number) =>
    (s: string): string =>
      enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s;
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

/** Writes, ignoring a closed pipe (`dlf … | head`). */
function safeWrite(stream: OutStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // EPIPE and friends: the reader went away.
  }
}

/** The output channels of one command run. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly out: Colors;
  readonly err: Colors;
  readonly #io: CliIO;
  #progressShown = false;

  constructor(io: CliIO, options: { json?: boolean; quiet?: boolean; noColor?: boolean } = {}) {
    this.#io = io;
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    this.out = makeColors(!this.json && colorEnabled(io.stdout, io.env, options.noColor));
    this.err = makeColors(colorEnabled(io.stderr, io.env, options.noColor));
    for (const s of [io.stdout, io.stderr]) {
      if (typeof s.on === 'function' && s.listenerCount?.('error') === 0) s.on('error', () => {});
    }
  }

  /** True when stderr is an interactive terminal (progress bars allowed). */
  get interactive(): boolean {
    return this.#io.stderr.isTTY === true && !this.#io.env.CI;
  }

  /** Terminal width for progress bars. */
  get columns(): number {
    return Math.max(40, Math.min(160, this.#io.stderr.columns ?? 100));
  }

  /** A result line on stdout (human mode). */
  result(line = ''): void {
    if (this.json) return;
    this.clearProgress();
    safeWrite(this.#io.stdout, `${line}\n`);
  }

  /** An informational line on stdout (human mode, not --quiet). */
  info(line = ''): void {
    if (this.json || this.quiet) return;
    this.clearProgress();
    safeWrite(this.#io.stdout, `${line}\n`);
  }

  /** A message on stderr (not --quiet). */
  note(line: string): void {
    if (this.quiet) return;
    this.clearProgress();
    safeWrite(this.#io.stderr, `${line}\n`);
  }

  /**
   * A message on stderr that `--quiet` does not hide: what the user must know to continue
   * (an interruption, where the checkpoint is, a resumed run).
   */
  notice(line: string): void {
    this.clearProgress();
    safeWrite(this.#io.stderr, `${line}\n`);
  }

  /** A warning on stderr (always) and as a JSON event. */
  warn(text: string): void {
    const message = withFlagNames(text);
    this.clearProgress();
    safeWrite(this.#io.stderr, `${this.err.yellow('warning:')} ${escapeControl(message)}\n`);
    this.event({ event: 'warning', message });
  }

  /** An error on stderr. */
  error(message: string): void {
    this.clearProgress();
    safeWrite(this.#io.stderr, `${this.err.red('error:')} ${escapeControl(message)}\n`);
  }

  /** Raw text on stderr (stack traces under DEBUG). */
  raw(text: string): void {
    safeWrite(this.#io.stderr, text);
  }

  /** One JSON Lines event on stdout (--json only). */
  event(obj: Record<string, unknown>): void {
    if (!this.json) return;
    safeWrite(this.#io.stdout, `${JSON.stringify(obj)}\n`);
  }

  /** One JSON document on stdout (--json only). */
  document(obj: unknown): void {
    if (!this.json) return;
    safeWrite(this.#io.stdout, `${JSON.stringify(obj, null, 2)}\n`);
  }

  /** Redraws the progress line on stderr (TTY only). */
  progress(line: string): void {
    if (this.quiet || !this.interactive) return;
    safeWrite(this.#io.stderr, `\r\u001b[2K${line}`);
    this.#progressShown = true;
  }

  /** Removes the progress line. */
  clearProgress(): void {
    if (!this.#progressShown) return;
    safeWrite(this.#io.stderr, '\r\u001b[2K');
    this.#progressShown = false;
  }
}

/** 12,345 */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 98.76 % */
export function percent(x: number, digits = 2): string {
  return `${(100 * x).toFixed(digits)} %`;
}

/** 1m 05s, 12.3s */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  if (m < 60) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A text progress bar of `width` cells. */
export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.floor(f * width);
  const part = f * width - full;
  const partial = full < width ? [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][Math.floor(part * 8)]! : '';
  return '█'.repeat(full) + partial + ' '.repeat(Math.max(0, width - full - (partial ? 1 : 0)));
}

/** Renders rows as aligned columns (numbers right-aligned when `right[i]`). */
export function columns(rows: string[][], right: boolean[] = [], gap = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(gap)
      .trimEnd(),
  );
}

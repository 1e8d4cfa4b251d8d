/**
 * The progress of decoding a dataset (count, rate, ETA): a redrawn line on a terminal, a plain line
 * every few seconds elsewhere, nothing under `--quiet` or `--json`.
 */
import { bar, duration, int, type Output } from './output.js';

/** How often a plain (not a terminal) progress line is printed. */
const PLAIN_EVERY_MS = 10_000;
/** How often the terminal line is redrawn. */
const REDRAW_EVERY_MS = 100;

/**
 * A progress callback for decoding `what` (e.g. "images"): pass it as `onProgress` to
 * `openData`/`openDataset`. The first call starts the clock.
 *
 * @param out - Where to draw (its `--quiet`, `--json` and terminal settings decide how).
 * @param what - The unit counted, plural ("images").
 * @param now - The clock, in milliseconds (tests pass their own).
 * @returns A function taking the number done and the total.
 *
 * @example
 * ```ts
 * const onProgress = decodeProgress(out, 'images');
 * await openData(config, { onProgress });
 * out.clearProgress();
 * ```
 */
export function decodeProgress(
  out: Output,
  what = 'images',
  now: () => number = Date.now,
): (done: number, total: number) => void {
  let start: number | undefined;
  let lastDraw = 0;
  let lastPlain = 0;
  return (done, total) => {
    const t = now();
    if (start === undefined) {
      start = t;
      lastPlain = t;
    }
    const seconds = (t - start) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? (total - done) / rate : Number.NaN;
    const finished = done >= total;
    if (out.interactive) {
      if (t - lastDraw < REDRAW_EVERY_MS && !finished) return;
      lastDraw = t;
      if (finished) {
        out.progress(`decoded ${int(total)} ${what}; writing the decode cache…`);
        return;
      }
      const head = `decoding ${int(done)}/${int(total)} ${what} `;
      const tail = `  ${rate > 0 ? int(rate) : '…'} ${what}/s  eta ${duration(eta)}`;
      const width = Math.max(10, Math.min(30, out.columns - head.length - tail.length - 2));
      out.progress(`${head}${out.err.cyan(bar(done / Math.max(1, total), width))}${tail}`);
    } else if (!out.json && t - lastPlain >= PLAIN_EVERY_MS && !finished) {
      lastPlain = t;
      out.note(`decoding: ${int(done)}/${int(total)} ${what}, ${int(rate)} ${what}/s, eta ${duration(eta)}`);
    }
  };
}

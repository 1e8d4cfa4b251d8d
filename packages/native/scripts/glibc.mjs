// The glibc a linux binary needs: the highest GLIBC_x.y version among its dynamic symbols
// (`objdump -T`, binutils). Shared by check-glibc.mjs (CI) and check-binary.mjs (pack time).
import { execFileSync } from 'node:child_process';

/** The oldest glibc the published linux binaries support (Debian 11, Ubuntu 20.04). */
export const GLIBC_FLOOR = '2.31';

const parts = (version) => version.split('.').map(Number);

/** Compares two dotted versions: negative, zero or positive. */
export function compareVersions(a, b) {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The GLIBC_ versions a binary's dynamic symbols ask for, with one symbol each, newest first. */
export function glibcRequirements(file) {
  const table = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const bySymbol = new Map();
  for (const line of table.split('\n')) {
    const match = /\(?GLIBC_([0-9.]+)\)?\s+(\S+)\s*$/.exec(line);
    if (match && !bySymbol.has(match[1])) bySymbol.set(match[1], match[2]);
  }
  return [...bySymbol]
    .map(([version, symbol]) => ({ version, symbol }))
    .sort((a, b) => compareVersions(b.version, a.version));
}

/** The highest glibc version a binary needs, or undefined when it uses no versioned glibc symbol. */
export function highestGlibc(file) {
  return glibcRequirements(file)[0];
}

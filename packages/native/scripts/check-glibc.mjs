#!/usr/bin/env node
// Fails when a linux binary needs a newer glibc than the floor the packages promise:
//   node packages/native/scripts/check-glibc.mjs [--max 2.31] <binary>...
// Prints each binary's highest GLIBC_ symbol version and the symbol that needs it.
import { compareVersions, GLIBC_FLOOR, highestGlibc } from './glibc.mjs';

const args = process.argv.slice(2);
let max = GLIBC_FLOOR;
const at = args.indexOf('--max');
if (at >= 0) [, max] = args.splice(at, 2);
if (args.length === 0) {
  console.error('usage: check-glibc.mjs [--max 2.31] <binary>...');
  process.exit(2);
}
let failed = false;
for (const file of args) {
  const highest = highestGlibc(file);
  if (!highest) {
    console.log(`${file}: no versioned glibc symbols`);
    continue;
  }
  const ok = compareVersions(highest.version, max) <= 0;
  console.log(
    `${file}: needs glibc ${highest.version} (${highest.symbol}) — ${ok ? 'ok' : 'FAIL'}, limit ${max}`,
  );
  failed ||= !ok;
}
process.exit(failed ? 1 : 0);

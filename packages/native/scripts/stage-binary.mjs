#!/usr/bin/env node
// Copies a built dlf.node into its platform package (npm/<target>/dlf.node) for packing:
//   node packages/native/scripts/stage-binary.mjs [binary] [target]
// binary defaults to this machine's build (packages/native/build/Release/dlf.node); target to the
// ELF's architecture with glibc (linux-x64-gnu, linux-arm64-gnu) or this machine's platform.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformProblems } from './check-binary.mjs';

const nativeRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const binary = resolve(process.argv[2] ?? join(nativeRoot, 'build', 'Release', 'dlf.node'));
if (!existsSync(binary)) {
  console.error(`no binary at ${binary}; build it first (pnpm --filter @dlf/native run build:native)`);
  process.exit(1);
}
const head = readFileSync(binary).subarray(0, 20);
const elfArch =
  head.readUInt32BE(0) === 0x7f454c46 ? { 62: 'x64', 183: 'arm64' }[head.readUInt16LE(18)] : undefined;
const target =
  process.argv[3] ??
  (elfArch
    ? `linux-${elfArch}-gnu`
    : `${process.platform}-${process.arch}${process.platform === 'win32' ? '-msvc' : ''}`);
const dir = join(nativeRoot, '..', '..', 'npm', target);
if (!existsSync(join(dir, 'package.json'))) {
  console.error(`no platform package npm/${target}`);
  process.exit(1);
}
copyFileSync(binary, join(dir, 'dlf.node'));
const problems = platformProblems(dir);
console.log(
  `staged ${binary} -> npm/${target}/dlf.node${problems.length ? `\n  note: ${problems.join('\n  note: ')}` : ''}`,
);

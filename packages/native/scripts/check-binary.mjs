#!/usr/bin/env node
// Pack-time guard (`prepack` of @dlf/native and of every platform package): refuses to make a
// tarball whose binary is missing, built for another platform, or (linux glibc) needs a glibc
// newer than GLIBC_FLOOR. Run in a platform package: checks its dlf.node against its os/cpu/libc.
// Run in @dlf/native: checks dist/ is built and that every platform package it lists as an optional
// dependency has its binary staged, so a release cannot reference empty platform packages.
// DLF_PACK_HOST_BINARY=1 (the packed-install smoke test only; never for publishing) lets a binary
// built against this machine's newer glibc through and checks only this machine's platform package.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions, GLIBC_FLOOR, highestGlibc } from './glibc.mjs';

const ELF_MACHINES = { x64: 0x3e, arm64: 0xb7 };
const nativeRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Problems with the binary of a platform package directory; empty when it may be packed. */
export function platformProblems(dir) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  // The addon is the package's main (dlf.node, or dlf_distributed.node with its bundled libraries).
  const binary = join(dir, pkg.main ?? 'dlf.node');
  if (!existsSync(binary))
    return [`${pkg.name}: ${binary} is missing; build and stage it first (see npm/README.md)`];
  const bundled = readdirSync(dir).filter((f) => /\.so\./.test(f));
  return [binary, ...bundled.map((f) => join(dir, f))].flatMap((file) => fileProblems(pkg, file));
}

function fileProblems(pkg, file) {
  const name = basename(file);
  const head = readFileSync(file).subarray(0, 64);
  const [os] = pkg.os;
  const [cpu] = pkg.cpu;
  if (os === 'linux') {
    if (head.readUInt32BE(0) !== 0x7f454c46) return [`${pkg.name}: ${name} is not an ELF file`];
    const machine = head.readUInt16LE(18);
    if (machine !== ELF_MACHINES[cpu])
      return [`${pkg.name}: ${name} is for ELF machine 0x${machine.toString(16)}, not ${cpu}`];
    if (pkg.libc?.[0] === 'glibc') {
      const highest = highestGlibc(file);
      if (
        highest &&
        compareVersions(highest.version, GLIBC_FLOOR) > 0 &&
        process.env.DLF_PACK_HOST_BINARY !== '1'
      )
        return [
          `${pkg.name}: ${name} needs glibc ${highest.version} (${highest.symbol}); the floor is ${GLIBC_FLOOR} (build it with scripts/portable/build-release.sh)`,
        ];
    }
  }
  return [];
}

function nativeProblems() {
  const pkg = JSON.parse(readFileSync(join(nativeRoot, 'package.json'), 'utf8'));
  const problems = existsSync(join(nativeRoot, 'dist', 'index.js'))
    ? []
    : ['@dlf/native: dist/ is not built'];
  // A smoke test packs only this machine's platform package; a release needs every one listed.
  const hostOnly = process.env.DLF_PACK_HOST_BINARY === '1';
  const host = `@dlf/native-${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}`;
  for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
    if (hostOnly && name !== host) continue;
    const dir = join(nativeRoot, '..', '..', 'npm', name.replace('@dlf/native-', ''));
    problems.push(...(existsSync(dir) ? platformProblems(dir) : [`${name}: no package at ${dir}`]));
  }
  return problems;
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? process.cwd());
  const problems = dir === resolve(nativeRoot) ? nativeProblems() : platformProblems(dir);
  for (const p of problems) console.error(`refusing to pack: ${p}`);
  process.exit(problems.length > 0 ? 1 : 0);
}

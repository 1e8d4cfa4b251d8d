#!/usr/bin/env node
// Copies a built distributed addon and the libraries bundled beside it (scripts/bundle-libs.mjs) into
// its platform package, npm/distributed-<target>/, for packing, with the bundled libraries' Debian
// copyright files into licenses/:
//   node packages/distributed/scripts/stage-binary.mjs [releaseDir] [target] [docRoot]
// releaseDir defaults to this machine's build (packages/distributed/build/Release); target to the
// addon's ELF architecture with glibc (linux-x64-gnu); docRoot (default /) is where usr/share/doc of
// the libraries' packages is: the unpacked Gloo of the release build, or this system.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformProblems } from '../../native/scripts/check-binary.mjs';

const ADDON = 'dlf_distributed.node';
/** The Debian packages of the bundled libraries (names vary by release, hence the patterns). */
const LIBRARY_PACKAGES = /^(libgloo\d|libhiredis[\d.]+|libibverbs\d|libnl-3-\d+|libnl-route-3-\d+)$/;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const release = resolve(process.argv[2] ?? join(root, 'build', 'Release'));
const binary = join(release, ADDON);
if (!existsSync(binary)) {
  console.error(`no addon at ${binary}; build it first (pnpm --filter @dlf/distributed run build:native)`);
  process.exit(1);
}
const head = readFileSync(binary).subarray(0, 20);
const elfArch = { 62: 'x64', 183: 'arm64' }[head.readUInt16LE(18)];
const target = process.argv[3] ?? `linux-${elfArch}-gnu`;
const dir = join(root, '..', '..', 'npm', `distributed-${target}`);
if (!existsSync(join(dir, 'package.json'))) {
  console.error(`no platform package npm/distributed-${target}`);
  process.exit(1);
}
for (const f of readdirSync(dir)) if (f === ADDON || /\.so\./.test(f)) rmSync(join(dir, f));
const libraries = readdirSync(release).filter((f) => /\.so\./.test(f));
for (const f of [ADDON, ...libraries]) copyFileSync(join(release, f), join(dir, f));

const docs = join(resolve(process.argv[4] ?? '/'), 'usr', 'share', 'doc');
const licenses = join(dir, 'licenses');
rmSync(licenses, { recursive: true, force: true });
mkdirSync(licenses);
const copied = [];
for (const pkg of existsSync(docs) ? readdirSync(docs) : []) {
  const copyright = join(docs, pkg, 'copyright');
  if (!LIBRARY_PACKAGES.test(pkg) || !existsSync(copyright)) continue;
  copyFileSync(copyright, join(licenses, `${pkg}.copyright`));
  copied.push(pkg);
}
const problems = platformProblems(dir);
console.log(
  `staged ${binary} and ${libraries.join(', ')} -> npm/distributed-${target}/ (licenses: ${copied.join(', ') || 'none found'})${problems.length ? `\n  note: ${problems.join('\n  note: ')}` : ''}`,
);

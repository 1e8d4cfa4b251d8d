// Copies libgloo and the shared libraries it needs (beyond glibc, libstdc++ and libgcc, which every
// Linux with Node has) beside dlf_distributed.node. The addon is linked with DT_RPATH=$ORIGIN, which
// glibc also applies to its dependencies' dependencies, so a packaged build needs no system package.
// The copies get RPATH $ORIGIN too when patchelf is available. Linux only; elsewhere a no-op.
//   node scripts/bundle-libs.mjs [releaseDir]     (default build/Release)
// DLF_GLOO_LIBRARY_PATH (colon-separated folders) is where the libraries are looked up instead of the
// system's: the release build's unpacked Gloo (scripts/portable/build-release.sh).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, realpathSync, rmSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const release = resolve(
  process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release'),
);
const addon = join(release, 'dlf_distributed.node');
const SYSTEM =
  /^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so)/;

if (process.platform !== 'linux') process.exit(0);
if (!existsSync(addon)) {
  console.error(`bundle-libs: ${addon} is missing; build the addon first`);
  process.exit(1);
}
for (const f of readdirSync(release)) if (/\.so(\.|$)/.test(f)) rmSync(join(release, f));
// Resolve against the system libraries (not earlier copies), then copy each under its soname.
const ldd = execFileSync('ldd', [addon], {
  encoding: 'utf8',
  env: { ...process.env, LD_LIBRARY_PATH: process.env.DLF_GLOO_LIBRARY_PATH ?? '' },
});
const copied = [];
for (const line of ldd.split('\n')) {
  const m = /^\s*(\S+) => (not found|\S+(?= \())/.exec(line);
  if (!m || SYSTEM.test(m[1])) continue;
  if (m[2] === 'not found') {
    console.error(`bundle-libs: ${m[1]} is not found; install libgloo-dev`);
    process.exit(1);
  }
  const target = join(release, m[1]);
  copyFileSync(realpathSync(m[2]), target);
  copied.push(target);
}
let patched = false;
try {
  execFileSync('patchelf', ['--version'], { stdio: 'ignore' });
  for (const lib of copied) execFileSync('patchelf', ['--force-rpath', '--set-rpath', '$ORIGIN', lib]);
  patched = true;
} catch {
  // Without patchelf the addon's own DT_RPATH still covers the chain.
}
console.log(
  `bundle-libs: ${copied.map((p) => basename(p)).join(', ')} beside the addon${patched ? ' (RPATH $ORIGIN)' : ''}`,
);

#!/usr/bin/env node
// `npx dlf-native-build`: compiles the addon from the shipped C++ sources into this package's
// build/Release/dlf.node, which the loader tries before the prebuilt platform package. For a
// platform without a prebuilt binary, or to build with local tuning. Needs CMake >= 3.18 and a
// C++17 compiler; fetches cmake-js with npx when it is not installed.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let cmakeJs;
try {
  cmakeJs = [process.execPath, require.resolve('cmake-js/bin/cmake-js')];
} catch {
  cmakeJs = ['npx', '--yes', 'cmake-js@8.0.0'];
}
const args = [...cmakeJs.slice(1), 'compile', '--out', 'build', '--parallel', '2', ...process.argv.slice(2)];
console.log(`dlf: building the native addon in ${packageRoot}`);
const run = spawnSync(cmakeJs[0], args, {
  cwd: packageRoot,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
if (run.status !== 0) {
  console.error('dlf: the build failed; it needs CMake >= 3.18 and a C++17 compiler on PATH.');
  process.exit(run.status ?? 1);
}
console.log(`dlf: built ${join(packageRoot, 'build', 'Release', 'dlf.node')}`);

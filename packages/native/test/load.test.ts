// The loader in an installed layout: a temporary node_modules holding a copy of the built
// @dlf/native (dist only) and of this machine's platform package, with the binary put into or
// removed from each place. It must take the local build first, then the platform package, and
// otherwise fail with one message that names the platform, what was tried and how to build.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTarget, platformPackageName } from '../src/platform.js';

const nativeRoot = fileURLToPath(new URL('../', import.meta.url));
const built = join(nativeRoot, 'build', 'Release', 'dlf.node');
const work = mkdtempSync(join(tmpdir(), 'dlf-loader-'));
const installed = join(work, 'node_modules', '@dlf', 'native');
const platformDir = join(work, 'node_modules', ...platformPackageName().split('/'));
const localBinary = join(installed, 'build', 'Release', 'dlf.node');
const platformBinary = join(platformDir, 'dlf.node');

beforeAll(() => {
  cpSync(join(nativeRoot, 'dist'), join(installed, 'dist'), { recursive: true });
  cpSync(join(nativeRoot, 'package.json'), join(installed, 'package.json'));
  mkdirSync(platformDir, { recursive: true });
  writeFileSync(
    join(platformDir, 'package.json'),
    JSON.stringify({ name: platformPackageName(), version: '0.1.0' }),
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function place(binary: string, present: boolean): void {
  rmSync(binary, { force: true });
  if (present) {
    mkdirSync(join(binary, '..'), { recursive: true });
    cpSync(built, binary);
  }
}

/** Loads @dlf/native/tensor in a fresh process in the fixture; prints where the binary came from. */
function load(env: Record<string, string> = {}) {
  const script = "import('@dlf/native').then((m) => { m.loadNative(); console.log(m.nativeLocation()); })";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: work,
    encoding: 'utf8',
    // NODE_PATH off: pnpm's shims point it at the workspace's hoisted packages, the platform one included.
    env: { ...process.env, DLF_NATIVE_PATH: '', NODE_PATH: '', ...env },
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

describe('native loader', () => {
  it('the fixture starts from a real build', () => {
    expect(existsSync(built), 'pnpm run build first').toBe(true);
  });

  it('takes the local build before the platform package', () => {
    place(localBinary, true);
    place(platformBinary, true);
    const r = load();
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(localBinary);
  });

  it('takes the platform package when there is no local build', () => {
    place(localBinary, false);
    place(platformBinary, true);
    const r = load();
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(platformBinary);
  });

  it('names the platform, what was tried and how to build when the binary is removed', () => {
    place(localBinary, false);
    place(platformBinary, false);
    const r = load();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`no dlf native addon for ${describeTarget()}, Node ${process.version}.`);
    expect(r.stderr).toContain(`local build: not built (${localBinary})`);
    expect(r.stderr).toContain(`package ${platformPackageName()}: not installed`);
    expect(r.stderr).toContain('npx dlf-native-build');
    expect(r.stderr, 'no stack frames').not.toMatch(/^\s+at /m);
  });

  it('says the platform package is not installed when its folder is gone', () => {
    rmSync(platformDir, { recursive: true, force: true });
    const r = load();
    expect(r.stderr).toContain(`package ${platformPackageName()}: not installed`);
    mkdirSync(platformDir, { recursive: true });
    writeFileSync(
      join(platformDir, 'package.json'),
      JSON.stringify({ name: platformPackageName(), version: '0.1.0' }),
    );
  });

  it('DLF_NATIVE_PATH is the only candidate when set', () => {
    place(localBinary, true);
    const missing = join(work, 'nowhere.node');
    const r = load({ DLF_NATIVE_PATH: missing });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`DLF_NATIVE_PATH: no such file (${missing})`);
    expect(r.stderr).not.toContain('local build');
    expect(load({ DLF_NATIVE_PATH: built }).stdout).toBe(built);
  });
});

// The built `dlf` on a machine where the native addon cannot load (DLF_NATIVE_PATH names a binary
// that is not there, which the loader takes as the only candidate): help and version still work, and
// a command that needs the addon prints the loader's message, without a stack trace.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const launcher = fileURLToPath(new URL('../bin/dlf.js', import.meta.url));
const compiled = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const dlf = (...args: string[]) =>
  spawnSync(process.execPath, [launcher, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DLF_NATIVE_PATH: '/nonexistent/dlf.node', DEBUG: '' },
  });

describe('dlf without the native addon', () => {
  it('is built', () => {
    expect(existsSync(compiled), 'pnpm run build').toBe(true);
  });

  it('prints help and version', () => {
    const help = dlf('--help');
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: dlf <command>');
    const version = dlf('--version');
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('says what is missing and how to build it when a command needs the addon', () => {
    const r = dlf('summary', 'seed-cnn');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no dlf native addon for');
    expect(r.stderr).toContain('DLF_NATIVE_PATH: no such file (/nonexistent/dlf.node)');
    expect(r.stderr).toContain('npx dlf-native-build');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

// The glibc floor check (scripts/check-glibc.mjs) on two fixture libraries built on a glibc 2.36
// machine: one calls arc4random (GLIBC_2.36), the other only memcpy (GLIBC_2.14). Sources beside them.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../scripts/check-glibc.mjs', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const check = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

describe('glibc floor check', () => {
  it('fails on a binary that needs a newer glibc than 2.31, naming the version and symbol', () => {
    const r = check(fixture('needs-glibc-2.36.so'));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('needs glibc 2.36 (arc4random)');
    expect(r.stdout).toContain('FAIL, limit 2.31');
  });

  it('passes a binary within the floor', () => {
    const r = check(fixture('old-glibc.so'));
    expect(r.stdout).toContain('needs glibc 2.14 (memcpy)');
    expect(r.status).toBe(0);
  });

  it('fails when any of several binaries is above the limit, and honours --max', () => {
    expect(check(fixture('old-glibc.so'), fixture('needs-glibc-2.36.so')).status).toBe(1);
    expect(check('--max', '2.36', fixture('needs-glibc-2.36.so')).status).toBe(0);
    expect(check('--max', '2.13', fixture('old-glibc.so')).status).toBe(1);
  });
});

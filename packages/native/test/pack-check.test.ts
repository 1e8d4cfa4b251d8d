// The pack-time guard (scripts/check-binary.mjs, every platform package's `prepack`) on a fixture
// platform package: no binary, a binary for another CPU, one needing a newer glibc, and a good one.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../scripts/check-binary.mjs', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dlf-pack-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'package.json'),
  JSON.stringify({ name: '@dlf/native-linux-x64-gnu', os: ['linux'], cpu: ['x64'], libc: ['glibc'] }),
);
const binary = join(dir, 'dlf.node');
const check = () =>
  spawnSync(process.execPath, [script, dir], {
    encoding: 'utf8',
    env: { ...process.env, DLF_PACK_HOST_BINARY: '' },
  });

describe('pack-time binary check', () => {
  it('refuses a platform package without its binary', () => {
    rmSync(binary, { force: true });
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('refusing to pack: @dlf/native-linux-x64-gnu:');
    expect(r.stderr).toContain('is missing');
  });

  it('refuses a binary built for another CPU', () => {
    const elf = readFileSync(fixture('old-glibc.so'));
    elf.writeUInt16LE(0xb7, 18); // e_machine: AArch64
    writeFileSync(binary, elf);
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ELF machine 0xb7, not x64');
  });

  it('refuses a binary that needs a glibc above the floor', () => {
    copyFileSync(fixture('needs-glibc-2.36.so'), binary);
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('needs glibc 2.36 (arc4random); the floor is 2.31');
  });

  it('accepts an x64 binary within the floor', () => {
    copyFileSync(fixture('old-glibc.so'), binary);
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

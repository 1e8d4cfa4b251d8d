// The built addon carries libgloo and its libraries beside it and finds them through $ORIGIN, so a
// packaged copy works wherever it is unpacked, without libgloo installed.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const release = fileURLToPath(new URL('../build/Release/', import.meta.url));

describe.runIf(process.platform === 'linux')('bundled shared libraries', () => {
  it('resolves libgloo and its dependencies from the addon folder, also after a move', () => {
    const copy = mkdtempSync(join(tmpdir(), 'dlf-bundle-'));
    try {
      cpSync(release, copy, { recursive: true });
      const libs = readdirSync(copy).filter((f) => f.includes('.so'));
      expect(libs).toEqual(expect.arrayContaining(['libgloo.so.0', 'libhiredis.so.0.14', 'libibverbs.so.1']));
      const ldd = execFileSync('ldd', [join(copy, 'dlf_distributed.node')], { encoding: 'utf8' });
      for (const lib of libs) expect(ldd).toContain(`${lib} => ${join(copy, lib)} (`);
      expect(ldd).not.toMatch(/not found/);
      const readelf = execFileSync('readelf', ['-d', join(copy, 'dlf_distributed.node')], {
        encoding: 'utf8',
      });
      expect(readelf).toMatch(/\(RPATH\)\s+Library rpath: \[\$ORIGIN\]/);
      // The moved copy loads and runs a one-rank group.
      const script = `const { ProcessGroup } = require(${JSON.stringify(join(copy, 'dlf_distributed.node'))});
        const g = new ProcessGroup({ rank: 0, size: 1, storeHost: '127.0.0.1', storePort: 0, timeoutMs: 2000, prefix: 't' });
        g.connect().then(() => g.barrier()).then(() => { g.close(); console.log('ok'); });`;
      expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()).toBe('ok');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('loading the addon', () => {
  it('says what it tried and names the platform package when no addon serves', () => {
    const script = `import('@dlf/distributed').then((d) => d.initProcessGroup({ rank: 0, worldSize: 1 }))
      .catch((e) => { console.log(e.message); });`;
    const out = execFileSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, DLF_DISTRIBUTED_NATIVE_PATH: '/nonexistent/dlf_distributed.node' },
    });
    expect(out).toContain('Could not load the dlf distributed addon (Gloo)');
    expect(out).toContain('DLF_DISTRIBUTED_NATIVE_PATH: /nonexistent/dlf_distributed.node does not exist');
    expect(out).toMatch(/optional dependency @dlf\/distributed-(linux|darwin|win32)-/);
  });
});

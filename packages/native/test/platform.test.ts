import { describe, expect, it } from 'vitest';
import { describeTarget, detectLibc, platformPackageName } from '../src/platform.js';

describe('platform package names', () => {
  it('follow <os>-<cpu>[-abi] like the npm/ folders', () => {
    expect(platformPackageName({ platform: 'linux', arch: 'x64', libc: 'gnu' })).toBe(
      '@dlf/native-linux-x64-gnu',
    );
    expect(platformPackageName({ platform: 'linux', arch: 'arm64', libc: 'musl' })).toBe(
      '@dlf/native-linux-arm64-musl',
    );
    expect(platformPackageName({ platform: 'darwin', arch: 'arm64' })).toBe('@dlf/native-darwin-arm64');
    expect(platformPackageName({ platform: 'win32', arch: 'x64' })).toBe('@dlf/native-win32-x64-msvc');
    expect(describeTarget({ platform: 'linux', arch: 'arm64', libc: 'gnu' })).toBe('linux-arm64 (glibc)');
  });

  it('detects glibc on this linux machine', () => {
    if (process.platform === 'linux') expect(detectLibc()).toBe('gnu');
    else expect(detectLibc()).toBeUndefined();
  });
});

/**
 * Which prebuilt-binary package serves this machine. Each is published separately with `os`, `cpu`
 * and `libc` fields, so a package manager installs only the one that matches (the way sharp ships
 * its binaries); `@dlf/native` lists them as exact-version optional dependencies.
 *
 * @packageDocumentation
 */

/** The C library a linux Node runs on: `gnu` (glibc) or `musl`; `undefined` on other systems. */
export type Libc = 'gnu' | 'musl';

/** A platform as the binary packages name it. */
export interface PlatformTarget {
  platform: string;
  arch: string;
  libc?: Libc | undefined;
}

/** Detects glibc from Node's own diagnostic report (no child process, no file reads). */
export function detectLibc(): Libc | undefined {
  if (process.platform !== 'linux') return undefined;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? 'gnu' : 'musl';
}

/** This process's platform. */
export function currentTarget(): PlatformTarget {
  return { platform: process.platform, arch: process.arch, libc: detectLibc() };
}

/**
 * The name of the binary package for a platform, e.g. `@dlf/native-linux-x64-gnu`,
 * `@dlf/native-darwin-arm64`, `@dlf/native-win32-x64-msvc`; `base` names another addon's packages
 * (`@dlf/distributed` gives `@dlf/distributed-linux-x64-gnu`).
 *
 * @example
 * ```ts
 * platformPackageName({ platform: 'linux', arch: 'arm64', libc: 'gnu' }); // '@dlf/native-linux-arm64-gnu'
 * ```
 */
export function platformPackageName(target: PlatformTarget = currentTarget(), base = '@dlf/native'): string {
  const abi =
    target.platform === 'linux' ? `-${target.libc ?? 'gnu'}` : target.platform === 'win32' ? '-msvc' : '';
  return `${base}-${target.platform}-${target.arch}${abi}`;
}

/** A readable platform, e.g. `linux-arm64 (glibc)`. */
export function describeTarget(target: PlatformTarget = currentTarget()): string {
  const libc = target.libc === 'gnu' ? ' (glibc)' : target.libc === 'musl' ? ' (musl)' : '';
  return `${target.platform}-${target.arch}${libc}`;
}

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeBinding } from './binding.js';
import { describeTarget, platformPackageName } from './platform.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..');
const require = createRequire(import.meta.url);

/** The command that builds the addon from source where a compiler exists (runs cmake-js). */
export const BUILD_FROM_SOURCE_COMMAND = 'npx dlf-native-build';

/**
 * The addon could not be loaded. Its message says which platform, what was tried and how to get a
 * binary; it carries no stack trace, since the place it was thrown from does not help the reader.
 */
export class NativeLoadError extends Error {
  /** Always `'NativeLoadError'`: how code that cannot import this class recognises the error. */
  override readonly name = 'NativeLoadError';
  /** Each place looked at, with why it did not serve. */
  declare readonly tried: readonly string[];
  /**
   * @param message - the whole explanation: platform, what was tried, how to get a binary
   * @param tried - each place looked at, with why it did not serve
   * @param cause - the last load error, when a binary existed but did not load
   */
  constructor(message: string, tried: readonly string[], cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    // Not enumerable, so an uncaught error prints as its message alone.
    Object.defineProperty(this, 'tried', { value: tried, enumerable: false });
    this.stack = `${this.name}: ${message}`;
  }
}

/** One place a binary may come from, in the order the loader tries them. */
export interface Candidate {
  what: string;
  path: string | undefined;
  missing: string;
}

/**
 * Where the loader looks, best first: a local build, then the platform package. `DLF_NATIVE_PATH`
 * replaces both: an explicit binary never silently falls back to another one.
 */
export function nativeCandidates(): Candidate[] {
  const explicit = process.env['DLF_NATIVE_PATH'];
  if (explicit) return [{ what: 'DLF_NATIVE_PATH', path: explicit, missing: 'no such file' }];
  const platformPackage = platformPackageName();
  let platformBinary: string | undefined;
  try {
    platformBinary = join(dirname(require.resolve(`${platformPackage}/package.json`)), 'dlf.node');
  } catch {
    platformBinary = undefined;
  }
  return [
    { what: 'local build', path: join(packageRoot, 'build', 'Release', 'dlf.node'), missing: 'not built' },
    { what: `package ${platformPackage}`, path: platformBinary, missing: 'not installed' },
  ];
}

function failure(tried: string[], cause: unknown): NativeLoadError {
  const platform = describeTarget();
  return new NativeLoadError(
    [
      `no dlf native addon for ${platform}, Node ${process.version}.`,
      'Tried:',
      ...tried.map((line) => `  - ${line}`),
      `Prebuilt binaries come with the optional dependency ${platformPackageName()}: reinstall without`,
      '--no-optional / --omit=optional, or check that the package exists for this platform.',
      `Or build from source (CMake >= 3.18 and a C++17 compiler): ${BUILD_FROM_SOURCE_COMMAND}`,
    ].join('\n'),
    tried,
    cause,
  );
}

let cached: NativeBinding | undefined;
let cachedFrom: string | undefined;

/**
 * Where the loaded addon came from (`undefined` before the first {@link loadNative}).
 *
 * @example
 * ```ts
 * loadNative();
 * console.log(nativeLocation()); // …/node_modules/@dlf/native-linux-x64-gnu/dlf.node
 * ```
 */
export function nativeLocation(): string | undefined {
  return cachedFrom;
}

/**
 * Loads the addon once and returns it: a local build first (a clone, or `npx dlf-native-build`),
 * then the platform's binary package. Throws a {@link NativeLoadError} naming the platform, what
 * was tried and how to build from source when neither serves. `DLF_NATIVE_PATH` names the one
 * binary to load instead.
 *
 * @example
 * ```ts
 * import { loadNative } from '@dlf/native';
 * console.log(loadNative().version); // '0.1.0'
 * ```
 */
export function loadNative(): NativeBinding {
  if (cached) return cached;
  const expected = (require(join(packageRoot, 'package.json')) as { version: string }).version;
  const found = loadFirstAddon<NativeBinding, Candidate>(
    nativeCandidates(),
    (c) => `${c.missing}${c.path ? ` (${c.path})` : ''}`,
    (binding) => {
      if (binding.version !== expected)
        throw new Error(`it is version ${binding.version}, @dlf/native is ${expected}`);
    },
  );
  if ('tried' in found) throw failure(found.tried, found.lastError);
  cached = found.binding;
  cachedFrom = found.path;
  return found.binding;
}

/** What {@link loadFirstAddon} found: a binding and its path, or each place tried and the last load error. */
export type AddonAttempt<T> = { binding: T; path: string } | { tried: string[]; lastError: unknown };

/**
 * Loads the first candidate binary that exists, loads and passes `accept` (which throws to refuse
 * one); otherwise returns each place tried, as `<what>: <why>`, for the caller's error message. The
 * one load loop of dlf's addons (this package's and `@dlf/distributed`'s); each resolves its own
 * candidates, since a platform package resolves only from the package that depends on it.
 *
 * @example
 * ```ts
 * const found = loadFirstAddon([{ what: 'local build', path: 'build/Release/x.node' }], () => 'not built');
 * if ('binding' in found) console.log(found.path);
 * ```
 */
export function loadFirstAddon<
  T,
  C extends { what: string; path: string | undefined } = { what: string; path: string | undefined },
>(
  candidates: readonly C[],
  describeMissing: (candidate: C) => string,
  accept: (binding: T) => void = () => {},
): AddonAttempt<T> {
  const tried: string[] = [];
  let lastError: unknown;
  for (const candidate of candidates) {
    const { what, path } = candidate;
    if (!path || !existsSync(path)) {
      tried.push(`${what}: ${describeMissing(candidate)}`);
      continue;
    }
    try {
      const binding = require(path) as T;
      accept(binding);
      return { binding, path };
    } catch (error) {
      lastError = error;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      tried.push(`${what}: ${path} did not load: ${reason}`);
    }
  }
  return { tried, lastError };
}

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeBinding } from './binding.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..');

function loadFailure(tried: string[], cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    [
      `Could not load the dlf native addon for ${process.platform}-${process.arch} (Node ${process.version}).`,
      `Tried: ${tried.join(', ')}.`,
      `Reason: ${reason}`,
      'Possible solutions:',
      '- In a clone of the dlf repository, build it: `pnpm install && pnpm run build` (needs cmake >= 3.20 and a C++17 compiler).',
      '- Check that the build finished: packages/native/build/Release/dlf.node must exist.',
      '- Set DLF_NATIVE_PATH to the full path of a dlf.node built for this platform.',
    ].join('\n'),
    { cause },
  );
}

let cached: NativeBinding | undefined;

/**
 * Loads the addon once and returns it. Throws an `Error` that says what to do when the binary is
 * missing or was built for another platform or version.
 */
export function loadNative(): NativeBinding {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const candidates = [
    process.env['DLF_NATIVE_PATH'],
    join(packageRoot, 'build', 'Release', 'dlf.node'),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const existing = candidates.filter((p) => existsSync(p));
  if (existing.length === 0) throw loadFailure(candidates, new Error('no built binary was found'));
  let lastError: unknown;
  for (const path of existing) {
    try {
      const binding = require(path) as NativeBinding;
      const expected = (require(join(packageRoot, 'package.json')) as { version: string }).version;
      if (binding.version !== expected) {
        throw new Error(
          `the binary is version ${binding.version} but @dlf/native is ${expected}; rebuild it`,
        );
      }
      cached = binding;
      return binding;
    } catch (error) {
      lastError = error;
    }
  }
  throw loadFailure(existing, lastError);
}

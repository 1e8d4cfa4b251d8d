/**
 * Loads the Gloo addon on first use only, so dlf users who never train on several processes never
 * need Gloo or its libraries.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentTarget, describeTarget, loadFirstAddon, platformPackageName } from '@dlf/native';

const require = createRequire(import.meta.url);

/** Options of the native process group (already checked and resolved by {@link initProcessGroup}). */
export interface NativeGroupOptions {
  rank: number;
  size: number;
  timeoutMs: number;
  prefix: string;
  iface?: string;
  hostname?: string;
  /** A file store folder (one host) … */
  filePath?: string;
  /** … or the TCP store that rank 0 hosts. */
  storeHost?: string;
  storePort?: number;
}

/** The addon's process group: collectives run on its communication thread, in issue order. */
export interface NativeProcessGroup {
  readonly storePort: number;
  connect(): Promise<void>;
  allreduce(data: Float32Array, op: 'sum' | 'avg'): Promise<void>;
  broadcast(data: Float32Array, root: number): Promise<void>;
  barrier(): Promise<void>;
  close(): void;
}

interface NativeDistributed {
  version: string;
  ProcessGroup: new (options: NativeGroupOptions) => NativeProcessGroup;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
let cached: NativeDistributed | undefined;
let cachedFrom: string | undefined;

/** Where the loader looks, best first: `DLF_DISTRIBUTED_NATIVE_PATH` alone, or a local build, then the platform package. */
function candidates(): { what: string; path: string | undefined }[] {
  const explicit = process.env['DLF_DISTRIBUTED_NATIVE_PATH'];
  if (explicit) return [{ what: 'DLF_DISTRIBUTED_NATIVE_PATH', path: explicit }];
  const name = platformPackageName(currentTarget(), '@dlf/distributed');
  let packaged: string | undefined;
  try {
    packaged = join(dirname(require.resolve(`${name}/package.json`)), 'dlf_distributed.node');
  } catch {
    packaged = undefined;
  }
  return [
    { what: 'local build', path: join(packageRoot, 'build', 'Release', 'dlf_distributed.node') },
    { what: `package ${name}`, path: packaged },
  ];
}

/** Where the loaded addon came from (`undefined` before the first process group). */
export function distributedNativeLocation(): string | undefined {
  return cachedFrom;
}

/** Loads the addon once; the error says what to install or build when it cannot. */
export function loadDistributedNative(): NativeDistributed {
  if (cached) return cached;
  const found = loadFirstAddon<NativeDistributed>(candidates(), ({ path }) =>
    path ? `${path} does not exist` : 'not installed',
  );
  if ('binding' in found) {
    cached = found.binding;
    cachedFrom = found.path;
    return found.binding;
  }
  const { tried, lastError } = found;
  const name = platformPackageName(currentTarget(), '@dlf/distributed');
  throw new Error(
    [
      `Could not load the dlf distributed addon (Gloo) for ${describeTarget()}.`,
      'Tried:',
      ...tried.map((line) => `  - ${line}`),
      'Possible solutions:',
      `- Prebuilt: the optional dependency ${name} carries the addon and libgloo; reinstall without --no-optional / --omit=optional.`,
      '- In a clone of the dlf repository: `apt-get install libgloo-dev`, then `pnpm run build`.',
      '- Set DLF_DISTRIBUTED_NATIVE_PATH to a dlf_distributed.node built for this platform.',
    ].join('\n'),
    lastError === undefined ? undefined : { cause: lastError },
  );
}

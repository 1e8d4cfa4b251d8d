/**
 * Loads the Gloo addon on first use only, so dlf users who never train on several processes never
 * need Gloo or its libraries.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Loads the addon once; the error says what to install or build when it cannot. */
export function loadDistributedNative(): NativeDistributed {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const path =
    process.env['DLF_DISTRIBUTED_NATIVE_PATH'] ||
    join(packageRoot, 'build', 'Release', 'dlf_distributed.node');
  try {
    if (!existsSync(path)) throw new Error(`${path} does not exist`);
    cached = require(path) as NativeDistributed;
    return cached;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      [
        `Could not load the dlf distributed addon (Gloo) for ${process.platform}-${process.arch}.`,
        `Reason: ${reason}`,
        'Possible solutions:',
        '- In a clone of the dlf repository: `apt-get install libgloo-dev`, then `pnpm run build`.',
        '- A packaged build carries libgloo beside the .node; check that build/Release holds libgloo.so.0.',
        '- Set DLF_DISTRIBUTED_NATIVE_PATH to a dlf_distributed.node built for this platform.',
      ].join('\n'),
      { cause },
    );
  }
}

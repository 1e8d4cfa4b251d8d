/**
 * Checks of the flags that name files, folders and hosts, made before any dataset is scanned or
 * decoded and before a launcher starts a process: a bad value is a usage error (exit code 2) in one
 * sentence naming the flag.
 */
import { existsSync, readdirSync, type Stats, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, resolve } from 'node:path';
import { datasetSource } from '@dlf/data';
import { checkRunFolderPath, loadRunConfig, resolveConfig, type TrainConfig } from '@dlf/train';
import { FileError, oneSentence, UsageError } from '../errors.js';
import { closest, didYouMean, intFlag, type Parsed } from './args.js';
import { isFollowerRank } from './distributed.js';

/**
 * A file-system problem with a flag's value as a usage error that names the flag; other errors
 * (already usage errors naming their flag) are returned as they are.
 */
export function flagError(command: string, flag: string, e: unknown): unknown {
  if (!(e instanceof FileError)) return e;
  return new UsageError(`${oneSentence(e).replace(/\.$/, '')}; check --${flag}.`, command);
}

/** Runs `check`, turning a file-system problem into a usage error naming `flag`. */
async function asFlag(command: string, flag: string, check: () => unknown): Promise<void> {
  try {
    await check();
  } catch (e) {
    throw flagError(command, flag, e);
  }
}

/** The stat of a path, or undefined when nothing can be found there (missing, or under a file). */
function statOf(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** A host name or an IPv4/IPv6 address (no spaces, no scheme, no port). */
const HOST =
  /^(\[?[0-9a-fA-F:.]+\]?|[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*\.?)$/;

/** The distributed flags' values (`--master-addr`, `--master-port`, `--dist-timeout`, `--iface`). */
export function checkDistributedFlags(command: string, v: Parsed['values']): void {
  intFlag(command, v, 'master-port', 1, 65535);
  intFlag(command, v, 'dist-timeout', 1, 86_400);
  const addr = v['master-addr'];
  if (addr !== undefined && !HOST.test(String(addr))) {
    throw new UsageError(
      `Expected a host name or IP address (no scheme or port) for --master-addr but received '${String(addr)}'.`,
      command,
    );
  }
  const iface = v.iface;
  if (iface !== undefined) {
    const names = Object.keys(networkInterfaces());
    if (!names.includes(String(iface))) {
      const near = closest(String(iface), names);
      throw new UsageError(
        `Expected a network interface of this host (${names.join(', ')}) for --iface but received '${String(iface)}'${didYouMean(near)}`,
        command,
      );
    }
  }
}

/**
 * Everything `dlf train` can check without reading data: the settings (a recipe's name, a resumed
 * run's config.json and the flags that must match it), the run folder, the distributed flags, and
 * that the data folder exists when processes are about to be launched for it.
 */
export async function checkTrainFlags(
  command: string,
  v: Parsed['values'],
  config: Partial<TrainConfig>,
  launching: boolean,
): Promise<void> {
  checkDistributedFlags(command, v);
  // A launched rank other than 0 uses rank 0's run folder (rank 0 checks and locks it).
  const follower = isFollowerRank();
  if (v.resume !== undefined) {
    const runDir = resolve(String(v.resume));
    await asFlag(command, 'resume', () => loadRunConfig(runDir, config, { checkLock: !follower }));
  } else {
    resolveConfig(config);
  }
  if (v.out !== undefined && !follower) await asFlag(command, 'out', () => checkRunFolderPath(String(v.out)));
  const data = config.data;
  if (launching && data !== undefined && !datasetSource(data) && !existsSync(resolve(data))) {
    throw new FileError(resolve(data), `The dataset folder ${resolve(data)} does not exist.`);
  }
}

/**
 * `--model <file>`: a model.json or .safetensors file must exist and be a file.
 */
export function checkModelFile(command: string, spec: string): void {
  const st = statOf(spec);
  if (st === undefined)
    throw new UsageError(`The model file ${spec} does not exist; check --model.`, command);
  if (!st.isFile())
    throw new UsageError(`The model file ${spec} is a folder, not a file; check --model.`, command);
}

/** `--plot <file.png>`: a PNG file name in an existing folder (not a folder itself). */
export function checkPlotPath(command: string, plot: string): string {
  const path = resolve(plot);
  if (!/\.png$/i.test(path))
    throw new UsageError(`Expected a .png file name for --plot but received '${plot}'.`, command);
  if (statOf(path)?.isDirectory())
    throw new UsageError(`The --plot file ${path} is a folder; give a .png file name.`, command);
  const folder = statOf(dirname(path));
  if (!folder?.isDirectory()) {
    throw new UsageError(
      `The folder of --plot ${path} ${folder ? 'is a file' : 'does not exist'}; give a .png file in an existing folder.`,
      command,
    );
  }
  return path;
}

/** `dlf export`'s <folder>: not a file, and empty unless `--overwrite`. */
export function checkExportFolder(command: string, folder: string, overwrite: boolean): void {
  const path = resolve(folder);
  for (let p = path; ; p = dirname(p)) {
    const st = statOf(p);
    if (st && !st.isDirectory())
      throw new UsageError(`Cannot export to ${path}: ${p} is a file, not a folder.`, command);
    if (st || dirname(p) === p) break;
  }
  if (!overwrite && existsSync(path) && statSync(path).isDirectory()) {
    if (readdirSync(path).length > 0)
      throw new UsageError(
        `${path} already exists and is not empty; add --overwrite to replace it.`,
        command,
      );
  }
}

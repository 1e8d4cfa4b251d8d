import { readdirSync, type Stats, statSync } from 'node:fs';
import type { Dataset } from './dataset.js';
import { DatasetError, reason } from './errors.js';
import { resizeDataset } from './resize.js';

/** `statSync` with a {@link DatasetError} naming the path. */
export function statOrThrow(path: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new DatasetError('NOT_FOUND', path, `The dataset folder ${path} does not exist.`, { cause: e });
    throw new DatasetError('UNREADABLE', path, `Cannot read ${path} (${reason(e)}).`, { cause: e });
  }
}

/** The visible entries of a folder (dot files skipped), with a {@link DatasetError} naming it. */
export function listFolder(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch (e) {
    throw new DatasetError('UNREADABLE', dir, `Cannot read the folder ${dir} (${reason(e)}).`, { cause: e });
  }
}

/** Resizes (or converts the channels of) a dataset only when a size or channel count is asked for. */
export function resizeIfAsked(
  ds: Dataset,
  o: { size?: number | readonly [number, number]; channels?: 1 | 3 },
): Dataset {
  return o.size === undefined && o.channels === undefined ? ds : resizeDataset(ds, o);
}

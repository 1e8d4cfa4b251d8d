import { readFileSync } from 'node:fs';

/**
 * The `version` of the package.json at `url` ('0.0.0' when it cannot be read).
 *
 * @example
 * ```ts
 * packageVersion(new URL('../package.json', import.meta.url)); // '0.1.0'
 * ```
 */
export function packageVersion(url: URL): string {
  try {
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The version of @dlf/train (from its package.json), written into checkpoints and model files. */
export const VERSION: string = packageVersion(new URL('../package.json', import.meta.url));

import { packageVersion } from '@dlf/train';

/** The version of @dlf/cli (from its package.json). */
export const VERSION: string = packageVersion(new URL('../package.json', import.meta.url));

import { createRequire } from 'node:module';

/** The version of @dlf/cli (from its package.json; read without loading the trainer or the addon). */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string })
  .version;

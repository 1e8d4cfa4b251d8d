#!/usr/bin/env node
// The `dlf` executable. It is a committed file (not the compiled dist/bin.js itself) so that package
// managers can link it at install time, before the first build; it loads the compiled CLI.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    "error: @dlf/cli is not built yet; run 'npm run setup' (or 'pnpm install && pnpm run build') in the repository first.\n",
  );
  process.exit(1);
}
await import(entry.href);

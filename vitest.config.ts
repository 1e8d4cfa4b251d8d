import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import packages by name; point each @dlf/* name (and subpath, such as @dlf/native/nn) at its
// TypeScript source so tests never depend on a stale dist/. The native addon itself must be built
// (pnpm run build).
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = readdirSync(packagesDir)
  .filter((name) => existsSync(`${packagesDir}${name}/src/index.ts`))
  .flatMap((name) => [
    { find: new RegExp(`^@dlf/${name}$`), replacement: `${packagesDir}${name}/src/index.ts` },
    { find: new RegExp(`^@dlf/${name}/(\\w+)$`), replacement: `${packagesDir}${name}/src/$1.ts` },
  ]);

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'fuzz/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

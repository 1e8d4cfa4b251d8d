import { defineConfig } from 'vitest/config';
import base from '../vitest.config.js';

// The fuzzers run with the workspace's aliases (sources, not dist), one target per test, with no
// timeout beyond what the long mode needs.
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['fuzz/**/*.fuzz.ts'],
    pool: 'forks',
    testTimeout: 6 * 60 * 60 * 1000,
  },
});

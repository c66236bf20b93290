import { configDefaults, defineConfig } from 'vitest/config';
import { NEEDS_SHARED, sharedMissing } from './test/shared.js';

// Without the shared models and corpus, the files that need them are left out;
// test/shared.test.ts lists each one as skipped, with the reason.
if (sharedMissing) console.warn(`lmzip tests: ${NEEDS_SHARED.length} test files skipped: ${sharedMissing}`);

// Model tests are CPU-bound on a 2-core machine: run test files one at a time so
// they do not fight over cores (ggml's thread barrier degrades badly when they do).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: sharedMissing ? [...configDefaults.exclude, ...NEEDS_SHARED] : configDefaults.exclude,
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});

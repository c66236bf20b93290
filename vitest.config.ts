import { defineConfig } from 'vitest/config';

// Model tests are CPU-bound on a 2-core machine: run test files one at a time so
// they do not fight over cores (ggml's thread barrier degrades badly when they do).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});

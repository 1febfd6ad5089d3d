import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Dawn (webgpu) is a native addon: run each test file in its own child process rather
    // than in worker threads, so a native abort cannot take down other files and each file
    // gets its own Dawn instance. Default parallelism (one fork per core) is kept.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

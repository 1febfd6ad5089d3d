import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Dawn (webgpu) is a native addon: run each test file in its own child process rather
    // than in worker threads, so a native abort cannot take down other files and each file
    // gets its own Dawn instance. Default parallelism (one fork per core) is kept.
    pool: 'forks',
    testTimeout: 60_000,
    // Runs a test starts without --run-dir go to a temporary directory, not into the checkout.
    env: { MDLC_RUNS_DIR: join(tmpdir(), 'mdlc-test-runs') },
    hookTimeout: 60_000,
  },
});

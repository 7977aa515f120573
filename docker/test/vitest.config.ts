import { defineConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.config.js';

// Not part of `pnpm test`: needs a Docker engine and a built image (.ci/docker-image runs it).
export default defineConfig({
  ...sharedConfig,
  test: {
    ...sharedConfig.test,
    include: ['docker/test/**/*.test.ts'],
    typecheck: { enabled: false },
    testTimeout: 120_000,
    hookTimeout: 240_000,
  },
});

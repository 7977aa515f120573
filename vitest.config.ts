import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import every workspace package from its source, so no build step runs before them.
const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export const sharedConfig = defineConfig({
  resolve: {
    alias: {
      '@switchyard/protocol': src('protocol'),
      '@switchyard/gateway': src('gateway'),
      '@switchyard/client': src('client'),
      '@switchyard/mongo-standin': src('mongo-standin'),
      '@switchyard/mongo-adapter': src('mongo-adapter'),
    },
  },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Type tests (*.test-d.ts) lock the shared contract: a renamed payload field fails the run.
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: fileURLToPath(new URL('./tsconfig.json', import.meta.url)) },
  },
});

export default defineConfig({
  ...sharedConfig,
  test: {
    ...sharedConfig.test,
    projects: ['./packages/*'],
  },
});

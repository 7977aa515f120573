import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import every workspace package from its source, so no build step runs before them.
const source = (file: string) => fileURLToPath(new URL(`./packages/${file}`, import.meta.url));

export const sharedConfig = defineConfig({
  resolve: {
    alias: [
      { find: /^@switchyard\/client\/subscribe$/, replacement: source('client/src/subscribe.ts') },
      {
        find: /^@switchyard\/(protocol|gateway|client|mongo-standin|mongo-adapter|testkit)$/,
        replacement: source('$1/src/index.ts'),
      },
    ],
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
    // Most test files spend their time waiting (timers, JWT expiry in whole seconds, elections), so two
    // files at a time even on two cores; vitest's own default there would be one.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});

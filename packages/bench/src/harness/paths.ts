import { fileURLToPath } from 'node:url';

/** The monorepo root: children run with it as cwd so `--import tsx` resolves. */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** Absolute path of a TypeScript file in this package's `src/`. */
export function benchSource(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

/** Absolute path of a file in another workspace package, e.g. `packages/gateway/src/index.ts`. */
export function workspaceFile(relative: string): string {
  return fileURLToPath(new URL(relative, new URL('../../../../', import.meta.url)));
}

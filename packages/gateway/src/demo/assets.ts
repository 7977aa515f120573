import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Where the demo page and the SDK's browser bundles come from, the same way whether the gateway
 * runs from this repository or from an npm install: the demo page ships in this package, the
 * bundles in the `@switchyard/client` dependency (its `dist/browser/`), found as Node finds that
 * dependency. Nothing here depends on the repository's layout.
 */

/** This package's `demo/` (the same two levels up from `src/plugins/` and `dist/plugins/`). */
export const DEFAULT_DEMO_DIR = fileURLToPath(new URL('../../demo/', import.meta.url));

/** The browser bundles served under `/sdk/`: the SDK (with socket.io-client) and the SSE-only entry. */
export const SDK_BUNDLES = ['switchyard.js', 'subscribe.js'] as const;
export type SdkBundle = (typeof SDK_BUNDLES)[number];

/** `dist/browser/` of the installed `@switchyard/client`, or undefined when it cannot be resolved. */
export function installedSdkDir(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@switchyard/client/package.json');
    return join(dirname(manifest), 'dist', 'browser');
  } catch {
    return undefined;
  }
}

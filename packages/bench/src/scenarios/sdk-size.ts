import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { workspaceFile } from '../harness/paths.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import { attempt, type Scenario } from './types.js';
import { packageExists } from './targets.js';

const BASELINE = 'socket.io-client alone';

const METRICS: MetricSpec[] = [
  { key: 'minified', label: 'minified', unit: 'bytes', showDelta: true },
  { key: 'gzip', label: 'min+gzip', unit: 'bytes', showDelta: true, target: { kind: 'max-delta', value: 3 * 1024 } },
];

/** Bundles an entry the way a browser app would: ESM, minified, tree-shaken, workspace packages from source. */
async function bundleSize(contents: string): Promise<{ minified: number; gzip: number }> {
  const result = await build({
    stdin: { contents, resolveDir: workspaceFile('packages/bench/'), loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    conditions: ['@switchyard/source'],
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no output');
  return { minified: output.contents.length, gzip: gzipSync(output.contents, { level: 9 }).length };
}

export const sdkSizeScenario: Scenario = {
  id: 'sdk',
  title: 'Client SDK size',
  description:
    'The browser bundle of `@switchyard/client` (its whole public API) against an app that imports `io` from `socket.io-client` alone: esbuild, ESM, minified, tree-shaken, gzip level 9. The SDK bundle includes socket.io-client, so the difference is what the SDK adds. Sizes are deterministic: one build each.',
  async run() {
    const failures: string[] = [];
    const notes: string[] = [];
    const table = new TableBuilder('**Browser bundle**', BASELINE, METRICS);
    await attempt(failures, BASELINE, async () =>
      table.add(BASELINE, await bundleSize("export { io } from 'socket.io-client';")),
    );
    if (packageExists('client')) {
      await attempt(failures, '@switchyard/client', async () =>
        table.add(
          '@switchyard/client (SDK + socket.io-client)',
          await bundleSize("export * from '@switchyard/client';"),
        ),
      );
    } else notes.push('The client package is not written yet in this checkout: its row is missing.');
    return { tables: [table.build()], notes, failures };
  },
};

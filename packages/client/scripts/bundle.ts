/**
 * Builds the browser bundle `dist/browser/switchyard.js`: the SDK and socket.io-client in one
 * minified ES module, which the gateway serves at `/sdk/switchyard.js`. Also measures what the SDK
 * adds over socket.io-client alone (the budget is +3 KB min+gzip).
 *
 * Run: `pnpm --filter @switchyard/client bundle` (or `tsx scripts/bundle.ts [outfile]`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const defaultOutfile = resolve(packageDir, 'dist/browser/switchyard.js');
/** The receive-only entry (`@switchyard/client/subscribe`): SSE, no socket.io-client. */
export const subscribeOutfile = (outfile: string) => resolve(dirname(outfile), 'subscribe.js');

export interface BundleReport {
  outfile: string;
  /** Minified bytes of the SDK bundle. */
  bytes: number;
  /** Gzipped bytes of the SDK bundle. */
  gzipBytes: number;
  /** Gzipped bytes of socket.io-client alone, built the same way. */
  socketIoGzipBytes: number;
  /** What the SDK adds over socket.io-client, gzipped. */
  overheadGzipBytes: number;
}

const shared: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  // Bundle workspace packages from source, so no prior `tsc -b` is needed.
  conditions: ['@switchyard/source'],
  absWorkingDir: packageDir,
  write: false,
  logLevel: 'silent',
};

async function minified(options: BuildOptions): Promise<Uint8Array> {
  const result = await build({ ...shared, ...options });
  const file = result.outputFiles?.[0];
  if (file === undefined) throw new Error('esbuild produced no output');
  return file.contents;
}

export async function bundle(outfile: string = defaultOutfile): Promise<BundleReport> {
  const sdk = await minified({ entryPoints: [resolve(packageDir, 'src/index.ts')] });
  const socketIo = await minified({
    stdin: { contents: "export { io } from 'socket.io-client';", resolveDir: packageDir, loader: 'js' },
  });
  const listenOnly = await minified({ entryPoints: [resolve(packageDir, 'src/subscribe.ts')] });
  await mkdir(dirname(outfile), { recursive: true });
  await writeFile(outfile, sdk);
  await writeFile(subscribeOutfile(outfile), listenOnly);
  const gzipBytes = gzipSync(sdk, { level: 9 }).length;
  const socketIoGzipBytes = gzipSync(socketIo, { level: 9 }).length;
  return { outfile, bytes: sdk.length, gzipBytes, socketIoGzipBytes, overheadGzipBytes: gzipBytes - socketIoGzipBytes };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = await bundle(process.argv[2] === undefined ? defaultOutfile : resolve(process.argv[2]));
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(
    `${report.outfile}: ${kb(report.bytes)} min, ${kb(report.gzipBytes)} min+gzip ` +
      `(socket.io-client alone ${kb(report.socketIoGzipBytes)}, SDK adds ${kb(report.overheadGzipBytes)})`,
  );
}

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { bundle } from '../scripts/bundle.js';

const dir = await mkdtemp(join(tmpdir(), 'switchyard-bundle-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

it('builds the browser bundle as one ES module that exports createClient', async () => {
  const outfile = join(dir, 'switchyard.js');
  const report = await bundle(outfile);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
  console.info(
    `browser bundle: ${kb(report.bytes)} min, ${kb(report.gzipBytes)} min+gzip; ` +
      `socket.io-client alone ${kb(report.socketIoGzipBytes)}; the SDK adds ${kb(report.overheadGzipBytes)} (budget 3 KB)`,
  );

  const source = await readFile(outfile, 'utf8');
  // Self-contained: no bare imports left for a browser to fail on.
  expect(source).not.toMatch(/\bimport\s*[^(]*\bfrom\s*["'][^./]/);
  // Only types come from the protocol: its schema library must not ride along.
  expect(source).not.toContain('TypeCompiler');
  const sdk = (await import(pathToFileURL(outfile).href)) as Record<string, unknown>;
  expect(typeof sdk.createClient).toBe('function');
  expect(typeof sdk.SwitchyardClientError).toBe('function');
  expect(report.gzipBytes).toBeLessThan(80 * 1024);
});

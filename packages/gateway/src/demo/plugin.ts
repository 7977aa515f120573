import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { SwitchyardError } from '@switchyard/protocol';
import helmet from '@fastify/helmet';
import { DEFAULT_DEMO_DIR, installedSdkDir, SDK_BUNDLES, type SdkBundle } from './assets.js';
import { DEMO_PAGE_HEADERS } from './page-headers.js';

/*
 * The demo chat page and the SDK's browser bundles. A tiny static handler rather than
 * @fastify/static: a few routes, and that plugin's dependencies want Node 22.
 */

export interface DemoOptions {
  /** Directory of the demo page. Default: this package's `demo/`. */
  dir?: string;
  /**
   * Directory of the SDK's browser bundles, served as `/sdk/switchyard.js` and `/sdk/subscribe.js`.
   * Default: `dist/browser/` of the installed `@switchyard/client`.
   */
  sdkDir?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export const demoPlugin: FastifyPluginAsync<DemoOptions> = async (app, options) => {
  const dir = resolve(options.dir ?? DEFAULT_DEMO_DIR);
  const sdkDir = options.sdkDir ?? installedSdkDir();
  // Registered in this plugin, so only the page and its files get these headers (see page-headers.ts).
  await app.register(helmet, DEMO_PAGE_HEADERS);

  app.get('/', async (_request, reply) => sendFromDir(reply, dir, 'index.html'));
  app.get<{ Params: { '*': string } }>('/demo/*', async (request, reply) =>
    sendFromDir(reply, dir, request.params['*']),
  );
  for (const name of SDK_BUNDLES) {
    app.get(`/sdk/${name}`, async (_request, reply) => sendFile(reply, await sdkBundle(sdkDir, name)));
  }
};

/** The bundle's path; a 404 that says why when it is missing (never the server's paths). */
async function sdkBundle(sdkDir: string | undefined, name: SdkBundle): Promise<string> {
  const path = sdkDir === undefined ? undefined : join(resolve(sdkDir), name);
  if (path === undefined || !(await isFile(path))) {
    throw new SwitchyardError(
      'NOT_FOUND',
      `The SDK bundle ${name} is missing: @switchyard/client is not installed with its dist/browser files ` +
        '(in the Switchyard repository, run `pnpm build` first)',
    );
  }
  return path;
}

/** Serves `relative` from `dir`; anything outside it, hidden, or not a regular file is a 404. */
async function sendFromDir(reply: FastifyReply, dir: string, relative: string): Promise<FastifyReply> {
  const notFound = new SwitchyardError('NOT_FOUND', `No demo file ${JSON.stringify(relative.slice(0, 200))}`);
  const segments = relative.split(/[\\/]/);
  if (relative.includes('\0') || segments.some((segment) => segment.startsWith('.'))) throw notFound;
  const path = resolve(dir, relative);
  if (!path.startsWith(dir + sep) || !(await isFile(path))) throw notFound;
  // A symlink inside the directory must not lead out of it.
  const [realDir, realPath] = await Promise.all([realpath(dir), realpath(path)]);
  if (!realPath.startsWith(realDir + sep)) throw notFound;
  return sendFile(reply, realPath);
}

function sendFile(reply: FastifyReply, path: string): FastifyReply {
  return reply
    .type(CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream')
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .send(createReadStream(path));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

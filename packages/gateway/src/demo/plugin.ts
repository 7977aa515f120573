import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { SwitchyardError } from '@switchyard/protocol';

/*
 * The demo chat page and the SDK's browser bundle. A tiny static handler rather than
 * @fastify/static: three routes, and that plugin's dependencies want Node 22.
 */

export interface DemoOptions {
  /** Directory of the demo page. Default: this package's `demo/`. */
  dir?: string;
  /** The client SDK's browser bundle. Default: `packages/client/dist/browser/switchyard.js`. */
  sdkBundle?: string;
}

// Same depth from src/demo/ and dist/demo/: two levels up is the package directory.
const DEFAULT_DIR = fileURLToPath(new URL('../../demo/', import.meta.url));
const DEFAULT_SDK_BUNDLE = fileURLToPath(new URL('../../../client/dist/browser/switchyard.js', import.meta.url));

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
  const dir = resolve(options.dir ?? DEFAULT_DIR);
  const sdkBundle = resolve(options.sdkBundle ?? DEFAULT_SDK_BUNDLE);

  app.get('/', async (_request, reply) => sendFromDir(reply, dir, 'index.html'));
  app.get<{ Params: { '*': string } }>('/demo/*', async (request, reply) =>
    sendFromDir(reply, dir, request.params['*']),
  );
  app.get('/sdk/switchyard.js', async (_request, reply) => {
    if (!(await isFile(sdkBundle))) {
      throw new SwitchyardError(
        'NOT_FOUND',
        'The SDK browser bundle is not built yet: run `pnpm build` at the repository root',
      );
    }
    return sendFile(reply, sdkBundle);
  });
};

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

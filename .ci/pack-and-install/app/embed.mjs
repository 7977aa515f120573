// The gateway inside an app of your own, plain JavaScript, no build step: your routes are a fastify
// plugin registered on the gateway's fastify instance, which owns the HTTP server Socket.IO shares.
import assert from 'node:assert/strict';
import { createGateway, loadConfig } from '@switchyard/gateway';

async function existingApp(app) {
  app.get('/api/hello', async () => ({ hello: 'world' }));
}

const gateway = await createGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }));
await gateway.app.register(existingApp);
const { url } = await gateway.listen();
try {
  assert.deepEqual(await (await fetch(`${url}/api/hello`)).json(), { hello: 'world' });
  const sdk = await fetch(`${url}/sdk/switchyard.js`);
  assert.equal(sdk.status, 200);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  // fastify's inject() (light-my-request, with cookie@2, which declares Node >= 22) on this Node.
  const injected = await gateway.app.inject({ url: '/api/hello', cookies: { session: 'abc' } });
  assert.deepEqual(injected.json(), { hello: 'world' });
  console.log(`embed: your route and the gateway's /sdk/switchyard.js on one server (${url}), inject() works`);
} finally {
  await gateway.close();
}

import { createGateway, loadConfig } from './packages/gateway/src/index.ts';
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
for (let i = 0; i < 300; i++) {
  const t = Date.now();
  const g = await createGateway(config, { demo: { dir: '/tmp', sdkBundle: '/tmp/nope.js' } });
  const { url } = await g.listen();
  await (await fetch(url + '/sdk/switchyard.js')).text();
  await g.close();
  if (Date.now() - t > 1000) console.log('slow', i, Date.now() - t);
}
console.log('done');

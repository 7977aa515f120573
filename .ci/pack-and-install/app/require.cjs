// CommonJS: Node >= 20.19 require()s the ES module packages, without a warning.
process.on('warning', (warning) => {
  console.error(`unexpected warning: ${warning.name}: ${warning.message}`);
  process.exitCode = 1;
});
const assert = require('node:assert/strict');
const { createClient, SwitchyardClientError } = require('@switchyard/client');
const { subscribe } = require('@switchyard/client/subscribe');
const { createGateway, loadConfig } = require('@switchyard/gateway');
const { ERRORS } = require('@switchyard/protocol');
assert.equal(typeof createClient, 'function');
assert.equal(typeof SwitchyardClientError, 'function');
assert.equal(typeof subscribe, 'function');
assert.equal(typeof createGateway, 'function');
assert.equal(typeof loadConfig, 'function');
assert.equal(typeof ERRORS, 'object');
console.log(`require: @switchyard/client, /subscribe, gateway and protocol load on Node ${process.version}`);

import { afterAll, describe, expect, it } from 'vitest';
import { openRawWebSocket, startNode, stopEverything, stopNode } from '@switchyard/testkit';

/*
 * A rolling restart must not depend on every client answering: a phone that dropped off the network
 * holds a WebSocket that never reads (and never answers the close handshake). At the drain deadline
 * the node closes whatever is left and exits 0.
 */

const ENGINE_WEBSOCKET = '/socket.io/?EIO=4&transport=websocket';
const env = { DRAIN_TIMEOUT_MS: '3000', LOG_LEVEL: 'info' };

afterAll(stopEverything, 30_000);

describe('SIGTERM with clients that never answer', () => {
  it('exits 0 with a WebSocket client that connected to Socket.IO and then stopped reading', async () => {
    const node = await startNode('gw-hung-socket', env);
    const hung = await openRawWebSocket(node.url, ENGINE_WEBSOCKET);
    await hung.nextFrame((payload) => payload.startsWith('0{')); // Engine.IO open
    hung.sendText('40'); // Socket.IO connect to "/"
    await hung.nextFrame((payload) => payload.startsWith('40{'));
    hung.stopReading();

    expect(await stopNode(node, 'SIGTERM')).toBe(0);
    expect(node.output()).not.toMatch(/drain timeout/);
    hung.destroy();
  });

  it('exits 0 with a WebSocket that never completed the Socket.IO connect and never reads', async () => {
    const node = await startNode('gw-hung-engine', env);
    const hung = await openRawWebSocket(node.url, ENGINE_WEBSOCKET);
    hung.stopReading();

    expect(await stopNode(node, 'SIGTERM')).toBe(0);
    expect(node.output()).not.toMatch(/drain timeout/);
    hung.destroy();
  });

  it('exits 0 with a polling session whose client never polls again', async () => {
    const node = await startNode('gw-hung-polling', env);
    const handshake = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
    expect(handshake.status).toBe(200);
    await handshake.text();

    expect(await stopNode(node, 'SIGTERM')).toBe(0);
    expect(node.output()).not.toMatch(/drain timeout/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureSdkBundle, launchChromium, openChat } from './browser.js';
import { closeAll, connect, request, startGateway, type StartedGateway, type TestSocket } from '@switchyard/testkit';

/*
 * The demo page in Debian's Chromium, on a gateway whose rooms turn large above 2 members: the page
 * shows the member count, and in a large room a note and the members page by page instead of the list.
 */

let gateway: StartedGateway;
let browser: Browser;

beforeAll(async () => {
  ensureSdkBundle();
  gateway = await startGateway({ LARGE_ROOM_THRESHOLD: '2', PRESENCE_INTERVAL_MS: '50' });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await closeAll();
});

describe('the demo page', () => {
  it('shows the member count, and in a large room says so and lists the members on demand', async () => {
    const tab = await openChat(browser, gateway.url, 'Ada');
    const count = tab.page.getByTestId('member-count');
    await count.filter({ hasText: '(1)' }).waitFor({ timeout: 30_000 });
    expect(await tab.page.getByTestId('large-room').isHidden()).toBe(true);

    const others: TestSocket[] = [];
    for (const name of ['bob', 'cy', 'di']) {
      const socket = await connect(gateway.url, { transports: ['websocket'], auth: { name, userId: name } });
      await request(socket, 'room:join', { room: 'lobby' });
      others.push(socket);
    }
    await count.filter({ hasText: '(4)' }).waitFor({ timeout: 30_000 });
    await tab.page.getByTestId('large-room').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await tab.page.getByTestId('member').count()).toBe(0);
    await tab.page.getByTestId('list-members').click();
    await tab.page.getByTestId('member').nth(3).waitFor({ timeout: 30_000 });
    expect(await tab.page.getByTestId('member').allTextContents()).toEqual(['bob', 'cy', 'di', 'Ada (you)'].sort(byId));

    // Back to 1 member (at most 90 % of 2): the list again, and no note.
    for (const socket of others) socket.disconnect();
    await count.filter({ hasText: '(1)' }).waitFor({ timeout: 30_000 });
    await tab.page.getByTestId('large-room').waitFor({ state: 'hidden', timeout: 30_000 });
    expect(await tab.page.getByTestId('member').allTextContents()).toEqual(['Ada (you)']);
  }, 90_000);
});

/** Members come ordered by id: the demo's own user has a `web-…` id, after the others here. */
function byId(a: string, b: string): number {
  const id = (text: string) => (text.endsWith('(you)') ? 'web-' : text);
  return id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0;
}

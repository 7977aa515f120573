import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { nodeOfSessionId } from '../../src/cluster/session-id.js';
import { E2E_DEADLINE_MS, INSTALL_SYSTEM_PACKAGES, requireExecutable, waitFor } from '@switchyard/testkit';

/*
 * Debian's Chromium driven by playwright-core (no browser download), on the demo page.
 * A tab's node is read from the Engine.IO session ids in its Socket.IO requests.
 */

export const CHROMIUM = '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const SDK_BUNDLE = `${REPO}packages/client/dist/browser/switchyard.js`;

/** Sources the bundle is made of: a bundle older than any of them is stale. */
const SDK_SOURCES = [`${REPO}packages/client/src`, `${REPO}packages/protocol/src`];

function newestModification(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** The demo page imports the SDK's browser bundle: build it if this checkout has not, or since changed the SDK. */
export function ensureSdkBundle(): void {
  if (existsSync(SDK_BUNDLE) && statSync(SDK_BUNDLE).mtimeMs >= Math.max(...SDK_SOURCES.map(newestModification))) return;
  execFileSync('pnpm', ['--filter', '@switchyard/client', 'bundle'], { cwd: REPO, stdio: 'inherit', timeout: 120_000 });
}

/** Debian's Chromium (or `executablePath`); fails with what to install when it cannot run. */
export async function launchChromium(executablePath = CHROMIUM): Promise<Browser> {
  requireExecutable({ what: "Debian's Chromium", path: executablePath, install: INSTALL_SYSTEM_PACKAGES });
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface ChatTab {
  page: Page;
  /** The node whose session ids this tab's requests carry. */
  node(): string | undefined;
  /** Whether the tab opened a WebSocket that carried frames. */
  usedWebSocket(): boolean;
}

/** Opens the demo in a fresh context (its own sessionStorage: its own user) and starts chatting as `name`. */
export async function openChat(browser: Browser, url: string, name: string): Promise<ChatTab> {
  const context = await browser.newContext();
  const page = await context.newPage();
  let node: string | undefined;
  let webSocketFrames = 0;
  page.on('request', (request) => {
    const sid = new URL(request.url()).searchParams.get('sid');
    if (sid) node = nodeOfSessionId(sid);
  });
  page.on('websocket', (socket) => {
    const sid = new URL(socket.url()).searchParams.get('sid');
    if (sid) node = nodeOfSessionId(sid);
    socket.on('framereceived', () => (webSocketFrames += 1));
  });
  await page.goto(url);
  await page.getByTestId('name-input').fill(name);
  await page.getByTestId('connect-button').click();
  await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor({ timeout: 30_000 });
  await page.getByTestId('room-title').filter({ hasText: '#lobby' }).waitFor({ timeout: 30_000 });
  await waitFor('the tab to use a session', () => node !== undefined, { timeoutMs: E2E_DEADLINE_MS });
  return { page, node: () => node, usedWebSocket: () => webSocketFrames > 0 };
}

export async function say(tab: ChatTab, text: string): Promise<void> {
  await tab.page.getByTestId('message-input').fill(text);
  await tab.page.getByTestId('send-button').click();
}

export async function sees(tab: ChatTab, text: string): Promise<void> {
  await tab.page.getByTestId('message-text').filter({ hasText: text }).first().waitFor({ timeout: 30_000 });
}

/** Two tabs on two different nodes (reopening the second until the balancer places it elsewhere). */
export async function twoTabsOnTwoNodes(browser: Browser, url: string): Promise<[ChatTab, ChatTab]> {
  const first = await openChat(browser, url, 'Ada');
  for (let attempt = 0; attempt < 12; attempt += 1) {
    const second = await openChat(browser, url, 'Grace');
    if (second.node() !== first.node()) return [first, second];
    await second.page.context().close();
    // A round-robin balancer places every tab alike when a tab's page load makes a multiple of its
    // node count of requests: one request in between shifts the rotation.
    await fetch(`${url}/healthz`);
  }
  throw new Error('the second tab kept landing on the node of the first');
}

import { describe, expect, it } from 'vitest';
import { launchChromium } from './browser.js';

describe('the browser test without Chromium', () => {
  it('fails with what to install, not a launch error', async () => {
    await expect(launchChromium('/nonexistent/chromium')).rejects.toThrow(
      /Debian's Chromium is needed by this test, but \/nonexistent\/chromium does not exist: .*system-packages/,
    );
  });
});

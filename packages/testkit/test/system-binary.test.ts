import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NGINX_TEMPLATES, requireExecutable, startNginx, stopEverything } from '@switchyard/testkit';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-system-binary-'));
afterAll(async () => {
  await stopEverything();
  rmSync(dir, { recursive: true, force: true });
});

/** A file that exists but cannot be executed: what spawn reports as EACCES. */
function notExecutable(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o644);
  return path;
}

describe('system programs the tests drive', () => {
  it('say what is missing and how to install it, for a path that does not exist', () => {
    const path = join(dir, 'no-such-nginx');
    expect(() => requireExecutable({ what: "Debian's nginx", path, install: 'apt-get install nginx' })).toThrow(
      `Debian's nginx is needed by this test, but ${path} does not exist: apt-get install nginx`,
    );
  });

  it('say so for a file that is not executable, instead of an EACCES from spawn', () => {
    const path = notExecutable('chromium');
    expect(() => requireExecutable({ what: 'Chromium', path, install: 'apt-get install chromium' })).toThrow(
      `Chromium is needed by this test, but ${path} is not executable by this user: apt-get install chromium`,
    );
  });

  it('starting nginx from a binary that cannot run fails with that message', async () => {
    const bin = notExecutable('nginx');
    const started = startNginx(NGINX_TEMPLATES.sticky, [{ port: 1 }], { bin });
    await expect(started).rejects.toThrow(
      /Debian's nginx is needed by this test, but .* is not executable.*system-packages/,
    );
  });
});

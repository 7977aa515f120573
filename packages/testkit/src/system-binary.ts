import { accessSync, constants, statSync } from 'node:fs';

/*
 * The system programs some suites drive for real (Debian's nginx and Chromium). A test that needs
 * one and cannot run it fails with what is missing and how to install it, before anything is
 * spawned: spawning a missing or non-executable file only says ENOENT or EACCES.
 */

export interface SystemBinary {
  /** What it is, as a person would say it: "Debian's nginx". */
  what: string;
  path: string;
  /** How to get it. */
  install: string;
}

export const INSTALL_SYSTEM_PACKAGES =
  'install it with `sudo .ci/system-packages` (Debian; see "Prerequisites" in the README)';

/** Returns `binary.path` when it is an executable file; throws a readable error otherwise. */
export function requireExecutable(binary: SystemBinary): string {
  const problem = problemWith(binary.path);
  if (problem !== undefined)
    throw new Error(`${binary.what} is needed by this test, but ${binary.path} ${problem}: ${binary.install}`);
  return binary.path;
}

function problemWith(path: string): string | undefined {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    return 'does not exist';
  }
  if (!isFile) return 'is not a file';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return 'is not executable by this user';
  }
  return undefined;
}

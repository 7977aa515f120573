import { spawnSync } from 'node:child_process';
import os from 'node:os';

/** Which cores servers and load generators are pinned to; `undefined` means not pinned. */
export interface CorePlan {
  server: string | undefined;
  load: string | undefined;
  description: string;
}

function tasksetWorks(): boolean {
  const probe = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  return probe.status === 0;
}

/**
 * Servers on core 0, load generators on core 1 (on bigger machines, servers keep core 0 and load
 * generators get the rest), so a load generator never steals the server's core. Without `taskset`
 * or with one core, nothing is pinned and the report says so.
 */
export function planCores(): CorePlan {
  const cores = os.availableParallelism();
  if (cores < 2) return { server: undefined, load: undefined, description: 'not pinned (1 core)' };
  if (!tasksetWorks()) return { server: undefined, load: undefined, description: 'not pinned (taskset unavailable)' };
  const load = cores === 2 ? '1' : `1-${cores - 1}`;
  return { server: '0', load, description: `taskset: servers on core 0, load generators on core ${load}` };
}

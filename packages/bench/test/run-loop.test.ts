import { describe, expect, it } from 'vitest';
import { QUICK_PROFILE } from '../src/profile.js';
import { forEachRun } from '../src/scenarios/run-loop.js';
import type { ScenarioContext } from '../src/scenarios/types.js';

function contextWith(runs: number, log: string[]): ScenarioContext {
  return {
    profile: { ...QUICK_PROFILE, runs },
    cores: { server: undefined, load: undefined, description: 'not pinned' },
    logDir: '/nonexistent',
    log: (message) => log.push(message),
  };
}

describe('forEachRun', () => {
  it('interleaves the runs, baseline first, and logs each variant as it starts', async () => {
    const log: string[] = [];
    const seen: string[] = [];
    await forEachRun(contextWith(2, log), 'demo', [{ label: 'base' }, { label: 'other' }], [], async (v, run) => {
      seen.push(`${run}:${v.label}`);
    });
    expect(seen).toEqual(['0:base', '0:other', '1:base', '1:other']);
    expect(log).toEqual(['demo run 1/2: base', 'demo run 1/2: other', 'demo run 2/2: base', 'demo run 2/2: other']);
  });

  it('records a failing variant under its run and label and goes on with the rest', async () => {
    const failures: string[] = [];
    const seen: string[] = [];
    await forEachRun(contextWith(1, []), 'demo', [{ label: 'broken' }, { label: 'fine' }], failures, async (v) => {
      if (v.label === 'broken') throw new Error('server crashed');
      seen.push(v.label);
    });
    expect(seen).toEqual(['fine']);
    expect(failures).toEqual(['run 1, broken: Error: server crashed']);
  });

  it('honours fewer runs, a per-variant failure list, a custom progress line and an end-of-run hook', async () => {
    const log: string[] = [];
    const failures: string[] = [];
    const referenceFailures: string[] = [];
    const ended: number[] = [];
    const variants = [
      { label: 'ours', reference: false },
      { label: 'theirs', reference: true },
    ];
    await forEachRun(
      contextWith(3, log),
      'demo',
      variants,
      failures,
      async () => {
        throw new Error('refused');
      },
      {
        runs: 1,
        failuresFor: (v) => (v.reference ? referenceFailures : failures),
        describe: (v) => `${v.label} (reference: ${v.reference})`,
        afterRun: (run) => ended.push(run),
      },
    );
    expect(log).toEqual(['demo run 1/1: ours (reference: false)', 'demo run 1/1: theirs (reference: true)']);
    expect(failures).toEqual(['run 1, ours: Error: refused']);
    expect(referenceFailures).toEqual(['run 1, theirs: Error: refused']);
    expect(ended).toEqual([0]);
  });
});

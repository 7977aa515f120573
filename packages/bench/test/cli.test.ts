import { describe, expect, it } from 'vitest';
import { parseCli } from '../src/cli.js';
import { BenchError } from '../src/harness/errors.js';

describe('parseCli', () => {
  it('defaults to the full run of every scenario', () => {
    expect(parseCli([])).toEqual({ quick: false, only: [], out: undefined, runs: undefined, help: false });
  });

  it('reads --quick, comma-separated and repeated --only, --runs and --out', () => {
    expect(parseCli(['--quick', '--only', 'fanout,idle', '--only', 'sdk', '--runs', '5', '--out', '-'])).toEqual({
      quick: true,
      only: ['fanout', 'idle', 'sdk'],
      out: '-',
      runs: 5,
      help: false,
    });
  });

  it('refuses unknown options and bad run counts with a BAD_ARGS error', () => {
    for (const argv of [['--fast'], ['--runs', '0'], ['--runs', 'many'], ['stray']]) {
      expect(() => parseCli(argv)).toThrow(BenchError);
      try {
        parseCli(argv);
      } catch (error) {
        expect((error as BenchError).code).toBe('BAD_ARGS');
      }
    }
  });
});

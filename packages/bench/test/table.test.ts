import { describe, expect, it } from 'vitest';
import { ratio, spread } from '../src/harness/stats.js';
import {
  formatRatio,
  formatSpread,
  formatValue,
  renderTable,
  TableBuilder,
  type MetricSpec,
} from '../src/harness/table.js';

describe('spread', () => {
  it('takes the median of an odd and an even number of runs, with min and max', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, runs: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, runs: 4 });
  });

  it('ignores runs that produced no number, and has nothing to say about none', () => {
    expect(spread([Number.NaN, 5])).toEqual({ median: 5, min: 5, max: 5, runs: 1 });
    expect(spread([])).toBeUndefined();
  });

  it('divides medians, and gives no ratio against a missing or zero baseline', () => {
    expect(ratio(spread([2, 4, 6]), spread([8]))).toBe(0.5);
    expect(ratio(spread([1]), undefined)).toBeUndefined();
    expect(ratio(spread([1]), spread([0]))).toBeUndefined();
  });
});

describe('formatting', () => {
  it('writes values in their unit', () => {
    expect(formatValue(123_456, 'per-second')).toBe('123k/s');
    expect(formatValue(2_500_000, 'per-second')).toBe('2.50M/s');
    expect(formatValue(1.234, 'ms')).toBe('1.23 ms');
    expect(formatValue(3 * 1024, 'bytes')).toBe('3.00 KB');
    expect(formatValue(0.874, 'core-fraction')).toBe('87 %');
  });

  it('shows min and max beside the median only when the runs differ', () => {
    expect(formatSpread(spread([10, 12, 11]), 'ms')).toBe('11.0 ms (10.0 ms–12.0 ms)');
    expect(formatSpread(spread([10]), 'ms')).toBe('10.0 ms');
    expect(formatSpread(undefined, 'ms')).toBe('—');
  });

  it('checks ratio and size targets', () => {
    const throughput: MetricSpec = {
      key: 't',
      label: 't',
      unit: 'per-second',
      target: { kind: 'min-ratio', value: 0.9 },
    };
    expect(formatRatio(throughput, spread([95]), spread([100]), false)).toBe('0.95× ✓');
    expect(formatRatio(throughput, spread([80]), spread([100]), false)).toBe('0.80× ✗ (target ≥ 0.9×)');
    const size: MetricSpec = {
      key: 's',
      label: 's',
      unit: 'bytes',
      showDelta: true,
      target: { kind: 'max-delta', value: 3072 },
    };
    expect(formatRatio(size, spread([12_288]), spread([10_240]), false)).toBe('1.20× (+2.00 KB) ✓');
    expect(formatRatio(size, spread([14_336]), spread([10_240]), false)).toBe('1.40× (+4.00 KB) ✗ (target ≤ +3.00 KB)');
    expect(formatRatio(size, spread([1]), spread([1]), true)).toBe('baseline');
  });
});

describe('renderTable', () => {
  it('renders one row per variant with medians and ratios to the baseline, CPU without a ratio', () => {
    const builder = new TableBuilder('**caption**', 'bare', [
      { key: 'rate', label: 'msg/s', unit: 'per-second' },
      { key: 'cpu', label: 'CPU', unit: 'core-fraction', compare: false },
    ]);
    for (const [rate, cpu] of [
      [100, 0.5],
      [120, 0.6],
      [110, 0.55],
    ]) {
      builder.add('bare', { rate, cpu });
      builder.add('gateway', { rate: rate! / 2, cpu });
    }
    builder.note('gateway', '⚠ load generator saturated');
    builder.note('gateway', '⚠ load generator saturated');
    const lines = renderTable(builder.build()).trim().split('\n');
    expect(lines[0]).toBe('**caption**');
    expect(lines[2]).toBe('| Variant | msg/s | × bare | CPU | Notes |');
    expect(lines[3]).toBe('| --- | ---: | ---: | ---: | --- |');
    expect(lines[4]).toBe('| **bare** | 110/s (100/s–120/s) | baseline | 55 % (50 %–60 %) |  |');
    expect(lines[5]).toBe(
      '| gateway | 55.0/s (50.0/s–60.0/s) | 0.50× | 55 % (50 %–60 %) | ⚠ load generator saturated |',
    );
  });

  it('gives reference rows (the ceiling) ratios without target verdicts', () => {
    const builder = new TableBuilder('t', 'bare', [
      { key: 'x', label: 'x', unit: 'count', target: { kind: 'min-ratio', value: 0.9 } },
    ]);
    builder.add('bare', { x: 10 });
    builder.add('ceiling', { x: 20 });
    builder.add('gateway', { x: 5 });
    builder.reference('ceiling');
    const text = renderTable(builder.build());
    expect(text).toContain('| ceiling | 20.0 | 2.00× |');
    expect(text).toContain('| gateway | 5.00 | 0.50× ✗ (target ≥ 0.9×) |');
  });

  it('escapes pipes so a label cannot break the table', () => {
    const builder = new TableBuilder('t', 'a|b', [{ key: 'x', label: 'x', unit: 'count' }]);
    builder.add('a|b', { x: 1 });
    expect(renderTable(builder.build())).toContain('| **a\\|b** |');
  });
});

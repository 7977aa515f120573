import { describe, expect, it } from 'vitest';
import { renderReport, type ReportInput } from '../src/harness/report.js';
import { TableBuilder } from '../src/harness/table.js';
import type { Scenario } from '../src/scenarios/types.js';

const scenario = (id: string): Scenario => ({
  id,
  title: `Title ${id}`,
  description: `About ${id}.`,
  run: async () => ({ tables: [], notes: [], failures: [] }),
});

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  const table = new TableBuilder('**caption**', 'bare', [
    { key: 'rate', label: 'msg/s', unit: 'per-second', target: { kind: 'min-ratio', value: 0.9 } },
  ]);
  table.add('bare', { rate: 100 });
  table.add('gateway', { rate: 95 });
  return {
    title: 'Switchyard benchmarks',
    command: 'pnpm bench',
    startedAt: new Date('2026-01-02T03:04:05Z'),
    durationMs: 61_000,
    quick: false,
    machine: ['CPU: 2 × Test CPU'],
    versions: ['node v20'],
    pinning: 'taskset',
    sizes: '3 runs',
    results: [
      { scenario: scenario('fanout'), report: { tables: [table.build()], notes: ['a note'], failures: [] } },
      { scenario: scenario('sse'), report: { tables: [], notes: [], failures: [], skipped: 'no route yet' } },
    ],
    failures: [],
    ...overrides,
  };
}

describe('renderReport', () => {
  it('states the date, the exact command, the machine and the versions before the tables', () => {
    const text = renderReport(input());
    for (const expected of [
      '- Date: 2026-01-02T03:04:05.000Z',
      '- Command: `pnpm bench`',
      '- CPU: 2 × Test CPU',
      '- node v20',
    ]) {
      expect(text).toContain(expected);
    }
    expect(text.indexOf('- Command:')).toBeLessThan(text.indexOf('| Variant |'));
  });

  it('lists the targets at a glance, renders each scenario with its notes, and says why one was skipped', () => {
    const text = renderReport(input());
    expect(text).toContain('## Targets at a glance\n\n- `fanout` caption, gateway, msg/s vs bare: 0.95× ✓');
    expect(text).toContain('## Title fanout (`fanout`)\n\nAbout fanout.');
    expect(text).toContain('- a note');
    expect(text).toContain('_Skipped: no route yet_');
  });

  it('marks a quick run as meaningless for numbers and reports failures', () => {
    const text = renderReport(input({ quick: true, failures: [{ scenario: scenario('idle'), error: 'boom' }] }));
    expect(text).toContain('The numbers mean nothing');
    expect(text).toContain('## Failures\n\n### idle\n\n```\nboom\n```');
  });
});

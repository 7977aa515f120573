import { ratio, spread, type Spread } from './stats.js';

export type Unit = 'per-second' | 'ms' | 'bytes' | 'core-fraction' | 'count';

/** A target from the issue, checked against the ratio (or, for sizes, the difference) to the baseline. */
export type Target =
  { kind: 'max-ratio'; value: number } | { kind: 'min-ratio'; value: number } | { kind: 'max-delta'; value: number };

export interface MetricSpec {
  key: string;
  label: string;
  unit: Unit;
  /** Show the difference to the baseline beside the ratio (e.g. `+2.1 KB`). */
  showDelta?: boolean;
  /** False for context figures (CPU) where a ratio column would only add noise. Default true. */
  compare?: boolean;
  target?: Target;
}

export interface TableRow {
  label: string;
  /** Samples per metric key, one per run. */
  samples: Record<string, number[]>;
  notes: string[];
  /** A row shown for reference (e.g. the raw `ws` ceiling): ratios, but no target verdicts. */
  reference?: boolean;
}

/** One table of a scenario: rows are variants, each figure a ratio against the baseline row. */
export interface ResultTable {
  caption: string;
  baseline: string;
  metrics: MetricSpec[];
  rows: TableRow[];
}

/** Collects samples run by run, in any order, then builds the table. */
export class TableBuilder {
  private readonly rows = new Map<string, TableRow>();

  constructor(
    private readonly caption: string,
    private readonly baseline: string,
    private readonly metrics: MetricSpec[],
  ) {}

  add(label: string, values: Record<string, number | undefined>): void {
    const row = this.row(label);
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      (row.samples[key] ??= []).push(value);
    }
  }

  /** Marks a row as a reference: its ratios are shown without target verdicts. */
  reference(label: string): void {
    this.row(label).reference = true;
  }

  note(label: string, note: string): void {
    const row = this.row(label);
    if (!row.notes.includes(note)) row.notes.push(note);
  }

  private row(label: string): TableRow {
    let row = this.rows.get(label);
    if (!row) {
      row = { label, samples: {}, notes: [] };
      this.rows.set(label, row);
    }
    return row;
  }

  build(): ResultTable {
    return { caption: this.caption, baseline: this.baseline, metrics: this.metrics, rows: [...this.rows.values()] };
  }
}

function significant(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A value in its unit, short: `12.3k/s`, `1.52 ms`, `3.4 KB`, `87 %`. */
export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'per-second':
      if (Math.abs(value) >= 1e6) return `${significant(value / 1e6)}M/s`;
      if (Math.abs(value) >= 1e3) return `${significant(value / 1e3)}k/s`;
      return `${significant(value)}/s`;
    case 'ms':
      return `${significant(value)} ms`;
    case 'bytes':
      if (Math.abs(value) >= 1024 * 1024) return `${significant(value / (1024 * 1024))} MB`;
      if (Math.abs(value) >= 1024) return `${significant(value / 1024)} KB`;
      return `${significant(value)} B`;
    case 'core-fraction':
      return `${Math.round(value * 100)} %`;
    case 'count':
      return significant(value);
  }
}

export function formatSpread(cell: Spread | undefined, unit: Unit): string {
  if (!cell) return '—';
  if (cell.runs === 1 || cell.min === cell.max) return formatValue(cell.median, unit);
  return `${formatValue(cell.median, unit)} (${formatValue(cell.min, unit)}–${formatValue(cell.max, unit)})`;
}

function targetMet(target: Target, ratioValue: number, delta: number): boolean {
  switch (target.kind) {
    case 'max-ratio':
      return ratioValue <= target.value;
    case 'min-ratio':
      return ratioValue >= target.value;
    case 'max-delta':
      return delta <= target.value;
  }
}

export function describeTarget(target: Target, unit: Unit): string {
  switch (target.kind) {
    case 'max-ratio':
      return `≤ ${target.value}×`;
    case 'min-ratio':
      return `≥ ${target.value}×`;
    case 'max-delta':
      return `≤ +${formatValue(target.value, unit)}`;
  }
}

/** The ratio cell: `0.93×`, with the delta and the target verdict when the metric has them. */
export function formatRatio(
  metric: MetricSpec,
  candidate: Spread | undefined,
  baseline: Spread | undefined,
  isBaseline: boolean,
): string {
  if (isBaseline) return candidate ? 'baseline' : '—';
  const value = ratio(candidate, baseline);
  if (value === undefined || !candidate || !baseline) return '—';
  const delta = candidate.median - baseline.median;
  let text = `${value.toFixed(2)}×`;
  if (metric.showDelta) text += ` (${delta >= 0 ? '+' : '−'}${formatValue(Math.abs(delta), metric.unit)})`;
  if (metric.target)
    text += targetMet(metric.target, value, delta) ? ' ✓' : ` ✗ (target ${describeTarget(metric.target, metric.unit)})`;
  return text;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** A markdown table: per metric, the median (min–max) and the ratio to the baseline row. */
export function renderTable(table: ResultTable): string {
  const baselineRow = table.rows.find((row) => row.label === table.baseline);
  const header = ['Variant'];
  for (const metric of table.metrics) {
    header.push(metric.label);
    if (metric.compare !== false) header.push(`× ${table.baseline}`);
  }
  const hasNotes = table.rows.some((row) => row.notes.length > 0);
  if (hasNotes) header.push('Notes');
  const align = header.map((_, index) =>
    index === 0 || (hasNotes && index === header.length - 1) ? ' --- ' : ' ---: ',
  );
  const lines = [`| ${header.map(escapeCell).join(' | ')} |`, `|${align.join('|')}|`];
  for (const row of table.rows) {
    const cells = [row.label === table.baseline ? `**${row.label}**` : row.label];
    for (const metric of table.metrics) {
      const cell = spread(row.samples[metric.key] ?? []);
      const base = baselineRow ? spread(baselineRow.samples[metric.key] ?? []) : undefined;
      cells.push(formatSpread(cell, metric.unit));
      if (metric.compare !== false)
        cells.push(
          formatRatio(row.reference ? { ...metric, target: undefined } : metric, cell, base, row === baselineRow),
        );
    }
    if (hasNotes) cells.push(row.notes.join('; '));
    lines.push(`| ${cells.map(escapeCell).join(' | ')} |`);
  }
  return `${table.caption}\n\n${lines.join('\n')}\n`;
}

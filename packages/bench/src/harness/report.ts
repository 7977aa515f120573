import type { Scenario, ScenarioReport } from '../scenarios/types.js';
import { spread } from './stats.js';
import { formatRatio, renderTable } from './table.js';

export interface ReportInput {
  title: string;
  command: string;
  startedAt: Date;
  durationMs: number;
  quick: boolean;
  machine: string[];
  versions: string[];
  pinning: string;
  sizes: string;
  results: { scenario: Scenario; report: ScenarioReport }[];
  failures: { scenario: Scenario; error: string }[];
}

const HOW_TO_READ = `Every figure is measured against a baseline run **in the same invocation, on the same machine**, and the
tables lead with the ratio, not the absolute number: absolute numbers depend on the machine and on whatever
else it was doing, ratios measured side by side much less. A cell shows the median of the runs with the
minimum and maximum in parentheses; the \`×\` column divides the row's median by the baseline row's median
(for throughput higher is better, for latency, memory and size lower is better). ✓/✗ compare a ratio with
the project's target. Servers and load generators are separate processes pinned to different cores; a row
marked ⚠ *load generator saturated* had a load generator above 90 % of a core in some run, so its figure is
a lower bound of what the server can do; ⚠ *noisy* means other processes on the machine took more than a
quarter of a core during a measured window (over half a core, the window is measured again once and the
quieter one kept).
CPU columns are context (a saturated server sits near 100 %) and carry no ratio.`;

/** The markdown report: context first (how to read, machine, versions, command), then one section per scenario. */
export function renderReport(input: ReportInput): string {
  const parts: string[] = [];
  parts.push(`# ${input.title}\n`);
  if (input.quick)
    parts.push(
      '> **Quick smoke run** (`--quick`): tiny sizes and one short run; it checks that every scenario still works. The numbers mean nothing.\n',
    );
  parts.push(`${HOW_TO_READ}\n`);
  parts.push('## Run\n');
  parts.push(
    [
      `- Date: ${input.startedAt.toISOString()}`,
      `- Command: \`${input.command}\``,
      `- Duration: ${(input.durationMs / 1000).toFixed(0)} s`,
      `- Pinning: ${input.pinning}`,
      `- Sizes: ${input.sizes}`,
      ...input.machine.map((line) => `- ${line}`),
      ...input.versions.map((line) => `- ${line}`),
    ].join('\n') + '\n',
  );
  const targets = targetSummary(input.results);
  if (targets.length > 0) parts.push(`## Targets at a glance\n\n${targets.join('\n')}\n`);
  for (const { scenario, report } of input.results) {
    parts.push(`## ${scenario.title} (\`${scenario.id}\`)\n`);
    parts.push(`${scenario.description}\n`);
    if (report.skipped) {
      parts.push(`_Skipped: ${report.skipped}_\n`);
      continue;
    }
    for (const table of report.tables) parts.push(renderTable(table));
    if (report.failures.length > 0)
      parts.push(`**Broken variants:**\n\n\`\`\`\n${report.failures.join('\n\n')}\n\`\`\`\n`);
    if (report.notes.length > 0) parts.push(report.notes.map((note) => `- ${note}`).join('\n') + '\n');
  }
  if (input.failures.length > 0) {
    parts.push('## Failures\n');
    for (const { scenario, error } of input.failures) parts.push(`### ${scenario.id}\n\n\`\`\`\n${error}\n\`\`\`\n`);
  }
  return parts.join('\n');
}

/** One line per figure that has a target: scenario, table, row and the ratio with its verdict. */
function targetSummary(results: ReportInput['results']): string[] {
  const lines: string[] = [];
  for (const { scenario, report } of results) {
    for (const table of report.tables) {
      const baseline = table.rows.find((row) => row.label === table.baseline);
      for (const metric of table.metrics) {
        if (!metric.target) continue;
        for (const row of table.rows) {
          if (row === baseline || row.reference) continue;
          const cell = formatRatio(
            metric,
            spread(row.samples[metric.key] ?? []),
            spread(baseline?.samples[metric.key] ?? []),
            false,
          );
          if (cell === '—') continue;
          const caption = table.caption.replaceAll('*', '');
          lines.push(`- \`${scenario.id}\` ${caption}, ${row.label}, ${metric.label} vs ${table.baseline}: ${cell}`);
        }
      }
    }
    for (const note of report.notes) if (note.includes('target')) lines.push(`- \`${scenario.id}\` ${note}`);
  }
  return lines;
}

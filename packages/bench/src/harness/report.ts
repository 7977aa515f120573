import type { Scenario, ScenarioReport } from '../scenarios/types.js';
import { renderTable } from './table.js';

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
marked ⚠ had a load generator above 90 % of a core in some run, so its figure is a lower bound of what the
server can do.`;

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

import { parseArgs } from 'node:util';
import { BenchError } from './harness/errors.js';

export interface CliOptions {
  quick: boolean;
  /** Scenario ids to run; empty means all. */
  only: string[];
  /** Where the report goes; `-` is stdout. */
  out: string | undefined;
  runs: number | undefined;
  help: boolean;
}

export const USAGE = `Usage: pnpm bench [--quick] [--only <id>[,<id>...]] [--runs <n>] [--out <file>|-]

  --quick        tiny smoke run of every scenario (for CI: breakage, not numbers); report to a temp file
  --only <ids>   run only these scenarios (comma separated, see the ids below)
  --runs <n>     measured runs per variant (default 3, quick 1)
  --out <file>   where to write the report ('-' for stdout); default BENCHMARKS.md at the repo root
  --help         this text`;

export function parseCli(argv: string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string', multiple: true },
        runs: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new BenchError('BAD_ARGS', `${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
  const { values } = parsed;
  let runs: number | undefined;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 20)
      throw new BenchError('BAD_ARGS', `--runs must be an integer from 1 to 20, got ${values.runs}`);
  }
  const only = (values.only ?? [])
    .flatMap((value) => value.split(','))
    .map((id) => id.trim())
    .filter(Boolean);
  return { quick: values.quick, only, out: values.out, runs, help: values.help };
}

import { attempt, type ScenarioContext } from './types.js';

export interface RunLoopOptions<V> {
  /** Runs to make; `profile.runs` unless a scenario has to do fewer. */
  runs?: number;
  /** Where a variant's failure is recorded: `failures`, or a reference variant's own list. */
  failuresFor?(variant: V): string[];
  /** What the progress line says about a variant; its label unless the label leaves something out. */
  describe?(variant: V): string;
  /** Called once every variant of a run has had its turn (per-run notes, per-run state). */
  afterRun?(run: number): void;
}

/**
 * Every variant once per run, the runs interleaved (baseline first) so slow drift of the machine hits all
 * rows alike. Each variant is attempted on its own: a failure is recorded under `run N, label` and the
 * rest of the scenario still runs.
 */
export async function forEachRun<V extends { label: string }>(
  context: ScenarioContext,
  scenarioId: string,
  variants: readonly V[],
  failures: string[],
  body: (variant: V, run: number) => Promise<void>,
  options: RunLoopOptions<V> = {},
): Promise<void> {
  const runs = options.runs ?? context.profile.runs;
  for (let run = 0; run < runs; run++) {
    for (const variant of variants) {
      context.log(`${scenarioId} run ${run + 1}/${runs}: ${options.describe?.(variant) ?? variant.label}`);
      await attempt(options.failuresFor?.(variant) ?? failures, `run ${run + 1}, ${variant.label}`, () =>
        body(variant, run),
      );
    }
    options.afterRun?.(run);
  }
}

import type { CorePlan } from '../harness/cores.js';
import type { ResultTable } from '../harness/table.js';
import type { BenchProfile } from '../profile.js';

export interface ScenarioContext {
  profile: BenchProfile;
  cores: CorePlan;
  /** Child process logs go here; kept when a scenario fails. */
  logDir: string;
  log(message: string): void;
}

/** What a scenario hands to the report. */
export interface ScenarioReport {
  tables: ResultTable[];
  notes: string[];
  /**
   * Variants that broke (a child crashed, the server refused the load). The rest of the scenario still
   * runs and reports; any failure makes the whole run exit non-zero.
   */
  failures: string[];
  /** Set when the scenario could not run on this machine or checkout; the reason goes in the report. */
  skipped?: string;
}

export interface Scenario {
  /** Short id for `--only`. */
  id: string;
  title: string;
  /** One paragraph for the report: what is measured and how. */
  description: string;
  run(context: ScenarioContext): Promise<ScenarioReport>;
}

/** Runs one variant of a scenario; a failure is recorded (with its label) instead of aborting the scenario. */
export async function attempt(failures: string[], label: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const text =
      error instanceof Error
        ? `${error.name}${'code' in error ? ` [${String(error.code)}]` : ''}: ${error.message}`
        : String(error);
    failures.push(`${label}: ${text}`);
  }
}

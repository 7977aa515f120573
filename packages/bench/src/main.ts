import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCli, USAGE, type CliOptions } from './cli.js';
import { killAllChildrenNow, stopAllChildren } from './harness/child-process.js';
import { planCores } from './harness/cores.js';
import { BenchError } from './harness/errors.js';
import { describeMachine } from './harness/machine.js';
import { repoRoot } from './harness/paths.js';
import { renderReport } from './harness/report.js';
import { FULL_PROFILE, QUICK_PROFILE, type BenchProfile } from './profile.js';
import { SCENARIOS } from './scenarios/index.js';
import type { Scenario, ScenarioContext, ScenarioReport } from './scenarios/types.js';

/** A quick run that takes this long is hung, not slow: stop it rather than hold CI. */
const QUICK_DEADLINE_MS = 360_000;

function describeSizes(profile: BenchProfile): string {
  return [
    `${profile.runs} run(s) per variant`,
    `warm-up ${profile.warmupMs} ms, window ${profile.windowMs} ms`,
    `idle ${profile.idleWebSocketClients} WebSocket / ${profile.idlePollingClients} polling clients`,
    `fan-out ${profile.fanoutMembers} members`,
    `ack latency ${profile.ackClients} clients at ${profile.ackRate} msg/s`,
    `connect rate ${profile.connectConcurrency} concurrent handshakes`,
    `echo ${profile.echoClients} clients × ${profile.echoWindow} in flight`,
    `SSE ${profile.sseSubscribers} subscribers`,
    `peers ${profile.peerMembersPerNode * 2} members over 2 nodes`,
    `join ${profile.joinSizes.join(' / ')} members`,
    `listeners ${profile.listeners}`,
    `slow readers ${profile.slowStalled} of ${profile.slowMembers} at ${profile.slowRate} msg/s for ${profile.slowWindowMs} ms`,
    `forwarding ${profile.ackClients} polling clients at ${profile.forwardRate} msg/s`,
    `storm ${profile.stormClients} clients over 3 nodes`,
  ].join('; ');
}

function selectScenarios(options: CliOptions): Scenario[] {
  if (options.only.length === 0) return SCENARIOS;
  const unknown = options.only.filter((id) => !SCENARIOS.some((scenario) => scenario.id === id));
  if (unknown.length > 0)
    throw new BenchError(
      'BAD_ARGS',
      `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`,
    );
  return SCENARIOS.filter((scenario) => options.only.includes(scenario.id));
}

function reportPath(options: CliOptions, logDir: string): string | undefined {
  if (options.out === '-') return undefined;
  if (options.out) return path.resolve(options.out);
  return options.quick ? path.join(logDir, 'BENCHMARKS.quick.md') : path.join(repoRoot, 'BENCHMARKS.md');
}

async function main(argv: string[]): Promise<number> {
  const options = parseCli(argv.filter((arg) => arg !== '--'));
  if (options.help) {
    console.log(`${USAGE}\n\nScenarios:\n${SCENARIOS.map((s) => `  ${s.id.padEnd(12)} ${s.title}`).join('\n')}`);
    return 0;
  }
  const profile: BenchProfile = {
    ...(options.quick ? QUICK_PROFILE : FULL_PROFILE),
    ...(options.runs ? { runs: options.runs } : {}),
  };
  const scenarios = selectScenarios(options);
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
  const startedAt = new Date();
  const started = performance.now();
  const cores = planCores();
  const log = (message: string) =>
    console.error(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`);
  const context: ScenarioContext = { profile, cores, logDir, log };
  log(`${options.quick ? 'quick smoke run' : 'full run'}; ${cores.description}; child logs in ${logDir}`);

  const results: { scenario: Scenario; report: ScenarioReport }[] = [];
  const failures: { scenario: Scenario; error: string }[] = [];
  for (const scenario of scenarios) {
    log(`scenario ${scenario.id}: ${scenario.title}`);
    try {
      const report = await scenario.run(context);
      results.push({ scenario, report });
      if (report.skipped) log(`scenario ${scenario.id} skipped: ${report.skipped}`);
      for (const failure of report.failures) log(`scenario ${scenario.id} BROKEN: ${failure}`);
    } catch (error) {
      const text =
        error instanceof Error
          ? `${error.name}${'code' in error ? ` [${String(error.code)}]` : ''}: ${error.message}`
          : String(error);
      log(`scenario ${scenario.id} FAILED: ${text}`);
      failures.push({ scenario, error: text });
    } finally {
      await stopAllChildren();
    }
  }

  const { machine, versions } = describeMachine();
  const markdown = renderReport({
    title: options.quick ? 'Switchyard benchmarks (quick smoke run)' : 'Switchyard benchmarks',
    command: ['pnpm bench', ...argv.filter((arg) => arg !== '--')].join(' '),
    startedAt,
    durationMs: performance.now() - started,
    quick: options.quick,
    machine,
    versions,
    pinning: cores.description,
    sizes: describeSizes(profile),
    results,
    failures,
  });
  const target = reportPath(options, logDir);
  if (target) {
    fs.writeFileSync(target, markdown);
    log(`report written to ${target}`);
  }
  if (!target || options.quick) console.log(markdown);
  const broken = [
    ...failures.map((f) => f.scenario.id),
    ...results.filter((r) => r.report.failures.length > 0).map((r) => r.scenario.id),
  ];
  if (broken.length > 0) {
    log(`broken scenario(s): ${broken.join(', ')}; child logs kept in ${logDir}`);
    return 1;
  }
  if (options.quick && target?.startsWith(logDir)) {
    // Keep the report, drop the child logs of a clean smoke run.
    for (const file of fs.readdirSync(logDir)) if (file.endsWith('.log')) fs.rmSync(path.join(logDir, file));
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return 0;
}

process.on('exit', killAllChildrenNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildrenNow();
    process.exit(130);
  });
}

const quickRun = process.argv.includes('--quick');
const watchdog = quickRun
  ? setTimeout(() => {
      console.error(`[bench] the quick run exceeded ${QUICK_DEADLINE_MS / 1000} s: something hangs; stopping`);
      killAllChildrenNow();
      process.exit(1);
    }, QUICK_DEADLINE_MS)
  : undefined;
watchdog?.unref();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof BenchError && error.code === 'BAD_ARGS' ? error.message : error);
    process.exitCode = error instanceof BenchError && error.code === 'BAD_ARGS' ? 2 : 1;
  },
);

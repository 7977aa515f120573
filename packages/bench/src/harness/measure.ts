import type { WindowResult } from '../load/workload.js';
import type { LoadCommands } from '../load/commands.js';
import type { ChildHandle } from './child-process.js';
import { BenchError } from './errors.js';
import { busyCores, machineCpuTimes } from './machine-load.js';

export interface MeasuredWindow {
  load: WindowResult;
  /** Each server's CPU in the window, as a fraction of one core. */
  serverCpu: number[];
  /** Operations per second in the window. */
  rate: number;
  /** Change of each probe's reading across the window (e.g. a broker's CPU µs, or its insert count). */
  probeDeltas: number[];
  /** Cores' worth of CPU that processes other than this run's servers and load generator used in the window. */
  foreignCpu: number;
}

/** Above this the load generator, not the server, may be what limits a run: the row is marked. */
export const LOAD_SATURATION = 0.9;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface WindowTiming {
  warmupMs: number;
  windowMs: number;
  /** Extra windows allowed when other processes took the machine during one (0 in quick runs). */
  noisyRetries: number;
}

/** A window in which other processes used more than this many cores is measured again, if retries are left. */
export const NOISY_RETRY = 0.5;

/** A reading taken at both edges of a window (a broker's CPU µs, its insert count). */
export type Probe = { read(): Promise<number>; isCpuMicros?: boolean };

/**
 * With a workload already running in `load`: wait out the warm-up, then open a measured window on the
 * load generator and read every server's CPU at its edges. On a shared machine a window during which
 * other processes took over half a core is measured again (up to `noisyRetries` times) and the quietest
 * window is kept. Any error the workload saw fails the run: a benchmark that silently measures refusals
 * is worse than none.
 */
export async function measureWindow(
  servers: ChildHandle[],
  load: ChildHandle<LoadCommands>,
  timing: WindowTiming,
  probes: Probe[] = [],
): Promise<MeasuredWindow> {
  await sleep(timing.warmupMs);
  let best = await measureOnce(servers, load, timing.windowMs, probes);
  for (let retry = 0; retry < timing.noisyRetries && best.foreignCpu > NOISY_RETRY; retry++) {
    const again = await measureOnce(servers, load, timing.windowMs, probes);
    if (again.foreignCpu < best.foreignCpu) best = again;
  }
  return best;
}

async function measureOnce(
  servers: ChildHandle[],
  load: ChildHandle<LoadCommands>,
  windowMs: number,
  probes: Probe[],
): Promise<MeasuredWindow> {
  const probesBefore = await Promise.all(probes.map((probe) => probe.read()));
  const before = await Promise.all(servers.map((server) => server.call('cpu')));
  const machineBefore = machineCpuTimes();
  await load.call('window.begin');
  await sleep(windowMs);
  const result = await load.call('window.end');
  const machineAfter = machineCpuTimes();
  const after = await Promise.all(servers.map((server) => server.call('cpu')));
  const probesAfter = await Promise.all(probes.map((probe) => probe.read()));
  const probeDeltas = probesAfter.map((value, index) => value - probesBefore[index]!);
  if (result.errors > 0) {
    throw new BenchError(
      'WORKLOAD_FAILED',
      `${result.errors} error(s) in the measured window; first: ${result.firstError}`,
    );
  }
  const serverCpu = after.map((end, index) => {
    const start = before[index]!;
    return (end.cpuMicros - start.cpuMicros) / 1000 / Math.max(1, end.wallMs - start.wallMs);
  });
  const probeCpu = probes.reduce(
    (sum, probe, index) =>
      probe.isCpuMicros ? sum + probeDeltas[index]! / 1000 / Math.max(1, result.durationMs) : sum,
    0,
  );
  const ours = serverCpu.reduce((sum, value) => sum + value, 0) + result.loadCpu + probeCpu;
  const foreignCpu = Math.max(0, busyCores(machineBefore, machineAfter) - ours);
  return {
    load: result,
    serverCpu,
    rate: (result.operations * 1000) / Math.max(1, result.durationMs),
    probeDeltas,
    foreignCpu,
  };
}

/** Above this (in cores), other processes competed with the run for CPU: the row is marked. */
export const FOREIGN_LOAD = 0.25;

/** Notes for a measured window: a saturated load generator, or a machine busy with other work. */
export function windowNotes(window: MeasuredWindow): string[] {
  const notes: string[] = [];
  const saturation = loadSaturationNote(window.load.loadCpu);
  if (saturation) notes.push(saturation);
  if (window.foreignCpu > FOREIGN_LOAD) notes.push('⚠ other processes used > 25 % of a core in a run: noisy');
  return notes;
}

/** A note for rows whose load generator was near a full core in some run. */
export function loadSaturationNote(loadCpu: number): string | undefined {
  return loadCpu > LOAD_SATURATION
    ? `⚠ load generator saturated (> ${LOAD_SATURATION * 100} % of a core) in a run: a lower bound`
    : undefined;
}

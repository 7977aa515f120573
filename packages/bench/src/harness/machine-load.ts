import os from 'node:os';

/** Busy and total CPU time of the whole machine so far, summed over cores, in ms. */
export function machineCpuTimes(): { busyMs: number; totalMs: number } {
  let busyMs = 0;
  let totalMs = 0;
  for (const cpu of os.cpus()) {
    const { user, nice, sys, idle, irq } = cpu.times;
    busyMs += user + nice + sys + irq;
    totalMs += user + nice + sys + idle + irq;
  }
  return { busyMs, totalMs };
}

/**
 * Cores' worth of CPU the whole machine was busy between two readings (e.g. 1.6 of 2 cores). Minus what
 * the benchmark's own processes used, this is what other work on a shared machine took from the run.
 */
export function busyCores(
  before: { busyMs: number; totalMs: number },
  after: { busyMs: number; totalMs: number },
): number {
  const total = after.totalMs - before.totalMs;
  if (total <= 0) return 0;
  return ((after.busyMs - before.busyMs) / total) * os.cpus().length;
}

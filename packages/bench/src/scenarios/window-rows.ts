import { windowNotes, type MeasuredWindow } from '../harness/measure.js';
import type { TableBuilder } from '../harness/table.js';

/** The cells of a saturation row: rate, latency under that load, server and load-generator CPU. */
export function throughputCells(window: MeasuredWindow): Record<string, number | undefined> {
  return {
    rate: window.rate,
    p50: window.load.latency?.p50,
    p99: window.load.latency?.p99,
    serverCpu: window.serverCpu[0],
    loadCpu: window.load.loadCpu,
  };
}

/** Marks the row of `label` with every window's warnings (saturated load generator, noisy machine). */
export function noteWindows(table: TableBuilder, label: string, ...windows: MeasuredWindow[]): void {
  for (const note of windows.flatMap(windowNotes)) table.note(label, note);
}

import * as hdr from 'hdr-histogram-js';

/** Percentiles of one measured window, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Latencies recorded in microseconds into an HDR histogram (3 significant digits, up to 60 s), so a
 * percentile costs nothing to record and stays exact to 0.1 % however many samples a window holds.
 */
export class LatencyRecorder {
  private histogram = LatencyRecorder.create();

  private static create(): hdr.Histogram {
    return hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
  }

  recordMs(latencyMs: number): void {
    const micros = Math.round(latencyMs * 1000);
    this.histogram.recordValue(Math.min(Math.max(micros, 1), 60_000_000));
  }

  reset(): void {
    this.histogram.reset();
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const at = (percentile: number) => h.getValueAtPercentile(percentile) / 1000;
    return { count: h.totalCount, p50: at(50), p90: at(90), p99: at(99), max: h.maxValue / 1000 };
  }
}

import { describe, expect, it } from 'vitest';
import { waitForDrain } from '../src/load/drain.js';
import { WindowMeter } from '../src/load/window-meter.js';

describe('WindowMeter', () => {
  it('reports the counts it is given with the window duration, and keeps only the first error text', () => {
    const meter = new WindowMeter();
    meter.open();
    meter.latency.recordMs(2);
    meter.fail('first refusal');
    meter.fail('second refusal');
    const opened = performance.now();
    const result = meter.close({ operations: 5, sent: 6, latency: meter.latency.summary() }, opened + 1_000);
    expect(result.operations).toBe(5);
    expect(result.sent).toBe(6);
    expect(result.latency?.count).toBe(1);
    expect(result.durationMs).toBeGreaterThanOrEqual(1_000);
    expect(result.errors).toBe(2);
    expect(result.firstError).toBe('first refusal');
    expect(result.loadCpu).toBeGreaterThanOrEqual(0);
  });

  it('starts each window with an empty latency histogram but keeps the errors seen before', () => {
    const meter = new WindowMeter();
    meter.open();
    meter.latency.recordMs(5);
    meter.fail('during warm-up');
    meter.open();
    const result = meter.close({ operations: 0, sent: 0, latency: meter.latency.summary() });
    expect(result.latency?.count).toBe(0);
    expect(result.errors).toBe(1);
  });
});

describe('waitForDrain', () => {
  it('returns once the condition holds', async () => {
    let inFlight = 3;
    const timer = setInterval(() => (inFlight = Math.max(0, inFlight - 1)), 5);
    await waitForDrain(() => inFlight === 0, 5_000);
    clearInterval(timer);
    expect(inFlight).toBe(0);
  });

  it('gives up after its timeout when the condition never holds', async () => {
    let checks = 0;
    await waitForDrain(() => {
      checks += 1;
      return false;
    }, 50);
    expect(checks).toBeGreaterThan(1);
  });
});

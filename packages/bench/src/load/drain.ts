/**
 * Waits until `drained()` holds, checking every 20 ms, for at most `timeoutMs`. A workload's `stop` uses it
 * to let what is in flight land, so the next phase starts clean, without hanging on a reply that was lost.
 */
export async function waitForDrain(drained: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!drained() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

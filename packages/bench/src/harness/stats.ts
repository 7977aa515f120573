/** Median, min and max of the runs of one figure: what every table cell shows. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function spread(samples: readonly number[]): Spread | undefined {
  const finite = samples.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return undefined;
  const sorted = [...finite].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** The candidate's median over the baseline's median; undefined when either is missing or the baseline is 0. */
export function ratio(candidate: Spread | undefined, baseline: Spread | undefined): number | undefined {
  if (!candidate || !baseline || baseline.median === 0) return undefined;
  return candidate.median / baseline.median;
}

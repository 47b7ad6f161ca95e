/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** An interval that holds the median of what was sampled with at least `confidence`'s probability. */
export interface MedianInterval {
  low: number;
  high: number;
  /** The interval's own confidence: at least the one asked for (ranks come in whole steps). */
  confidence: number;
}

/**
 * The sign test's interval for the median of the distribution `values` were drawn from: from the k-th
 * smallest value to the k-th largest, k the largest rank for which the two tails of binomial(n, 1/2)
 * beyond it hold at most 1 - `confidence`. It assumes nothing about the distribution but that the
 * values were drawn independently. Null when there are too few values for that confidence (fewer
 * than 6 for 0.95): even the smallest and largest would not do.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianInterval | null {
  const n = values.length;
  const sorted = [...values].sort((a, b) => a - b);
  // tail(j) = P(B <= j) for B ~ binomial(n, 1/2), summed as the ranks go up.
  let term = 0.5 ** n;
  let tail = term;
  let k = 0;
  let outside = 0;
  for (let j = 0; 2 * j < n - 1; j++) {
    if (2 * tail > 1 - confidence) break;
    k = j + 1;
    outside = 2 * tail;
    term = (term * (n - j)) / (j + 1);
    tail += term;
  }
  if (k === 0) return null;
  return { low: sorted[k - 1] as number, high: sorted[n - k] as number, confidence: 1 - outside };
}

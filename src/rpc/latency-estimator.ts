/**
 * How long one node takes to answer, as TCP estimates a round trip (Jacobson/Karels): a smoothed mean
 * and a smoothed mean deviation, updated by every answer. A call that ran out of time is an answer
 * that took at least that long (a censored sample), so a node that slows down past its deadline gets
 * a longer one next time, as TCP backs off its retransmission timer.
 */
export class LatencyEstimator {
  private smoothedMs = 0;
  private deviationMs = 0;
  private samples = 0;

  /** Records one call's latency. */
  observe(latencyMs: number): void {
    const sample = Math.max(0, latencyMs);
    if (this.samples === 0) {
      this.smoothedMs = sample;
      this.deviationMs = sample / 2;
    } else {
      this.deviationMs += (Math.abs(sample - this.smoothedMs) - this.deviationMs) / 4;
      this.smoothedMs += (sample - this.smoothedMs) / 8;
    }
    this.samples += 1;
  }

  /** Records a call given up after `elapsedMs`: it would have taken longer, so the estimate grows. */
  expired(elapsedMs: number): void {
    // Counted as twice its elapsed time: the true latency is unknown and larger, and a bigger step
    // lets the next deadline clear it instead of expiring again.
    this.observe(2 * elapsedMs);
  }

  /** A latency this node rarely exceeds (mean plus four deviations); 0 before the first answer. */
  get boundMs(): number {
    return this.smoothedMs + 4 * this.deviationMs;
  }

  /** Answers observed so far. */
  get sampleCount(): number {
    return this.samples;
  }
}

/** How far a deadline reaches beyond the latency bound, and where it stops. */
export const DEADLINE_RULES = {
  /** A deadline is this many latency bounds: room for a burst the estimate has not seen yet. */
  boundMultiple: 3,
  /** Longest deadline however slow the nodes look: past it a node is hung, not busy. */
  ceilingMs: 60_000,
} as const;

/**
 * The latency bound of the node that completes a quorum: the `ceil(quorumFraction × n)`-th smallest
 * bound of `estimators`. A few hung nodes cannot stretch it (they rank last), while a machine that
 * slows every node down stretches it for every call.
 */
export function quorumLatencyBoundMs(estimators: readonly LatencyEstimator[], quorumFraction: number): number {
  if (estimators.length === 0) return 0;
  const bounds = estimators.map((e) => e.boundMs).sort((a, b) => a - b);
  const rank = Math.min(Math.max(Math.ceil(quorumFraction * bounds.length), 1), bounds.length);
  return bounds[rank - 1] as number;
}

/**
 * A deadline that follows observed latency: the configured floor, or `boundMultiple` times the
 * latency bound, whichever is longer, and never past the ceiling (nor below the floor).
 */
export function followingDeadlineMs(floorMs: number, latencyBoundMs: number): number {
  const stretched = Math.ceil(DEADLINE_RULES.boundMultiple * latencyBoundMs);
  return Math.max(floorMs, Math.min(stretched, DEADLINE_RULES.ceilingMs));
}

import { setTimeout as sleep } from 'node:timers/promises';

/** Limits of a runner; absent or 0 means unlimited. */
export interface RateLimits {
  bytesPerSecond?: number;
  itemsPerSecond?: number;
}

/**
 * Paces work to the configured rates: after each step it sleeps for as long as the work done so far
 * is ahead of the budget. Credit is not banked beyond one second, so an idle spell buys no burst.
 */
export class RateLimiter {
  private limits: RateLimits;
  private readonly clock: () => number;
  private windowStartMs: number;
  private bytes = 0;
  private items = 0;

  constructor(limits: RateLimits, clock: () => number = Date.now) {
    this.limits = limits;
    this.clock = clock;
    this.windowStartMs = clock();
  }

  /** Replaces the limits (an operator's --fast lifts them for one pass). */
  setLimits(limits: RateLimits): void {
    this.limits = limits;
    this.reset();
  }

  /** The limits in force. */
  get current(): RateLimits {
    return this.limits;
  }

  /** Forgets past work, e.g. after an idle pause. */
  reset(): void {
    this.windowStartMs = this.clock();
    this.bytes = 0;
    this.items = 0;
  }

  /**
   * Accounts for work done and waits until it fits the limits; rejects when `signal` aborts. Several
   * callers may consume at once (concurrent steps of one worker): each waits until the work of all of
   * them fits.
   */
  async consume(bytes: number, items: number, signal: AbortSignal): Promise<void> {
    this.bytes += bytes;
    this.items += items;
    const elapsedMs = this.clock() - this.windowStartMs;
    if (elapsedMs > this.dueMs() + 1000) this.reset();
    else await this.waitForBudget(signal);
  }

  /**
   * Waits until the work accounted so far fits the limits: a step about to start calls this, so one
   * that finished early does not start more while others' finished work is still ahead of the budget.
   */
  async waitForBudget(signal: AbortSignal): Promise<void> {
    // Others may consume while this one sleeps, moving the due time on: then it sleeps again.
    let aheadMs = this.aheadMs();
    while (aheadMs > 0) {
      const dueBefore = this.dueMs();
      await sleep(aheadMs, undefined, { signal, ref: false });
      aheadMs = this.dueMs() > dueBefore ? this.aheadMs() : 0;
    }
  }

  /** How far the work accounted in this window is ahead of the limits, in ms. */
  private aheadMs(): number {
    return this.dueMs() - (this.clock() - this.windowStartMs);
  }

  /** When the work accounted in this window is due under the limits, in ms after the window start. */
  private dueMs(): number {
    const { bytesPerSecond = 0, itemsPerSecond = 0 } = this.limits;
    return Math.max(
      bytesPerSecond > 0 ? (this.bytes / bytesPerSecond) * 1000 : 0,
      itemsPerSecond > 0 ? (this.items / itemsPerSecond) * 1000 : 0,
    );
  }
}

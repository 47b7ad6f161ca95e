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

  /** Accounts for work done and waits until it fits the limits; rejects when `signal` aborts. */
  async consume(bytes: number, items: number, signal: AbortSignal): Promise<void> {
    this.bytes += bytes;
    this.items += items;
    const { bytesPerSecond = 0, itemsPerSecond = 0 } = this.limits;
    const dueMs = Math.max(
      bytesPerSecond > 0 ? (this.bytes / bytesPerSecond) * 1000 : 0,
      itemsPerSecond > 0 ? (this.items / itemsPerSecond) * 1000 : 0,
    );
    const elapsedMs = this.clock() - this.windowStartMs;
    if (elapsedMs > dueMs + 1000) this.reset();
    else if (dueMs > elapsedMs) await sleep(dueMs - elapsedMs, undefined, { signal, ref: false });
  }
}

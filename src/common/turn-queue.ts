/** The bounds of a TurnQueue. */
export interface TurnQueueLimits {
  /** Turns held at once. */
  maxActive: number;
  /** Callers that may wait for a turn; past that one is refused at once. */
  maxQueued: number;
  /** Longest wait for a turn before the caller is refused; absent: as long as its signal allows. */
  maxWaitMs?: number | undefined;
  /** The error a refused caller gets: the queue was full, or it waited maxWaitMs. */
  refusal: () => Error;
}

/**
 * Turns at something scarce, taken in arrival order: at most `maxActive` held at once, the next
 * `maxQueued` callers wait (each at most `maxWaitMs`, and only while its signal is live), and past
 * that a caller is refused. A turn given back passes straight to the oldest waiter.
 */
export class TurnQueue {
  private readonly limits: TurnQueueLimits;
  private activeCount = 0;
  // A Set iterates in insertion order: its first entry is the oldest waiter.
  private readonly waiters = new Set<() => void>();

  constructor(limits: TurnQueueLimits) {
    this.limits = limits;
  }

  /** Turns held now. */
  get active(): number {
    return this.activeCount;
  }

  /** Callers waiting for a turn. */
  get queued(): number {
    return this.waiters.size;
  }

  /**
   * Waits for a turn and resolves with the function that gives it back (idempotent). Rejects with the
   * refusal when the queue is full or the wait too long, or with the signal's reason when it aborts first.
   */
  enter(signal: AbortSignal): Promise<() => void> {
    if (this.activeCount < this.limits.maxActive && this.waiters.size === 0) {
      this.activeCount += 1;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.size >= this.limits.maxQueued) return Promise.reject(this.limits.refusal());
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const stopWaiting = (): void => {
        this.waiters.delete(admit);
        if (timer !== undefined) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        stopWaiting();
        reject(signal.reason as Error);
      };
      const admit = (): void => {
        stopWaiting();
        resolve(this.releaser());
      };
      const { maxWaitMs } = this.limits;
      const timer =
        maxWaitMs === undefined
          ? undefined
          : setTimeout(() => {
              stopWaiting();
              reject(this.limits.refusal());
            }, maxWaitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(admit);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.values().next();
      if (next.done === true) {
        this.activeCount -= 1;
        return;
      }
      // The turn passes on: the count of active turns stays as it is.
      next.value();
    };
  }
}

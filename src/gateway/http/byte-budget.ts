import { S3Error } from '../s3/index.js';

/**
 * How long a request may wait for room in the budget before it is refused with SlowDown. Well under
 * the slow-client window (a paused body does not count against its client there) and under SDKs'
 * read timeouts: a wait this long means the gateway is full, and the client had better retry later.
 */
export const DEFAULT_BUDGET_WAIT_MS = 5_000;

interface Waiter {
  bytes: number;
  grant: () => void;
}

function slowDown(): S3Error {
  return new S3Error('SlowDown', {
    message: 'The gateway is holding as many request bodies as it can; please retry.',
    headers: { 'retry-after': '1' },
  });
}

/**
 * A gateway-wide cap on request bytes held in memory at once: XML documents and other small bodies
 * read whole, and signed aws-chunked chunks held until their signature checks out. A request whose
 * bytes would take the total past it stops reading and waits (`reserve`), or is answered 503
 * SlowDown with Retry-After, which SDKs retry; what it held is given back when it is done.
 */
export class ByteBudget {
  private readonly capacityBytes: number;
  private readonly maxWaitMs: number;
  private usedBytes = 0;
  private peakBytes = 0;
  /** Waiting reservations, served in arrival order so a large one is not passed over forever. */
  private readonly queue = new Set<Waiter>();

  constructor(capacityBytes: number, options: { maxWaitMs?: number } = {}) {
    this.capacityBytes = capacityBytes;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_BUDGET_WAIT_MS;
  }

  /** The cap: no single reservation larger than this can ever be granted. */
  get capacity(): number {
    return this.capacityBytes;
  }

  /** Bytes held now. */
  get used(): number {
    return this.usedBytes;
  }

  /** Most bytes held at once since the budget was made. */
  get peak(): number {
    return this.peakBytes;
  }

  /** Reservations waiting for room now. */
  get waiting(): number {
    return this.queue.size;
  }

  /** Takes `bytes` or throws SlowDown when the budget cannot hold them. */
  take(bytes: number): void {
    if (!this.tryTake(bytes)) throw slowDown();
  }

  /** Takes `bytes` when they fit now and nobody waits ahead; false, taking nothing, otherwise. */
  tryTake(bytes: number): boolean {
    if (this.queue.size > 0 || this.usedBytes + bytes > this.capacityBytes) return false;
    this.hold(bytes);
    return true;
  }

  /**
   * Takes `bytes`, waiting in line for room: rejects with SlowDown when none comes within the wait
   * deadline (or `bytes` exceed the whole budget), and with the signal's reason when it aborts first.
   */
  reserve(bytes: number, signal: AbortSignal): Promise<void> {
    if (this.tryTake(bytes)) return Promise.resolve();
    if (bytes > this.capacityBytes) return Promise.reject(slowDown());
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const leave = (err: Error): void => {
        this.queue.delete(waiter);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        // The head of the line may have been all that held back smaller reservations behind it.
        this.admit();
        reject(err);
      };
      const onAbort = (): void => leave(signal.reason as Error);
      const timer = setTimeout(() => leave(slowDown()), this.maxWaitMs);
      const waiter: Waiter = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.add(waiter);
    });
  }

  /** Gives back bytes taken earlier. */
  give(bytes: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - bytes);
    this.admit();
  }

  private hold(bytes: number): void {
    this.usedBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.usedBytes);
  }

  /** Grants waiting reservations, oldest first, while the oldest fits. */
  private admit(): void {
    for (const waiter of this.queue) {
      if (this.usedBytes + waiter.bytes > this.capacityBytes) return;
      this.queue.delete(waiter);
      this.hold(waiter.bytes);
      waiter.grant();
    }
  }
}

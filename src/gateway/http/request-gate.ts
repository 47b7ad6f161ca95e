import type { ServerResponse } from 'node:http';
import { S3Error } from '../s3/index.js';

/** How many S3 requests a gateway serves at once, and how many more may wait their turn. */
export interface RequestGateLimits {
  maxActive: number;
  maxQueued: number;
  /** What a refused client is told to wait before retrying (the Retry-After header). */
  retryAfterSeconds: number;
}

/**
 * Admission control: at most `maxActive` requests are served at once; the next `maxQueued` wait in
 * arrival order (their bodies unread, so TCP holds their senders back); only past that is a request
 * refused, with 503 SlowDown and Retry-After, which SDKs retry. A busy gateway so queues work at its
 * front door rather than letting every request start and then run out of time inside the node calls.
 */
export class RequestGate {
  private readonly limits: RequestGateLimits;
  private activeCount = 0;
  private readonly queue = new Set<() => void>();

  constructor(limits: RequestGateLimits) {
    this.limits = limits;
  }

  /** Requests being served now. */
  get active(): number {
    return this.activeCount;
  }

  /** Requests waiting for a turn. */
  get queued(): number {
    return this.queue.size;
  }

  /**
   * Waits for a turn and resolves with the function that gives it back (idempotent). Rejects with
   * SlowDown when the queue is full, or with the signal's reason when the client leaves while waiting.
   */
  enter(signal: AbortSignal): Promise<() => void> {
    if (this.activeCount < this.limits.maxActive && this.queue.size === 0) {
      this.activeCount += 1;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.size >= this.limits.maxQueued) {
      return Promise.reject(
        new S3Error('SlowDown', {
          message: 'The gateway is serving as many requests as it can; please retry.',
          headers: { 'retry-after': String(this.limits.retryAfterSeconds) },
        }),
      );
    }
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        this.queue.delete(admit);
        reject(signal.reason);
      };
      const admit = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.add(admit);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The turn passes straight to the oldest waiter (a Set iterates in insertion order).
      const next = this.queue.values().next();
      if (next.done === true) {
        this.activeCount -= 1;
        return;
      }
      this.queue.delete(next.value);
      next.value();
    };
  }
}

/**
 * Waits for a turn for one response and holds it until the response closes, sent or cut off (a GET
 * streams on after its handler returns). Without `signal`, a client that leaves while waiting gives its
 * place up when its response closes.
 */
export async function holdTurn(gate: RequestGate, response: ServerResponse, signal: AbortSignal = closedSignal(response)): Promise<void> {
  const release = await gate.enter(signal);
  if (response.closed) release();
  else response.once('close', release);
}

function closedSignal(response: ServerResponse): AbortSignal {
  const left = new AbortController();
  response.once('close', () => left.abort(new Error('client disconnected')));
  return left.signal;
}

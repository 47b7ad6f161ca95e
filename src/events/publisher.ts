import { TesseraError } from '../common/index.js';

/** Why a publish failed: the broker refused it or is unreachable, it took too long, or too many are in flight. */
export type PublishErrorCode = 'PublishFailed' | 'PublishTimeout' | 'PublisherClosed';

/** A publish that did not reach the broker's acceptance; the caller (the delivery worker) retries it later. */
export class PublishError extends TesseraError<PublishErrorCode> {}

/** One event message on its way to a target: its JSON body and the key it concerns. */
export interface Outgoing {
  /** The message body, S3's `{"Records":[...]}` as JSON text. */
  body: string;
  /** The object key, for targets that can carry it beside the body (a webhook header). */
  key: string;
}

/**
 * Sends event messages to one target. `publish` resolves only once the broker has accepted the
 * message (publisher confirm, PUBACK, reply, flush, 2xx), and rejects with a PublishError after
 * `timeoutMs` or when the broker refuses; a broker that restarted is connected to again.
 */
export interface Publisher {
  publish(message: Outgoing, options?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** How a publisher waits and how much it holds. */
export interface PublisherLimits {
  /** Longest wait for one publish to be accepted, the connection included. */
  timeoutMs: number;
  /** Most publishes waiting for their acceptance at once; more wait for a slot within their timeout. */
  maxInFlight: number;
}

/** Defaults: a broker answers within seconds; a delivery worker sends a few hundred at a time. */
export const DEFAULT_PUBLISHER_LIMITS: PublisherLimits = { timeoutMs: 10_000, maxInFlight: 256 };

/**
 * Runs publishes at most `limits.maxInFlight` at a time, each within `limits.timeoutMs` (the wait for a
 * slot included), and turns any failure into a PublishError. A publish that times out may still reach
 * the broker later: delivery is at least once, and consumers deduplicate by sequencer.
 */
export class PublishGate {
  private readonly limits: PublisherLimits;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(limits: PublisherLimits) {
    this.limits = limits;
  }

  /** Runs `send` with a slot and the deadline signal; what the target's name is for errors. */
  async run(target: string, send: (signal: AbortSignal) => Promise<void>, outer?: AbortSignal): Promise<void> {
    if (this.closed) throw new PublishError('PublisherClosed', `publisher of ${target} is closed`);
    const deadline = AbortSignal.timeout(this.limits.timeoutMs);
    const signal = outer === undefined ? deadline : AbortSignal.any([outer, deadline]);
    const timedOut = new Promise<never>((_, reject) => {
      const fail = (): void => reject(new PublishError('PublishTimeout', `${target} did not accept the message within ${this.limits.timeoutMs} ms`));
      if (signal.aborted) fail();
      else signal.addEventListener('abort', fail, { once: true });
    });
    timedOut.catch(() => undefined);
    await this.acquire(timedOut);
    try {
      await Promise.race([send(signal), timedOut]);
    } catch (err) {
      if (err instanceof PublishError) throw err;
      throw new PublishError('PublishFailed', `${target} refused the message: ${(err as Error).message}`, { cause: err });
    } finally {
      this.release();
    }
  }

  /** Refuses new publishes. */
  close(): void {
    this.closed = true;
  }

  /** A slot, or the timeout's rejection; a waiter that gives up leaves the queue, or hands on the slot it was just given. */
  private async acquire(timedOut: Promise<never>): Promise<void> {
    if (this.active < this.limits.maxInFlight) {
      this.active += 1;
      return;
    }
    let grant: () => void = () => undefined;
    const granted = new Promise<void>((resolve) => {
      grant = resolve;
      this.waiting.push(resolve);
    });
    try {
      await Promise.race([granted, timedOut]);
    } catch (err) {
      const at = this.waiting.indexOf(grant);
      if (at === -1) this.release();
      else this.waiting.splice(at, 1);
      throw err;
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.active -= 1;
    else next();
  }
}

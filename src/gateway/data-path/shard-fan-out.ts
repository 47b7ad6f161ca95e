import { TesseraError } from '../../common/index.js';
import type { ShardSink } from './shard-sink.js';
import type { StripePool } from './stripe-pool.js';

/** Knobs of a fan-out; `now` is injectable for tests. */
export interface FanOutOptions {
  sinks: readonly ShardSink[];
  /** The write quorum. */
  needed: number;
  /** A sink with queued data that takes nothing for this long, or an ended one whose node does not answer for this long, is cut off. */
  stallTimeoutMs: number;
  /** Once a write quorum has taken a stripe, how long the other sinks have to take it too. */
  graceMs: number;
  /** Where stripe buffers go back once no connection can be sending from them. */
  pool: StripePool | undefined;
  /**
   * Bytes a connection may still be sending from after it has pulled a later block (the socket's
   * write high-water mark): a pooled buffer goes back only when its blocks are at least this large.
   */
  socketBufferBytes: number;
  now?: () => number;
}

/** What the fan-out knows of one stripe it sent. */
interface SentStripe {
  /** Shard offset where this stripe's blocks end (the same in every shard). */
  endBytes: number;
  blockBytes: number;
  /** The pooled buffer the blocks live in, if it may be reused. */
  buffer: Uint8Array | undefined;
  /** When a write quorum had taken the stripe. */
  quorumAtMs: number | undefined;
}

/**
 * Sends stripes to the shard sinks and keeps the rules of a write in one place: how many stripes may
 * be queued at once (memory stays bounded, whatever the object size), when a straggler is cut off
 * (it fell `graceMs` behind a write quorum), when a silent upload is cut off (nothing taken, or no
 * answer to a whole body, for `stallTimeoutMs`), and when a stripe buffer may be reused. One timer
 * per fan-out, not per block.
 */
export class ShardFanOut {
  private readonly options: FanOutOptions;
  private readonly now: () => number;
  private readonly stripes: SentStripe[] = [];
  /** Per sink: when it last took something, or began to have something to take. */
  private readonly progressMs: number[];
  private readonly pulled: number[];
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private waiter: (() => void) | undefined;
  private closed = false;

  constructor(options: FanOutOptions) {
    this.options = options;
    this.now = options.now ?? performance.now.bind(performance);
    const started = this.now();
    this.progressMs = options.sinks.map(() => started);
    this.pulled = options.sinks.map(() => 0);
    options.sinks.forEach((sink) => sink.onProgress(() => this.update()));
  }

  /** Live sinks: not failed. */
  get liveSinks(): number {
    return this.options.sinks.filter((sink) => !sink.failed).length;
  }

  /** Queues one stripe's blocks (blocks[i] to shard i); `buffer` is the pooled allocation they live in, if any. */
  send(blocks: readonly Uint8Array[], buffer: Uint8Array | undefined): void {
    const blockBytes = blocks[0]?.length ?? 0;
    const nowMs = this.now();
    let endBytes = 0;
    this.options.sinks.forEach((sink, i) => {
      if (sink.failed) return;
      // A sink that had taken everything starts its stall clock now, not when it last took something.
      if (sink.pulledBytes === sink.writtenBytes) this.progressMs[i] = nowMs;
      sink.write(blocks[sink.shardIndex] as Uint8Array);
      endBytes = sink.writtenBytes;
    });
    this.stripes.push({ endBytes, blockBytes, buffer, quorumAtMs: undefined });
    this.update();
  }

  /** Ends every live sink's body; a sink that had taken everything starts waiting for its node's answer now. */
  end(): void {
    const nowMs = this.now();
    this.options.sinks.forEach((sink, i) => {
      if (sink.failed) return;
      if (sink.pulledBytes === sink.writtenBytes) this.progressMs[i] = nowMs;
      sink.end();
    });
    this.update();
  }

  /**
   * Waits until fewer than `maxQueued` stripes are still being taken by some live sink. Throws when
   * the live sinks fall below the write quorum.
   */
  async room(maxQueued: number): Promise<void> {
    for (;;) {
      this.update();
      if (this.liveSinks < this.options.needed) throw new FanOutQuorumLost();
      if (this.stripes.filter((stripe) => !this.takenByAll(stripe)).length < maxQueued) return;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  /** Stops the timer; buffers still queued are left to the garbage collector. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiter?.();
    this.waiter = undefined;
  }

  /** Re-evaluates every rule; called on each pull, sink failure, settlement and timer tick. */
  update(): void {
    if (this.closed) return;
    const nowMs = this.now();
    const { sinks, needed, graceMs, stallTimeoutMs } = this.options;
    sinks.forEach((sink, i) => {
      const pulled = sink.pulledBytes;
      if (pulled !== this.pulled[i]) {
        this.pulled[i] = pulled;
        this.progressMs[i] = nowMs;
      }
      if (this.waitingOn(sink) && nowMs - (this.progressMs[i] as number) >= stallTimeoutMs) {
        sink.fail(new Error(pulled < sink.writtenBytes ? `shard upload stalled for ${stallTimeoutMs} ms` : `node did not answer a whole shard within ${stallTimeoutMs} ms`));
      }
    });
    for (const stripe of this.stripes) {
      if (stripe.quorumAtMs === undefined && sinks.filter((sink) => !sink.failed && this.took(sink, stripe)).length >= needed) {
        stripe.quorumAtMs = nowMs;
      }
      if (stripe.quorumAtMs !== undefined && nowMs - stripe.quorumAtMs >= graceMs) {
        for (const sink of sinks) {
          if (!sink.failed && !this.took(sink, stripe)) sink.fail(new Error(`fell more than ${graceMs} ms behind the write quorum`));
        }
      }
    }
    this.recycle();
    this.arm(nowMs);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** A live sink the fan-out waits on: data queued it has not taken, or a whole body its node has not answered. */
  private waitingOn(sink: ShardSink): boolean {
    return !sink.failed && !sink.settled && (sink.pulledBytes < sink.writtenBytes || sink.ended);
  }

  private took(sink: ShardSink, stripe: SentStripe): boolean {
    return sink.settled || sink.pulledBytes >= stripe.endBytes;
  }

  private takenByAll(stripe: SentStripe): boolean {
    return this.options.sinks.every((sink) => sink.failed || this.took(sink, stripe));
  }

  /**
   * Drops stripes no sink still needs, handing pooled buffers back. A connection that has pulled a later
   * block has handed this one to its socket, which may still hold up to `socketBufferBytes` of it unsent:
   * so a buffer is reused only when its blocks are larger than that and every sink has pulled past them
   * (or is finished, or was cut off, its connection destroyed).
   */
  private recycle(): void {
    const { sinks, pool, socketBufferBytes } = this.options;
    while (this.stripes.length > 0) {
      const stripe = this.stripes[0] as SentStripe;
      const free = sinks.every((sink) => sink.failed || sink.settled || sink.pulledBytes > stripe.endBytes);
      if (free) {
        if (stripe.buffer !== undefined && stripe.blockBytes >= socketBufferBytes) pool?.release(stripe.buffer);
      } else if (this.takenByAll(stripe) && (stripe.buffer === undefined || stripe.blockBytes < socketBufferBytes)) {
        // Nothing to give back: forget it once every sink has taken it.
      } else {
        return;
      }
      this.stripes.shift();
    }
  }

  /** Arms the one timer for the nearest deadline: a straggler's grace or a silent sink's or node's stall. */
  private arm(nowMs: number): void {
    const { sinks, graceMs, stallTimeoutMs } = this.options;
    let nextMs = Number.POSITIVE_INFINITY;
    sinks.forEach((sink, i) => {
      if (this.waitingOn(sink)) nextMs = Math.min(nextMs, (this.progressMs[i] as number) + stallTimeoutMs);
    });
    for (const stripe of this.stripes) {
      if (stripe.quorumAtMs !== undefined && !this.takenByAll(stripe)) nextMs = Math.min(nextMs, stripe.quorumAtMs + graceMs);
    }
    if (nextMs === Number.POSITIVE_INFINITY) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAtMs = nextMs;
      return;
    }
    if (this.timer !== undefined && this.timerAtMs <= nextMs) return;
    clearTimeout(this.timer);
    this.timerAtMs = nextMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAtMs = Number.POSITIVE_INFINITY;
      this.update();
    }, Math.max(0, nextMs - nowMs) + 1);
  }
}

/** Fewer live sinks than the write quorum: the caller turns this into the S3 error with each node's failure. */
export class FanOutQuorumLost extends TesseraError<'QuorumLost'> {
  constructor() {
    super('QuorumLost', 'fewer live shard uploads than the write quorum');
  }
}

import type { Readable } from 'node:stream';

function ignore(): void {}

/** Bytes taken from a response beyond what was asked for before the stream is paused (backpressure to the node). */
const READ_AHEAD_BYTES = 64 * 1024;

interface PendingRead {
  remainingBytes: number;
  pieces: Uint8Array[];
  resolve: (pieces: Uint8Array[]) => void;
  reject: (err: Error) => void;
}

/**
 * Reads exact-size blocks from one shard's response stream, as the pieces they arrived in (views,
 * never copied). A read that fails, ends short, or sees no byte for `stallTimeoutMs` rejects; the
 * object reader then treats the shard as missing. One watchdog timer per cursor, re-armed only
 * when it fires, watches for silence: no timer or promise race per chunk. The stream flows into a
 * small queue ('data' events cost no extra tick per chunk) and is paused once READ_AHEAD_BYTES wait
 * with no read pending.
 */
export class ShardCursor {
  readonly shardIndex: number;
  private readonly stream: Readable;
  private readonly stallTimeoutMs: number;
  private readonly now: () => number;
  private pending: PendingRead | undefined;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private ended = false;
  private closed = false;
  private failure: Error | undefined;
  private progressMs = 0;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(shardIndex: number, stream: Readable, stallTimeoutMs: number, now: () => number = performance.now.bind(performance)) {
    this.shardIndex = shardIndex;
    this.stream = stream;
    this.stallTimeoutMs = stallTimeoutMs;
    this.now = now;
    stream.on('data', (chunk: Uint8Array) => {
      this.progressMs = this.now();
      this.queue.push(chunk);
      this.queuedBytes += chunk.length;
      this.pump();
      if (this.pending === undefined && this.queuedBytes >= READ_AHEAD_BYTES) stream.pause();
    });
    stream.on('end', () => {
      this.ended = true;
      this.pump();
    });
    stream.on('error', (err: Error) => this.fail(err));
    stream.on('close', () => {
      if (!this.ended && !this.closed && this.failure === undefined) this.fail(new Error(`shard ${this.shardIndex} closed before its end`));
    });
  }

  /** The next `lengthBytes` bytes of the shard, in the pieces the node sent them. */
  read(lengthBytes: number): Promise<Uint8Array[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`shard ${this.shardIndex} read closed`));
    if (this.pending !== undefined) return Promise.reject(new Error('ShardCursor.read while a read is pending'));
    return new Promise((resolve, reject) => {
      this.pending = { remainingBytes: lengthBytes, pieces: [], resolve, reject };
      this.progressMs = this.now();
      this.pump();
      if (this.pending === undefined) return;
      if (this.stream.isPaused()) this.stream.resume();
      this.watchdog ??= setTimeout(() => this.checkStall(), this.stallTimeoutMs);
    });
  }

  /** Stops reading and releases the connection; a pending read rejects. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Most cursors close with no read pending (the object was read): no error object, no stack trace.
    if (this.pending !== undefined) this.fail(new Error(`shard ${this.shardIndex} read closed`));
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    // A response body destroyed before it ended emits an abort error; unheard, it would end the process.
    this.stream.on('error', ignore);
    this.stream.destroy();
  }

  private pump(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    while (pending.remainingBytes > 0 && this.queue.length > 0) {
      const chunk = this.queue[0] as Uint8Array;
      if (chunk.length > pending.remainingBytes) {
        pending.pieces.push(chunk.subarray(0, pending.remainingBytes));
        this.queue[0] = chunk.subarray(pending.remainingBytes);
        this.queuedBytes -= pending.remainingBytes;
        pending.remainingBytes = 0;
      } else {
        this.queue.shift();
        this.queuedBytes -= chunk.length;
        if (chunk.length > 0) pending.pieces.push(chunk);
        pending.remainingBytes -= chunk.length;
      }
    }
    if (pending.remainingBytes === 0) {
      this.pending = undefined;
      pending.resolve(pending.pieces);
    } else if (this.ended) {
      this.fail(new Error(`shard ${this.shardIndex} ended ${pending.remainingBytes} bytes short`));
    }
  }

  private checkStall(): void {
    this.watchdog = undefined;
    if (this.pending === undefined || this.failure !== undefined) return;
    const silentMs = this.now() - this.progressMs;
    if (silentMs >= this.stallTimeoutMs) {
      this.fail(new Error(`shard ${this.shardIndex} stalled`));
      this.stream.on('error', ignore);
      this.stream.destroy();
      return;
    }
    this.watchdog = setTimeout(() => this.checkStall(), this.stallTimeoutMs - silentMs + 1);
  }

  private fail(err: Error): void {
    if (this.failure === undefined) this.failure = err;
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(this.failure);
  }
}

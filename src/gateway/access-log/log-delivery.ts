import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { TesseraError, type Logger } from '../../common/index.js';
import { logObjectKey, type LogDestination } from './log-keys.js';

/** Writes one log object, durably (a write quorum), or throws; `LogTargetGone` when its bucket no longer exists. */
export type LogObjectWriter = (bucket: string, key: string, body: Buffer, signal: AbortSignal) => Promise<void>;

/** Bounds of the delivery: what a flood of logged requests may make the gateway hold. */
export interface LogDeliveryLimits {
  /** Records reserved at once (requests to logged buckets in flight, and records not yet written); past it, SlowDown. */
  maxPendingRecords: number;
  /** Records in one log object. */
  maxBatchRecords: number;
  /** Bytes in one log object (a batch ends before the record that would pass it, and holds at least one). */
  maxBatchBytes: number;
  /** How long a batch is retried before its requests are cut off unanswered. */
  retryForMs: number;
}

/** The defaults: 4,096 records of at most about 20 KiB (a request line and headers fit Node's 16 KiB), 4 MiB objects, 30 s. */
export const DEFAULT_LOG_DELIVERY_LIMITS: LogDeliveryLimits = { maxPendingRecords: 4096, maxBatchRecords: 10_000, maxBatchBytes: 4 * 1024 * 1024, retryForMs: 30_000 };

/** Why a record was not made durable: its target bucket is gone (answered anyway), or delivery failed (cut off). */
export class LogDeliveryError extends TesseraError {
  constructor(code: 'LogTargetGone' | 'LogDeliveryFailed' | 'LogDeliveryClosed', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

interface Entry {
  line: string;
  eventMs: number;
  resolve: () => void;
  reject: (err: LogDeliveryError) => void;
}

interface Group {
  destination: LogDestination;
  entries: Entry[];
  writing: boolean;
}

/** What delivery has done since the gateway started. */
export interface LogDeliveryFigures {
  pendingRecords: number;
  objectsWritten: number;
  recordsWritten: number;
  /** Records whose target bucket was gone. */
  recordsDropped: number;
  /** Records whose batch could not be written in time: their responses were cut off. */
  recordsFailed: number;
  /** Requests refused with SlowDown because every record slot was taken. */
  refused: number;
}

/**
 * Group commit of access-log records into log objects. A request to a logged bucket reserves a slot
 * when it starts (none free: the caller answers SlowDown), and submits its line when its response is
 * about to end; the line's promise settles once the log object holding it is acknowledged by a write
 * quorum, and only then does the response end. Per destination one object is written at a time:
 * records that arrive meanwhile wait and go together in the next one, so a busy bucket writes large
 * objects and an idle one small objects at once, never on a timer.
 */
export class AccessLogDelivery {
  private readonly groups = new Map<string, Group>();
  private readonly limits: LogDeliveryLimits;
  private readonly write: LogObjectWriter;
  private readonly logger: Logger;
  private readonly stop = new AbortController();
  private readonly writes = new Set<Promise<void>>();
  private reserved = 0;
  private readonly counts = { objectsWritten: 0, recordsWritten: 0, recordsDropped: 0, recordsFailed: 0, refused: 0 };

  constructor(options: { write: LogObjectWriter; logger: Logger; limits?: Partial<LogDeliveryLimits> | undefined }) {
    this.write = options.write;
    this.logger = options.logger;
    this.limits = { ...DEFAULT_LOG_DELIVERY_LIMITS, ...options.limits };
    // Every node request of every log object write listens on it: many at once, all ended by close().
    setMaxListeners(0, this.stop.signal);
  }

  /** The figures for metrics and status. */
  get figures(): LogDeliveryFigures {
    return { pendingRecords: this.reserved, ...this.counts };
  }

  /** Takes a record slot for a request that is starting; false (count it refused) when none is free or delivery has stopped. */
  reserve(): boolean {
    if (this.reserved >= this.limits.maxPendingRecords || this.stop.signal.aborted) {
      this.counts.refused += 1;
      return false;
    }
    this.reserved += 1;
    return true;
  }

  /** Gives back a reserved slot whose request makes no record. */
  release(): void {
    this.reserved = Math.max(0, this.reserved - 1);
  }

  /**
   * Submits the line of a request that reserved a slot; resolves once it is in a durable log object.
   * Rejects with LogTargetGone (the target bucket was deleted) or LogDeliveryFailed. The slot is given
   * back either way.
   */
  submit(destination: LogDestination, line: string, eventMs: number): Promise<void> {
    if (this.stop.signal.aborted) {
      this.release();
      return Promise.reject(new LogDeliveryError('LogDeliveryClosed', 'access log delivery has stopped'));
    }
    const id = `${destination.targetBucket}\n${destination.keyPrefix}\n${destination.dateSource}`;
    let group = this.groups.get(id);
    if (group === undefined) {
      group = { destination, entries: [], writing: false };
      this.groups.set(id, group);
    }
    const settled = new Promise<void>((resolve, reject) => group.entries.push({ line, eventMs, resolve, reject }));
    if (!group.writing) this.startWrite(id, group);
    return settled.finally(() => this.release());
  }

  /** Writes what is pending and stops; a retry still waiting is cut short (its requests are cut off). */
  async close(): Promise<void> {
    const deadline = setTimeout(() => this.stop.abort(), 5_000);
    deadline.unref();
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
    clearTimeout(deadline);
    this.stop.abort();
  }

  private startWrite(id: string, group: Group): void {
    group.writing = true;
    const batch = this.takeBatch(group);
    const done = this.writeBatch(group.destination, batch).finally(() => {
      this.writes.delete(done);
      group.writing = false;
      if (group.entries.length > 0) this.startWrite(id, group);
      else this.groups.delete(id);
    });
    this.writes.add(done);
  }

  private takeBatch(group: Group): Entry[] {
    let bytes = 0;
    let count = 0;
    for (const entry of group.entries) {
      const size = Buffer.byteLength(entry.line) + 1;
      if (count > 0 && (count >= this.limits.maxBatchRecords || bytes + size > this.limits.maxBatchBytes)) break;
      bytes += size;
      count += 1;
    }
    return group.entries.splice(0, count);
  }

  private async writeBatch(destination: LogDestination, batch: Entry[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return;
    const body = Buffer.from(batch.map((entry) => `${entry.line}\n`).join(''));
    const key = logObjectKey(destination, first.eventMs, Date.now(), randomBytes(8).toString('hex').toUpperCase());
    const giveUpAt = performance.now() + this.limits.retryForMs;
    for (let pauseMs = 100; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
      try {
        await this.write(destination.targetBucket, key, body, this.stop.signal);
        this.counts.objectsWritten += 1;
        this.counts.recordsWritten += batch.length;
        for (const entry of batch) entry.resolve();
        return;
      } catch (err) {
        const gone = err instanceof LogDeliveryError && err.code === 'LogTargetGone';
        if (gone || this.stop.signal.aborted || performance.now() + pauseMs > giveUpAt) {
          this.settleFailed(destination, batch, gone, err);
          return;
        }
        this.logger.warn({ err, bucket: destination.targetBucket, records: batch.length }, 'access log write failed; retrying');
        await pause(pauseMs, this.stop.signal);
      }
    }
  }

  private settleFailed(destination: LogDestination, batch: Entry[], gone: boolean, cause: unknown): void {
    if (gone) {
      this.counts.recordsDropped += batch.length;
      this.logger.warn({ bucket: destination.targetBucket, records: batch.length }, 'access log target bucket is gone; records dropped');
    } else {
      this.counts.recordsFailed += batch.length;
      this.logger.error({ err: cause, bucket: destination.targetBucket, records: batch.length }, 'access log records could not be written; their responses are cut off');
    }
    const error = new LogDeliveryError(gone ? 'LogTargetGone' : 'LogDeliveryFailed', 'access log records not written', { cause });
    for (const entry of batch) entry.reject(error);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

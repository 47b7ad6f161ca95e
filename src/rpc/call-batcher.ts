import type { BatchResult } from './protocol.js';

/** One queued call: its JSON text, and the caller waiting for its result. */
interface QueuedCall {
  json: string;
  resolve: (result: BatchResult) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Set once the call is sent: tells its batch that this caller stopped waiting. */
  abandon?: () => void;
}

/** Limits of one batch request. */
export interface CallBatcherOptions {
  /** Most calls in one request. */
  maxCalls: number;
  /** Most bytes of call JSON in one request. */
  maxBytes: number;
}

/**
 * Adaptive batching of small calls to one node, as group commit does for disks: while a batch is in
 * flight, the calls made meanwhile wait and leave together in the next one. A lone call leaves at
 * once (after the current microtask, so calls made in the same turn share a request), so batching
 * costs no latency when the node is idle and saves a request per call when it is busy. The node runs
 * the calls of a batch concurrently and answers each one separately.
 */
export class CallBatcher {
  private readonly send: (callsJson: readonly string[], signal: AbortSignal) => Promise<BatchResult[]>;
  private readonly options: CallBatcherOptions;
  private queue: QueuedCall[] = [];
  private inFlight = false;
  private flushQueued = false;

  /** `send` posts one batch; its signal aborts once every caller in the batch has stopped waiting. */
  constructor(send: (callsJson: readonly string[], signal: AbortSignal) => Promise<BatchResult[]>, options: CallBatcherOptions) {
    this.send = send;
    this.options = options;
  }

  /** Queues one call (its JSON text) and resolves with its own result; rejects when the batch request fails. */
  call(json: string, signal?: AbortSignal): Promise<BatchResult> {
    return new Promise<BatchResult>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason);
        return;
      }
      const queued: QueuedCall = { json, resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        // An aborted caller stops waiting at once; a call already sent still runs on the node, as any sent request would.
        queued.onAbort = (): void => {
          this.queue = this.queue.filter((other) => other !== queued);
          queued.abandon?.();
          reject(signal.reason);
        };
        signal.addEventListener('abort', queued.onAbort, { once: true });
      }
      this.queue.push(queued);
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.inFlight || this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch: QueuedCall[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && batch.length < this.options.maxCalls) {
      const next = this.queue[0] as QueuedCall;
      if (batch.length > 0 && bytes + next.json.length > this.options.maxBytes) break;
      batch.push(next);
      bytes += next.json.length;
      this.queue.shift();
    }
    this.inFlight = true;
    // A request nobody waits for any more is cancelled, so it cannot hold a connection (or a closing node) for its timeout.
    const cancel = new AbortController();
    let waiting = batch.length;
    for (const call of batch) {
      call.abandon = (): void => {
        waiting -= 1;
        if (waiting === 0) cancel.abort(new Error('every caller of this batch stopped waiting'));
      };
    }
    this.send(batch.map((call) => call.json), cancel.signal).then(
      (results) => {
        batch.forEach((call, i) => {
          const result = results[i];
          settle(call, result === undefined ? undefined : () => call.resolve(result));
        });
      },
      (err: unknown) => {
        for (const call of batch) settle(call, () => call.reject(err));
      },
    ).finally(() => {
      this.inFlight = false;
      this.flush();
    });
  }
}

function settle(call: QueuedCall, deliver: (() => void) | undefined): void {
  if (call.onAbort !== undefined) call.signal?.removeEventListener('abort', call.onAbort);
  if (deliver === undefined) call.reject(new Error('node answered a batch without this call'));
  else deliver();
}

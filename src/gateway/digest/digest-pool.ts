import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TesseraError } from '../../common/index.js';
import type { BodyDigests, DigestSpec } from './digest-hashers.js';
import type { DigestRequest, DigestResponse } from './digest-protocol.js';

/**
 * Bytes per message to a worker. Each message wakes a thread, which on a busy machine costs far more
 * than the copy: a 1 MiB body goes in two.
 */
const BATCH_BYTES = 512 * 1024;
/** Batches a stream may have at a worker before its writer waits. */
const BATCHES_IN_FLIGHT = 2;
/** Batch buffers kept between streams, so a steady load allocates none. */
const MAX_IDLE_BATCHES = 16;

/** Thrown from a digest stream whose worker died. */
export class DigestWorkerError extends TesseraError<'DigestWorkerFailed'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DigestWorkerFailed', message, options);
  }
}

/**
 * Worker threads that hash request bodies off the request thread: MD5 runs at well under a gigabyte
 * per second per core, which would otherwise cap a gateway's PUT throughput. A stream copies its bytes
 * once into batch buffers that are transferred to its worker and back, and waits (backpressure) when
 * BATCHES_IN_FLIGHT are out. Workers start on first use. Each stream stays on one worker (its hash state
 * lives there); new streams go to the least busy worker.
 */
export class DigestPool {
  private readonly maxWorkers: number;
  private readonly threads: DigestThread[] = [];
  private readonly idleBatches: ArrayBuffer[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: { workers?: number } = {}) {
    this.maxWorkers = options.workers ?? Math.max(1, availableParallelism() - 1);
  }

  /** Starts hashing one body. */
  open(spec: DigestSpec): DigestStream {
    if (this.closed) throw new Error('digest pool closed');
    const thread = this.pickThread();
    const stream = new DigestStream(this, thread, this.nextId, spec);
    this.nextId += 1;
    return stream;
  }

  /** Stops the workers; open streams fail. */
  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((thread) => thread.terminate()));
    this.idleBatches.length = 0;
  }

  /** @internal A batch buffer for a stream. */
  takeBatch(): ArrayBuffer {
    return this.idleBatches.pop() ?? new ArrayBuffer(BATCH_BYTES);
  }

  /** @internal A batch buffer back from a worker. */
  giveBatch(buffer: ArrayBuffer): void {
    if (this.idleBatches.length < MAX_IDLE_BATCHES && buffer.byteLength === BATCH_BYTES) this.idleBatches.push(buffer);
  }

  /** @internal Forgets a thread whose worker died. */
  forget(thread: DigestThread): void {
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.threads.splice(index, 1);
  }

  private pickThread(): DigestThread {
    let best: DigestThread | undefined;
    for (const thread of this.threads) if (best === undefined || thread.load < best.load) best = thread;
    if (best !== undefined && (best.load === 0 || this.threads.length >= this.maxWorkers)) return best;
    const thread = new DigestThread(this);
    this.threads.push(thread);
    return thread;
  }
}

/** One worker and the streams it hashes. */
class DigestThread {
  private readonly worker: Worker;
  private readonly streams = new Map<number, DigestStream>();

  constructor(pool: DigestPool) {
    this.worker = spawnDigestWorker();
    // Idle workers must not keep the process alive; a worker with open streams does (see add/remove).
    this.worker.unref();
    this.worker.on('message', (message: DigestResponse) => this.streams.get(message.id)?.receive(message));
    const die = (reason: unknown): void => {
      pool.forget(this);
      const error = new DigestWorkerError('the digest worker stopped', { cause: reason });
      for (const stream of [...this.streams.values()]) stream.fail(error);
      this.streams.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (exitCode) => die(new Error(`exit code ${exitCode}`)));
  }

  /** Streams open on this worker. */
  get load(): number {
    return this.streams.size;
  }

  add(stream: DigestStream, id: number): void {
    if (this.streams.size === 0) this.worker.ref();
    this.streams.set(id, stream);
  }

  remove(id: number): void {
    this.streams.delete(id);
    if (this.streams.size === 0) this.worker.unref();
  }

  post(message: DigestRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/** One body being hashed by a worker. Bytes written are copied; the caller may reuse its buffers at once. */
export class DigestStream {
  private readonly pool: DigestPool;
  private readonly thread: DigestThread;
  private readonly id: number;
  /** Sent with the first message, which opens the stream in the worker. */
  private spec: DigestSpec | undefined;
  private batch: Uint8Array | undefined;
  private fillBytes = 0;
  private inFlight = 0;
  private failure: unknown;
  private finished = false;
  private wake: (() => void) | undefined;
  private settle: { resolve: (digests: BodyDigests) => void; reject: (err: unknown) => void } | undefined;

  constructor(pool: DigestPool, thread: DigestThread, id: number, spec: DigestSpec) {
    this.pool = pool;
    this.thread = thread;
    this.id = id;
    this.spec = spec;
    thread.add(this, id);
  }

  /** Queues bytes for hashing; false when the worker is behind and the caller should await ready(). */
  write(data: Uint8Array): boolean {
    if (this.failure !== undefined || this.finished) return true;
    let offset = 0;
    while (offset < data.length) {
      this.batch ??= new Uint8Array(this.pool.takeBatch());
      const take = Math.min(this.batch.length - this.fillBytes, data.length - offset);
      this.batch.set(data.subarray(offset, offset + take), this.fillBytes);
      this.fillBytes += take;
      offset += take;
      if (this.fillBytes === this.batch.length) this.flush(false);
    }
    return this.inFlight < BATCHES_IN_FLIGHT;
  }

  /** Resolves once the worker has caught up enough to take more (or the stream failed). */
  ready(): Promise<void> {
    if (this.inFlight < BATCHES_IN_FLIGHT || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Ends the body: resolves with its digests once the worker has hashed every byte. */
  end(): Promise<BodyDigests> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.finished) return Promise.reject(new Error('digest stream already ended'));
    this.finished = true;
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      if (this.fillBytes > 0) this.flush(true);
      else {
        this.releaseBatch();
        this.thread.post({ op: 'end', id: this.id, spec: this.spec });
        this.spec = undefined;
      }
    });
  }

  /** Abandons the body (the request failed): the worker drops its state. */
  drop(): void {
    if (this.finished || this.failure !== undefined) return;
    this.finished = true;
    this.releaseBatch();
    // A stream the worker never heard of needs no message.
    if (this.spec === undefined) this.thread.post({ op: 'drop', id: this.id });
    this.thread.remove(this.id);
  }

  /** @internal A message from the worker. */
  receive(message: DigestResponse): void {
    switch (message.op) {
      case 'ack':
        if (message.buffer !== undefined) {
          this.inFlight -= 1;
          this.pool.giveBatch(message.buffer);
        }
        if (message.digests !== undefined) {
          this.thread.remove(this.id);
          this.settle?.resolve(message.digests);
        } else if (this.inFlight < BATCHES_IN_FLIGHT) this.wakeWriter();
        return;
      case 'failed':
        this.fail(new DigestWorkerError(message.message));
        return;
    }
  }

  /** @internal The worker is gone or refused the stream. */
  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.thread.remove(this.id);
    this.settle?.reject(error);
    this.wakeWriter();
  }

  private flush(last: boolean): void {
    const batch = this.batch as Uint8Array;
    const buffer = batch.buffer as ArrayBuffer;
    this.thread.post({ op: 'data', id: this.id, spec: this.spec, buffer, lengthBytes: this.fillBytes, last }, [buffer]);
    this.spec = undefined;
    this.inFlight += 1;
    this.batch = undefined;
    this.fillBytes = 0;
  }

  private releaseBatch(): void {
    if (this.batch !== undefined) this.pool.giveBatch(this.batch.buffer as ArrayBuffer);
    this.batch = undefined;
    this.fillBytes = 0;
  }

  private wakeWriter(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * Starts a digest worker. Built code runs digest-worker.js directly. Run from TypeScript sources (tests,
 * benchmarks under tsx), a worker does not inherit tsx's loader hooks, so it registers them before
 * importing the entry point.
 */
function spawnDigestWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./digest-worker.js', import.meta.url));
  const entry = new URL('./digest-worker.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = [
    "const { workerData } = require('node:worker_threads');",
    'import(workerData.tsxApi).then(({ register }) => { register(); return import(workerData.entry); });',
  ].join('\n');
  return new Worker(bootstrap, { eval: true, workerData: { entry, tsxApi } });
}

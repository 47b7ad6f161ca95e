import { Readable } from 'node:stream';
import type { NodeClient, PrepareResponse, SharedLeaseAnswer, ShardRef } from '../../rpc/index.js';

/**
 * The body of one shard upload: blocks queued by the writer, pulled by the HTTP client. It tells
 * its sink each time the client takes something, so the writer knows how far every upload has got.
 */
class ShardBody extends Readable {
  private readonly onPull: () => void;

  constructor(onPull: () => void) {
    // The writer bounds what is queued (a few stripes); the stream's own mark only shapes _read calls.
    super({ highWaterMark: 0 });
    this.onPull = onPull;
  }

  override _read(): void {
    // Data is pushed by the writer as stripes are encoded, never produced on demand.
  }

  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.onPull();
    return chunk;
  }
}

/**
 * One shard's upload to one node. Blocks are queued without waiting; `pulledBytes` says how much the
 * node's connection has taken from the queue. A sink that fails is marked failed and its writes
 * become no-ops; the object write goes on while the write quorum still holds.
 */
export class ShardSink {
  readonly node: NodeClient;
  readonly shardIndex: number;
  readonly done: Promise<PrepareResponse>;
  /** When `done` has settled either way: the connection no longer reads any queued block. */
  settled = false;
  /** True once the body was ended: what is left is the node's answer. */
  ended = false;
  /** The shared key lease the prepare asked for, as the node answered once the shard was durable. */
  lease: SharedLeaseAnswer | undefined;
  /** When the node's answer (and so its lease grant) arrived, on performance.now()'s clock. */
  answeredMs: number | undefined;
  private readonly body: ShardBody;
  /** Aborts the upload's request: on the caller's signal, and when the sink fails (a hung node's answer is not waited for). */
  private readonly cancel = new AbortController();
  private queuedBytes = 0;
  private failure: unknown;
  private listener: (() => void) | undefined;

  constructor(options: {
    node: NodeClient;
    ref: ShardRef;
    erasure: { dataShards: number; parityShards: number; blockSizeBytes: number };
    signal: AbortSignal;
    /** A plain write's shared key lease, asked for with the prepare: the node grants it once the shard is durable. */
    leaseToken?: string | undefined;
  }) {
    this.node = options.node;
    this.shardIndex = options.ref.shardIndex;
    this.body = new ShardBody(() => this.listener?.());
    const parent = options.signal;
    const onParentAbort = (): void => this.cancel.abort(parent.reason);
    if (parent.aborted) onParentAbort();
    else parent.addEventListener('abort', onParentAbort, { once: true });
    // The shard's data id was taken for this write: no commit of it can be on the node yet.
    this.done = options.node.putShard(options.ref, options.erasure, this.body, { signal: this.cancel.signal, fresh: true, leaseToken: options.leaseToken });
    this.done.then(
      (answer) => {
        this.lease = answer.lease;
        this.answeredMs = performance.now();
        parent.removeEventListener('abort', onParentAbort);
        this.settle();
      },
      (err: unknown) => {
        parent.removeEventListener('abort', onParentAbort);
        this.fail(err);
        this.settle();
      },
    );
  }

  /** The node this shard goes to. */
  get nodeId(): string {
    return this.node.nodeId;
  }

  /** True once the upload failed or was cut off. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Why the sink failed, if it did. */
  get error(): unknown {
    return this.failure;
  }

  /** Bytes the node's connection has taken from the queue (handed to its socket). */
  get pulledBytes(): number {
    return this.queuedBytes - this.body.readableLength;
  }

  /** Bytes queued so far: the shard offset where the next block starts. */
  get writtenBytes(): number {
    return this.queuedBytes;
  }

  /** Called on every pull and when the sink settles or fails; one listener (the writer). */
  onProgress(listener: () => void): void {
    this.listener = listener;
  }

  /** Queues a block. The caller keeps the block unchanged until the sink has pulled past it or settled. */
  write(block: Uint8Array): void {
    if (this.failed || block.length === 0) return;
    this.queuedBytes += block.length;
    this.body.push(block);
  }

  /** Ends the shard's body. */
  end(): void {
    this.ended = true;
    if (!this.failed) this.body.push(null);
  }

  /** Marks the sink failed and tears down its upload. */
  fail(reason: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = reason ?? new Error('shard upload failed');
    this.body.destroy();
    // A body the connection has already taken whole no longer ties it to the request: cancel it too.
    if (!this.settled) this.cancel.abort(this.failure);
    this.listener?.();
  }

  private settle(): void {
    this.settled = true;
    this.listener?.();
  }
}

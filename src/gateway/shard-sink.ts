import { PassThrough } from 'node:stream';
import type { NodeClient, PrepareResponse, ShardRef } from '../rpc/index.js';

/**
 * One shard's upload to one node: a bounded pipe feeding a streaming PUT. A sink that fails, or stalls
 * longer than `stallTimeoutMs`, is marked failed and its writes become no-ops; the object write goes
 * on while the write quorum still holds.
 */
export class ShardSink {
  readonly node: NodeClient;
  readonly shardIndex: number;
  readonly done: Promise<PrepareResponse>;
  private readonly pipe: PassThrough;
  private readonly stallTimeoutMs: number;
  private failure: unknown;

  constructor(options: {
    node: NodeClient;
    ref: ShardRef;
    erasure: { dataShards: number; parityShards: number; blockSizeBytes: number };
    highWaterMarkBytes: number;
    stallTimeoutMs: number;
    signal: AbortSignal;
  }) {
    this.node = options.node;
    this.shardIndex = options.ref.shardIndex;
    this.stallTimeoutMs = options.stallTimeoutMs;
    this.pipe = new PassThrough({ highWaterMark: options.highWaterMarkBytes });
    this.done = options.node.putShard(options.ref, options.erasure, this.pipe, { signal: options.signal });
    this.done.catch((err: unknown) => this.fail(err));
  }

  /** The node this shard goes to. */
  get nodeId(): string {
    return this.node.nodeId;
  }

  /** True once the upload failed or stalled. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Why the sink failed, if it did. */
  get error(): unknown {
    return this.failure;
  }

  /** Queues a block; waits for the node to drain the pipe when it is full. */
  async write(block: Uint8Array): Promise<void> {
    if (this.failed) return;
    if (this.pipe.write(block)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`shard upload stalled for ${this.stallTimeoutMs} ms`));
        finish();
      }, this.stallTimeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.pipe.off('drain', finish);
        this.pipe.off('close', finish);
        resolve();
      };
      this.pipe.on('drain', finish);
      this.pipe.on('close', finish);
    });
  }

  /** Ends the shard's body. */
  end(): void {
    if (!this.failed) this.pipe.end();
  }

  /** Marks the sink failed and tears down its upload. */
  fail(reason: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = reason ?? new Error('shard upload failed');
    this.pipe.destroy();
  }
}

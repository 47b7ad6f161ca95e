import { decideQuorum, fanOut, type QuorumDecision } from './fan-out.js';
import { MAX_INDEX_OPS, type IndexApplyRequest, type IndexOp } from './bucket-index.js';

/** A replica of a bucket index shard: a node, or the node's own store seen through the same call. */
export interface IndexReplica {
  readonly nodeId: string;
  applyIndex(request: IndexApplyRequest, options?: { signal?: AbortSignal }): Promise<void>;
}

type IntentOp = Extract<IndexOp, { op: 'intent' }>;
type SettleOp = Extract<IndexOp, { op: 'settle' }>;

/** Settles waiting for one replica before newer ones are dropped (their intents stay, so nothing is lost). */
const MAX_QUEUED_SETTLES = 50_000;

interface ReplicaQueue {
  replica: IndexReplica;
  ops: SettleOp[];
  flushing: Promise<void> | undefined;
}

/**
 * Writes a bucket's index (docs/bucket-index.md): an intent before a write can commit, durable on a
 * quorum of the shard's replicas, and the settle after it, queued per replica and sent in batches (the
 * settles of concurrent writes share one request). A settle that cannot be delivered is dropped and
 * counted: its intent stays on the replicas, and readers ask the key's own nodes until it is resolved.
 */
export class IndexWriter {
  /** By replica object: a ring change makes new clients, whose queues start empty. Emptied queues leave. */
  private readonly queues = new Map<IndexReplica, ReplicaQueue>();
  private readonly timeoutMs: number;
  private readonly onDropped: (count: number, error: unknown) => void;

  constructor(options: { timeoutMs: number; onDropped?: (count: number, error: unknown) => void }) {
    this.timeoutMs = options.timeoutMs;
    this.onDropped = options.onDropped ?? (() => undefined);
  }

  /** Writes an intent to every replica; met when `quorum` of them made it durable. */
  async announce(replicas: readonly IndexReplica[], intent: IntentOp, quorum: number, signal: AbortSignal): Promise<QuorumDecision<void>> {
    const outcomes = await fanOut(replicas, (replica) => replica.applyIndex({ ops: [intent] }, { signal }));
    return decideQuorum(outcomes, quorum);
  }

  /** Queues a settle for every replica; returns at once. */
  settle(replicas: readonly IndexReplica[], settle: SettleOp): void {
    for (const replica of replicas) {
      let queue = this.queues.get(replica);
      if (queue === undefined) {
        queue = { replica, ops: [], flushing: undefined };
        this.queues.set(replica, queue);
      }
      if (queue.ops.length >= MAX_QUEUED_SETTLES) {
        this.onDropped(1, new Error(`more than ${MAX_QUEUED_SETTLES} settles wait for ${replica.nodeId}`));
        continue;
      }
      queue.ops.push(settle);
      this.schedule(queue);
    }
  }

  /** Resolves once every settle queued so far was sent (or dropped). */
  async drain(): Promise<void> {
    for (;;) {
      const flushing = [...this.queues.values()].map((queue) => queue.flushing).filter((f) => f !== undefined);
      if (flushing.length === 0) return;
      await Promise.all(flushing);
    }
  }

  private schedule(queue: ReplicaQueue): void {
    if (queue.flushing !== undefined) return;
    queue.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flush(queue))
      .finally(() => {
        queue.flushing = undefined;
        if (queue.ops.length > 0) this.schedule(queue);
        else this.queues.delete(queue.replica);
      });
  }

  private async flush(queue: ReplicaQueue): Promise<void> {
    while (queue.ops.length > 0) {
      const ops = queue.ops.splice(0, MAX_INDEX_OPS);
      try {
        await queue.replica.applyIndex({ ops }, { signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (error) {
        this.onDropped(ops.length, error);
      }
    }
  }
}

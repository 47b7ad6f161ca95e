import type { Logger } from '../../common/index.js';
import { compileRing, type Ring, type RingLocator, type RingNode } from '../../placement/index.js';
import type { ObjectRecord } from '../../rpc/index.js';
import type { QuarantineEntry } from '../metadata-store.js';
import type { RingStore } from '../ring-store.js';
import type { ShardStore } from '../shard-store.js';
import type { HealingFigures } from './healing-figures.js';
import type { PeerClient, PeerClients } from './peer-clients.js';
import { CodecCache, rebuildShardStream } from './shard-rebuilder.js';
import type { StepResult, Worker, WorkerStatus } from './worker.js';

/** One thing to put right: `target` must hold `record` (and shard `shardIndex` of it, unless record-only). */
export interface RepairTask {
  record: ObjectRecord;
  target: RingNode;
  /** null: a tombstone, manifest or upload marker, copied as a record alone. */
  shardIndex: number | null;
  /** Nodes that may hold shards of the version besides the key's set (the old set during a rebalance). */
  extraSources?: readonly RingNode[];
}

/** Construction parameters of the repair worker. */
export interface RepairWorkerOptions {
  nodeId: string;
  store: ShardStore;
  rings: RingStore;
  peers: PeerClients;
  figures: HealingFigures;
  logger: Logger;
  /** Wait before retrying a repair that failed (too few readable shards, a node down). */
  retryAfterMs?: number;
  /** Longest one rebuild may take before it is abandoned and retried (a stalled peer must not block repair). */
  attemptTimeoutMs?: number;
  /** Largest queue of tasks from audits; more are dropped and found again by the next audit. */
  maxQueued?: number;
  clock?: () => number;
}

/**
 * Repair: rebuilds shards this node quarantined (its persisted queue: the `q` rows) and what audits
 * found missing on any node of a set (an in-memory queue: the next audit finds it again after a
 * restart). A shard is rebuilt from any k good shards of the same version, only the missing index is
 * encoded, and it is written with prepare + commit to the node the ring names; a record-only version
 * is just committed there. One task per step.
 */
export class RepairWorker implements Worker {
  readonly name = 'repair';
  private readonly options: RepairWorkerOptions;
  private readonly clock: () => number;
  private readonly queue = new Map<string, RepairTask>();
  private readonly retryAtMs = new Map<string, number>();
  private readonly codecs = new CodecCache();
  private locator: { ring: Ring; locator: RingLocator } | undefined;
  private quarantinedPending = 0;

  constructor(options: RepairWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  /** Queues a repair found elsewhere (audit, rebalance); returns false when the queue is full. */
  enqueue(task: RepairTask): boolean {
    const id = taskId(task.record, task.target.id);
    if (this.queue.has(id)) return true;
    if (this.queue.size >= (this.options.maxQueued ?? 10_000)) return false;
    this.queue.set(id, task);
    this.updatePending();
    return true;
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const now = this.clock();
    for (const [id, task] of this.queue) {
      if ((this.retryAtMs.get(id) ?? 0) > now) continue;
      this.queue.delete(id);
      const bytes = await this.attempt(id, task, signal, () => this.queue.set(id, task));
      this.updatePending();
      return { items: 1, bytes, cursor: null, idle: false };
    }
    let waiting = 0;
    for await (const entry of this.options.store.metadata.quarantined()) {
      signal.throwIfAborted();
      const id = `q\0${entry.bucket}\0${entry.key}\0${entry.versionId}\0${entry.shardIndex}`;
      if ((this.retryAtMs.get(id) ?? 0) > now) {
        waiting += 1;
        continue;
      }
      const task = await this.localTask(entry);
      if (task === null) return { items: 1, bytes: 0, cursor: null, idle: false };
      const bytes = await this.attempt(id, task, signal, () => undefined);
      return { items: 1, bytes, cursor: null, idle: false };
    }
    this.quarantinedPending = waiting;
    this.updatePending();
    return { items: 0, bytes: 0, cursor: null, idle: true };
  }

  status(): WorkerStatus {
    return { queued: this.queue.size, quarantinedWaiting: this.quarantinedPending };
  }

  /** The task for a quarantined shard of this node, or null when the row was stale and is dropped. */
  private async localTask(entry: QuarantineEntry): Promise<RepairTask | null> {
    const { store, rings, nodeId } = this.options;
    const current = await store.objectStatus(entry.bucket, entry.key);
    const self = rings.current?.nodes.find((node) => node.id === nodeId);
    if (current === undefined || current.record.versionId !== entry.versionId || current.shardIndex !== entry.shardIndex || self === undefined) {
      if (self !== undefined || current === undefined) await store.forgetQuarantined(entry);
      return null;
    }
    return { record: current.record, target: self, shardIndex: entry.shardIndex };
  }

  /** Runs one task; on failure schedules a retry (with `requeue` putting it back). Returns bytes rebuilt. */
  private async attempt(id: string, task: RepairTask, signal: AbortSignal, requeue: () => void): Promise<number> {
    const { figures, logger } = this.options;
    try {
      const bytes = await this.repair(task, signal);
      this.retryAtMs.delete(id);
      figures.repair.done += 1;
      return bytes;
    } catch (err) {
      if (signal.aborted) throw err;
      figures.repair.failed += 1;
      this.retryAtMs.set(id, this.clock() + (this.options.retryAfterMs ?? 5_000));
      requeue();
      logger.warn({ err, key: task.record.key, versionId: task.record.versionId, target: task.target.id }, 'repair failed, will retry');
      return 0;
    }
  }

  private async repair(task: RepairTask, signal: AbortSignal): Promise<number> {
    const { peers, figures } = this.options;
    const { record } = task;
    const target = peers.get(task.target);
    if (task.shardIndex === null) {
      await target.commit({ record, shardIndex: null }, { signal });
      figures.repair.recordsCopied += 1;
      return 0;
    }
    const sources = await this.findSources(task, signal);
    const startedMs = this.clock();
    const ref = { bucket: record.bucket, key: record.key, versionId: record.versionId, shardIndex: task.shardIndex };
    // A source may turn out bad (missing, quarantined, rotten mid-stream): retry at once without it, while k remain.
    let sizeBytes = 0;
    for (;;) {
      const bad = new Set<number>();
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(this.options.attemptTimeoutMs ?? 120_000)]);
      try {
        const body = rebuildShardStream(record, task.shardIndex, sources, this.codecs, attempt, (index) => bad.add(index));
        sizeBytes = (await target.putShard(ref, record.erasure, body, { signal: attempt })).sizeBytes;
        break;
      } catch (err) {
        if (signal.aborted || bad.size === 0) throw err;
        for (const index of bad) sources.delete(index);
        if (sources.size < record.erasure.dataShards) throw err;
      }
    }
    await target.commit({ record, shardIndex: task.shardIndex, repair: true }, { signal });
    figures.repair.shardsRebuilt += 1;
    figures.repair.bytesRebuilt += sizeBytes;
    figures.repair.rebuildMs += this.clock() - startedMs;
    return sizeBytes;
  }

  /** Nodes holding good shards of the version, by shard index, asked in parallel. */
  private async findSources(task: RepairTask, signal: AbortSignal): Promise<Map<number, PeerClient>> {
    const ring = this.options.rings.current;
    if (ring === undefined) throw new Error('this node holds no ring');
    const set = this.locate(ring, task.record.bucket, task.record.key);
    const candidates = new Map<string, RingNode>();
    for (const node of [...set, ...(task.extraSources ?? [])]) if (node.id !== task.target.id) candidates.set(node.id, node);
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(5_000)]);
    const answers = await Promise.allSettled(
      [...candidates.values()].map(async (node) => {
        const client = this.options.peers.get(node);
        return { client, status: await client.objectStatus(task.record.bucket, task.record.key, { signal: timeout }) };
      }),
    );
    const sources = new Map<number, PeerClient>();
    for (const answer of answers) {
      if (answer.status !== 'fulfilled') continue;
      const { client, status } = answer.value;
      if (status === null || status.record.versionId !== task.record.versionId || status.shardIndex === null) continue;
      if (status.shardIndex !== task.shardIndex) sources.set(status.shardIndex, client);
    }
    return sources;
  }

  private locate(ring: Ring, bucket: string, key: string): readonly RingNode[] {
    if (this.locator?.ring !== ring) this.locator = { ring, locator: compileRing(ring) };
    return this.locator.locator.locate(bucket, key).nodes;
  }

  private updatePending(): void {
    this.options.figures.repair.pending = this.queue.size + this.options.store.stats.quarantinedShards;
  }
}

function taskId(record: ObjectRecord, targetId: string): string {
  return `t\0${record.bucket}\0${record.key}\0${record.versionId}\0${targetId}`;
}

import type { RingNode } from '../../placement/index.js';
import { fanOut, shardRefOf, type NodeOutcome, type ObjectRecord, type ObjectStatus } from '../../rpc/index.js';
import type { QuarantineEntry } from '../metadata-store.js';
import type { PeerClient } from './peer-clients.js';
import { CodecCache, NotEnoughSources, openShardRebuild } from './shard-rebuilder.js';
import type { ShardStore } from '../shard-store.js';
import type { NodeWorkerDeps, StepResult, WorkerStatus } from './worker.js';
import type { ParallelWorker } from './worker-runner.js';

/** One thing to put right: `target` must hold `record` (and shard `shardIndex` of it, unless record-only). */
export interface RepairTask {
  record: ObjectRecord;
  target: RingNode;
  /** null: a tombstone, manifest or upload marker, copied as a record alone. */
  shardIndex: number | null;
  /** Nodes that may hold shards of the version besides the key's set (the old set during a rebalance). */
  extraSources?: readonly RingNode[];
}

/**
 * Repairs in flight at once by default. Each holds at most one connection to any peer (k sources and
 * the target are distinct nodes), so up to the peer pools' size (repair plus audit concurrency per
 * peer, peer-clients.ts) no task can wait for a connection another task holds while it waits for one.
 */
export const DEFAULT_REPAIR_CONCURRENCY = 4;

/** Quarantine rows read per scan of the persisted queue. */
const QUARANTINE_BATCH = 64;

/** Retry defaults: 5, 10, 20, 40, 80 s between six attempts, so an audit task is given up within minutes, long before the next audit. */
const RETRY_AFTER_MS = 5_000;
const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
const MAX_ATTEMPTS = 6;

/** A failed task's back-off: failures so far and when it may be tried again. */
interface Retry {
  failures: number;
  dueMs: number;
}

/** The store as repair uses it: the quarantine queue, version lookups, and the quarantine count. */
export type RepairStore = Pick<ShardStore, 'quarantineRows' | 'versionStatus' | 'forgetQuarantined' | 'stats'>;

/** Construction parameters of the repair worker. */
export interface RepairWorkerOptions extends NodeWorkerDeps<RepairStore> {
  /** Wait before the first retry of a repair that failed (too few readable shards, a node down); each further failure doubles it. */
  retryAfterMs?: number;
  /** Longest wait between retries: what a quarantined shard that keeps failing settles at. */
  maxRetryAfterMs?: number;
  /** Failed attempts after which an audit task is given up (the next audit finds it again if it is still missing). */
  maxAttempts?: number;
  /** Longest one rebuild may take before it is abandoned and retried (a stalled peer must not block repair). */
  attemptTimeoutMs?: number;
  /** Largest queue of tasks from audits; more are dropped and found again by the next audit. */
  maxQueued?: number;
  /** Repairs in flight at once (the runner runs this many steps concurrently); DEFAULT_REPAIR_CONCURRENCY when absent. */
  concurrency?: number;
}

/** A task taken for one step: `slot` serialises work on one key of one target; `retryId` keys its back-off. */
interface Taken {
  task: RepairTask;
  slot: string;
  retryId: string;
  /** From an audit (the in-memory queue) rather than this node's quarantine rows. */
  fromAudit: boolean;
  /** Puts an audit task back in the queue after a failure; quarantined rows stay in the store anyway. */
  requeue: () => void;
}

/**
 * Repair: rebuilds shards this node quarantined (its persisted queue: the `q` rows) and what audits
 * found missing on any node of a set (an in-memory queue: the next audit finds it again after a
 * restart). A shard is rebuilt from any k good shards of the same version, only the missing index is
 * encoded, and it is written with prepare + commit to the node the ring names; a record-only version
 * is just committed there. One task per step, and `concurrency` steps at once: tasks on the same key
 * and target never overlap, and a quarantine row is removed only by the commit that repairs it.
 */
export class RepairWorker implements ParallelWorker {
  readonly name = 'repair';
  readonly concurrency: number;
  private readonly options: RepairWorkerOptions;
  private readonly clock: () => number;
  private readonly queue = new Map<string, RepairTask>();
  private readonly retries = new Map<string, Retry>();
  private readonly codecs = new CodecCache();
  /** Slots (key + target) with a task in flight. */
  private readonly inFlight = new Set<string>();
  private inFlightFromAudit = 0;
  /** Quarantine rows read ahead, taken one per step; refilled by one scan at a time. */
  private quarantineBatch: QuarantineEntry[] = [];
  private refill: Promise<void> | undefined;
  private quarantinedPending = 0;
  /** Wall time with at least one shard rebuild in flight, accounted as each one ends (for MB/s). */
  private rebuilding = { tasks: 0, sinceMs: 0 };
  /** Audit tasks that failed and were then found no longer needed (version replaced or gone, target out of the set). */
  private dropped = 0;
  /** Audit tasks still needed that failed `maxAttempts` times, left to the next audit. */
  private gaveUp = 0;

  constructor(options: RepairWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_REPAIR_CONCURRENCY));
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
    const taken = this.takeQueued() ?? (await this.takeQuarantined(signal));
    if (taken === null) {
      this.updatePending();
      return { items: 0, bytes: 0, cursor: null, idle: true };
    }
    if (taken === 'stale') return { items: 1, bytes: 0, cursor: null, idle: false };
    try {
      const bytes = await this.attempt(taken, signal);
      return { items: 1, bytes, cursor: null, idle: false };
    } finally {
      this.inFlight.delete(taken.slot);
      if (taken.fromAudit) this.inFlightFromAudit -= 1;
      this.updatePending();
    }
  }

  status(): WorkerStatus {
    return { queued: this.queue.size, inFlight: this.inFlight.size, concurrency: this.concurrency, quarantinedWaiting: this.quarantinedPending, dropped: this.dropped, gaveUp: this.gaveUp };
  }

  /** The first audit task that is due and whose key and target have nothing in flight, taken off the queue. */
  private takeQueued(): Taken | null {
    const now = this.clock();
    for (const [id, task] of this.queue) {
      if (this.waiting(id, now)) continue;
      const slot = slotOf(task.record.bucket, task.record.key, task.target.id);
      if (this.inFlight.has(slot)) continue;
      this.queue.delete(id);
      this.inFlight.add(slot);
      this.inFlightFromAudit += 1;
      const requeue = (): void => {
        if (!this.queue.has(id)) this.queue.set(id, task);
      };
      return { task, slot, retryId: id, fromAudit: true, requeue };
    }
    return null;
  }

  /**
   * The next due quarantine row of this node as a task (null: none due), or 'stale' when the row named a
   * version this node no longer holds and was dropped. Rows are read in batches, not one scan per task.
   */
  private async takeQuarantined(signal: AbortSignal): Promise<Taken | null | 'stale'> {
    const { rings, nodeId } = this.options;
    for (let scanned = false; ; scanned = true) {
      const now = this.clock();
      for (let entry = this.quarantineBatch.shift(); entry !== undefined; entry = this.quarantineBatch.shift()) {
        const retryId = quarantineId(entry);
        const slot = slotOf(entry.bucket, entry.key, nodeId);
        if (this.waiting(retryId, now) || this.inFlight.has(slot)) continue;
        this.inFlight.add(slot);
        try {
          const task = await this.localTask(entry);
          if (task === null) {
            this.inFlight.delete(slot);
            return 'stale';
          }
          return { task, slot, retryId, fromAudit: false, requeue: () => undefined };
        } catch (err) {
          this.inFlight.delete(slot);
          throw err;
        }
      }
      if (scanned || rings.current === undefined) return null;
      // One scan at a time: concurrent steps share its result instead of each reading the whole table.
      this.refill ??= this.scanQuarantine(signal).finally(() => {
        this.refill = undefined;
      });
      await this.refill;
    }
  }

  /**
   * Reads the next batch of due quarantine rows with nothing in flight; counts the rows waiting for a retry
   * and forgets the back-off of rows that are gone (repaired by an audit's task, or their version dropped).
   */
  private async scanQuarantine(signal: AbortSignal): Promise<void> {
    const now = this.clock();
    const batch: QuarantineEntry[] = [];
    const seen = new Set<string>();
    let waiting = 0;
    for await (const entry of this.options.store.quarantineRows.quarantined()) {
      signal.throwIfAborted();
      const retryId = quarantineId(entry);
      seen.add(retryId);
      if (this.waiting(retryId, now)) waiting += 1;
      else if (!this.inFlight.has(slotOf(entry.bucket, entry.key, this.options.nodeId)) && batch.length < QUARANTINE_BATCH) batch.push(entry);
    }
    for (const retryId of this.retries.keys()) if (isQuarantineId(retryId) && !seen.has(retryId)) this.retries.delete(retryId);
    this.quarantinedPending = waiting;
    this.quarantineBatch = batch;
  }

  /** The task for a quarantined shard of this node, or null when the row was stale (and is dropped) or already repaired. */
  private async localTask(entry: QuarantineEntry): Promise<RepairTask | null> {
    const { store, rings, nodeId } = this.options;
    // Read ahead in a batch: another step or an audit's repair may have rebuilt it since.
    if (!(await store.quarantineRows.isQuarantined(entry))) return null;
    // The quarantined version itself, current or (under bucket versioning) noncurrent.
    const current = await store.versionStatus(entry.bucket, entry.key, entry.versionId);
    const self = rings.current?.nodes.find((node) => node.id === nodeId);
    if (current === undefined || current.record.versionId !== entry.versionId || current.shardIndex !== entry.shardIndex || self === undefined) {
      if (self !== undefined || current === undefined) await store.forgetQuarantined(entry);
      // Out of the ring, the row is kept for a ring that names this node again: waited on, not rescanned at once.
      else this.backOff(quarantineId(entry));
      return null;
    }
    return { record: current.record, target: self, shardIndex: entry.shardIndex };
  }

  /**
   * Runs one task; returns bytes rebuilt. A failed audit task is dropped when it is no longer needed, given
   * up after `maxAttempts` (the next audit finds it again if it is still missing), or else put back in the
   * queue to wait, longer after each failure. A quarantined shard is never given up: its row stays in the
   * store until a commit repairs it or its version is gone, and nothing else would find it again (the
   * node still lists the version, so audits see it held; scrub skips quarantined shards).
   */
  private async attempt(taken: Taken, signal: AbortSignal): Promise<number> {
    const { figures, logger } = this.options;
    const { task } = taken;
    try {
      const bytes = await this.repair(task, signal);
      this.retries.delete(taken.retryId);
      figures.repair.done += 1;
      return bytes;
    } catch (err) {
      // Not a failure when the node is closing: an audit task is found again by the next audit.
      if (!signal.aborted) figures.repair.failed += 1;
      const stale = !signal.aborted && taken.fromAudit ? await this.staleReason(task, signal) : null;
      if (signal.aborted) {
        taken.requeue();
        throw err;
      }
      const fields = { err, key: task.record.key, versionId: task.record.versionId, target: task.target.id };
      if (stale !== null) {
        this.retries.delete(taken.retryId);
        this.dropped += 1;
        logger.debug({ ...fields, reason: stale }, 'repair no longer needed, dropped');
        return 0;
      }
      const { failures, waitMs: retryInMs } = this.backOff(taken.retryId);
      if (taken.fromAudit && failures >= (this.options.maxAttempts ?? MAX_ATTEMPTS)) {
        // Waiting on, it would hold a queue slot a finding elsewhere may need: audits keep finding what is still missing.
        this.retries.delete(taken.retryId);
        this.gaveUp += 1;
        logger.warn({ ...fields, failures }, 'repair given up; the next audit finds it again if it is still missing');
        return 0;
      }
      taken.requeue();
      logger.warn({ ...fields, failures, retryInMs }, 'repair failed, will retry');
      return 0;
    }
  }

  /**
   * Why a failed audit task can never be needed again, or null while it may be: its target is no longer
   * the member of the key's set under the current ring that holds its shard, or no member that answers
   * keeps its version (overwritten in a non-versioned bucket, deleted by id, collected). A member that
   * does not answer proves nothing; only answers drop a task.
   */
  private async staleReason(task: RepairTask, signal: AbortSignal): Promise<string | null> {
    const locator = this.options.rings.locator;
    if (locator === undefined) return null;
    const set = locator.locate(task.record.bucket, task.record.key).nodes;
    const position = set.findIndex((node) => node.id === task.target.id);
    if (position < 0) return 'target not in the key\'s set';
    if (task.shardIndex !== null && position !== task.shardIndex) return 'target holds another shard of the key\'s set';
    const answers = await this.askSet(task, signal, (client, { bucket, key, versionId }, timeout) => client.versionStatus(bucket, key, versionId, { signal: timeout }));
    const answered = answers.filter((answer) => answer.ok);
    if (answered.length === 0 || answered.some((answer) => answer.value.status !== null)) return null;
    return 'version kept by no member';
  }

  /** Whether a task or quarantine row is waiting out its back-off at `nowMs`. */
  private waiting(retryId: string, nowMs: number): boolean {
    return (this.retries.get(retryId)?.dueMs ?? 0) > nowMs;
  }

  /** Counts a failure of `retryId` and schedules its next try, twice as far off as the last (capped); returns the count and the wait. */
  private backOff(retryId: string): { failures: number; waitMs: number } {
    const failures = (this.retries.get(retryId)?.failures ?? 0) + 1;
    const firstMs = this.options.retryAfterMs ?? RETRY_AFTER_MS;
    const waitMs = Math.min(firstMs * 2 ** Math.min(failures - 1, 30), this.options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS);
    this.retries.set(retryId, { failures, dueMs: this.clock() + waitMs });
    return { failures, waitMs };
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
    this.rebuildStarted();
    try {
      const ref = shardRefOf(record, task.shardIndex);
      let sources = this.placedSources(task);
      let asked = false;
      if (sources === null) {
        sources = await this.askSources(task, signal);
        asked = true;
      }
      // A source may turn out bad (missing, quarantined, rotten mid-stream): retry at once without it,
      // while k remain; when the ring's guess cannot supply k, ask every candidate node what it holds.
      let sizeBytes = 0;
      for (;;) {
        const bad = new Set<number>();
        const attempt = AbortSignal.any([signal, AbortSignal.timeout(this.options.attemptTimeoutMs ?? 120_000)]);
        let body: Awaited<ReturnType<typeof openShardRebuild>> | undefined;
        try {
          body = await openShardRebuild(record, task.shardIndex, sources, this.codecs, attempt, (index) => bad.add(index));
          sizeBytes = (await target.putShard(ref, record.erasure, body, { signal: attempt })).sizeBytes;
          break;
        } catch (err) {
          body?.destroy();
          if (signal.aborted) throw err;
          if (err instanceof NotEnoughSources && !asked) {
            sources = await this.askSources(task, signal);
            asked = true;
            continue;
          }
          if (bad.size === 0) throw err;
          for (const index of bad) sources.delete(index);
          if (sources.size < record.erasure.dataShards) throw err;
        }
      }
      await target.commit({ record, shardIndex: task.shardIndex, repair: true }, { signal });
      figures.repair.shardsRebuilt += 1;
      figures.repair.bytesRebuilt += sizeBytes;
      return sizeBytes;
    } finally {
      this.rebuildEnded();
    }
  }

  /**
   * Where the ring says the version's other shards are: shard i on the i-th node of the key's set, as
   * every write places them. Costs no request; a wrong guess (an older ring, a node that lost its copy)
   * is only a source that fails to open. Null when the ring cannot say (no ring, another shape, extra
   * sources to consider).
   */
  private placedSources(task: RepairTask): Map<number, PeerClient> | null {
    const locator = this.options.rings.locator;
    const { dataShards, parityShards } = task.record.erasure;
    if (locator === undefined || task.extraSources !== undefined) return null;
    const set = locator.locate(task.record.bucket, task.record.key).nodes;
    if (set.length !== dataShards + parityShards) return null;
    const sources = new Map<number, PeerClient>();
    set.forEach((node, index) => {
      if (index !== task.shardIndex && node.id !== task.target.id) sources.set(index, this.options.peers.get(node));
    });
    return sources;
  }

  /** Nodes holding good shards of the version, by shard index, asked in parallel. */
  private async askSources(task: RepairTask, signal: AbortSignal): Promise<Map<number, PeerClient>> {
    if (this.options.rings.locator === undefined) throw new Error('this node holds no ring');
    // A version of a versioned bucket may be noncurrent: ask for it by id.
    const answers = await this.askSet(task, signal, (client, { bucket, key, versionId, versioning }, timeout) =>
      versioning === undefined ? client.objectStatus(bucket, key, { signal: timeout }) : client.versionStatus(bucket, key, versionId, { signal: timeout }),
    );
    const sources = new Map<number, PeerClient>();
    for (const answer of answers) {
      if (!answer.ok) continue;
      const { client, status } = answer.value;
      if (status === null || status.record.versionId !== task.record.versionId || status.shardIndex === null) continue;
      if (status.shardIndex !== task.shardIndex) sources.set(status.shardIndex, client);
    }
    return sources;
  }

  /** Asks every member of the key's set (and the task's extra sources) but the target about the version, in parallel. */
  private async askSet(
    task: RepairTask,
    signal: AbortSignal,
    ask: (client: PeerClient, record: ObjectRecord, timeout: AbortSignal) => Promise<ObjectStatus | null>,
  ): Promise<NodeOutcome<{ client: PeerClient; status: ObjectStatus | null }>[]> {
    const set = this.options.rings.locator?.locate(task.record.bucket, task.record.key).nodes ?? [];
    const candidates = new Map<string, RingNode>();
    for (const node of [...set, ...(task.extraSources ?? [])]) if (node.id !== task.target.id) candidates.set(node.id, node);
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(5_000)]);
    return fanOut([...candidates.values()], async (node) => {
      const client = this.options.peers.get(node);
      return { client, status: await ask(client, task.record, timeout) };
    });
  }

  private rebuildStarted(): void {
    if (this.rebuilding.tasks === 0) this.rebuilding.sinceMs = this.clock();
    this.rebuilding.tasks += 1;
  }

  /** Adds the wall time since the last account to `rebuildMs`: concurrent rebuilds count their overlap once. */
  private rebuildEnded(): void {
    const now = this.clock();
    this.options.figures.repair.rebuildMs += now - this.rebuilding.sinceMs;
    this.rebuilding.sinceMs = now;
    this.rebuilding.tasks -= 1;
  }

  private updatePending(): void {
    this.options.figures.repair.pending = this.queue.size + this.inFlightFromAudit + this.options.store.stats.quarantinedShards;
  }
}

function taskId(record: ObjectRecord, targetId: string): string {
  return `t\0${record.bucket}\0${record.key}\0${record.versionId}\0${targetId}`;
}

function quarantineId(entry: QuarantineEntry): string {
  return `q\0${entry.bucket}\0${entry.key}\0${entry.versionId}\0${entry.shardIndex}`;
}

function isQuarantineId(retryId: string): boolean {
  return retryId.startsWith('q\0');
}

function slotOf(bucket: string, key: string, targetId: string): string {
  return `${bucket}\0${key}\0${targetId}`;
}

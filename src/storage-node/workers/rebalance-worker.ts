import { Readable } from 'node:stream';
import type { Logger } from '../../common/index.js';
import { compileRing, type Ring, type RingLocator, type RingNode } from '../../placement/index.js';
import type { ObjectStatus } from '../../rpc/index.js';
import type { HashIndexEntry, StoredObject } from '../metadata-store.js';
import type { RingStore } from '../ring-store.js';
import type { ShardStore } from '../shard-store.js';
import type { HealingFigures } from './healing-figures.js';
import type { PeerClient, PeerClients } from './peer-clients.js';
import type { StepResult, Worker, WorkerStatus } from './worker.js';

/** Construction parameters of the rebalance worker. */
export interface RebalanceWorkerOptions {
  nodeId: string;
  store: ShardStore;
  rings: RingStore;
  peers: PeerClients;
  figures: HealingFigures;
  logger: Logger;
  keysPerStep?: number;
  clock?: () => number;
}

interface Cursor {
  epoch: number;
  after: HashIndexEntry | null;
  pending: number;
  done: boolean;
}

/** W of DESIGN.md: k, or k + 1 when k = m. */
function writeQuorum(dataShards: number, parityShards: number): number {
  return dataShards === parityShards ? dataShards + 1 : dataShards;
}

/**
 * Rebalance: after a ring change, walks this node's keys and moves every one it holds in a slot the
 * new ring gives to another node: the shard (read through the verified path) is prepared and committed
 * on the node now at that position, a record-only version is committed on the members lacking it.
 * The local copy is dropped only once the new set holds a write quorum of the version (or a newer
 * one). A pass that leaves nothing pending marks the epoch done; otherwise passes repeat. Cursor:
 * epoch, last key, and the pass's pending count, so a restarted node resumes mid-pass.
 */
export class RebalanceWorker implements Worker {
  readonly name = 'rebalance';
  private readonly options: RebalanceWorkerOptions;
  private readonly clock: () => number;
  private cursor: Cursor = { epoch: 0, after: null, pending: 0, done: true };
  private locator: { ring: Ring; locator: RingLocator } | undefined;

  constructor(options: RebalanceWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  resume(cursor: string | null): void {
    if (cursor !== null) this.cursor = JSON.parse(cursor) as Cursor;
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const { store, rings, figures } = this.options;
    const ring = rings.current;
    if (ring === undefined) return { items: 0, bytes: 0, cursor: null, idle: true };
    const fig = figures.rebalance;
    if (ring.epoch !== this.cursor.epoch) {
      this.cursor = { epoch: ring.epoch, after: null, pending: 0, done: false };
      fig.moved = 0;
      fig.dropped = 0;
      fig.bytesMoved = 0;
    }
    if (fig.epoch !== ring.epoch || fig.passStartedMs === null) {
      fig.epoch = ring.epoch;
      fig.passStartedMs = this.clock();
      fig.scanned = 0;
      fig.total = await store.metadata.countKeys();
    }
    fig.done = this.cursor.done;
    if (this.cursor.done) return { items: 0, bytes: 0, cursor: JSON.stringify(this.cursor), idle: true };
    const page = await store.metadata.hashIndexPage(this.cursor.after, this.options.keysPerStep ?? 32);
    let bytes = 0;
    for (const entry of page) {
      signal.throwIfAborted();
      const outcome = await this.check(ring, entry, signal).catch((err: unknown) => {
        if (signal.aborted) throw err;
        this.options.logger.warn({ err, key: entry.key }, 'could not move a key yet');
        return -1;
      });
      if (outcome < 0) this.cursor.pending += 1;
      else bytes += outcome;
      this.cursor.after = entry;
      fig.scanned += 1;
    }
    if (page.length > 0) return { items: page.length, bytes, cursor: JSON.stringify(this.cursor), idle: false };
    fig.pending = this.cursor.pending;
    const done = this.cursor.pending === 0;
    this.cursor = { epoch: ring.epoch, after: null, pending: 0, done };
    fig.done = done;
    fig.passStartedMs = null;
    return { items: 0, bytes: 0, cursor: JSON.stringify(this.cursor), idle: true };
  }

  status(): WorkerStatus {
    return { epoch: this.cursor.epoch, done: this.cursor.done, pendingThisPass: this.cursor.pending };
  }

  /** Moves one key if this node holds it in a slot it no longer owns: bytes moved, or -1 when it must wait. */
  private async check(ring: Ring, entry: HashIndexEntry, signal: AbortSignal): Promise<number> {
    const { store, nodeId, peers, figures } = this.options;
    const stored = await store.metadata.getObject(entry.bucket, entry.key);
    if (stored === undefined) return 0;
    const set = this.locate(ring, entry.bucket, entry.key);
    const position = set.findIndex((node) => node.id === nodeId);
    const recordOnly = stored.shardIndex === null;
    if (recordOnly ? position >= 0 : position === stored.shardIndex) return 0;
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(30_000)]);
    let bytes = 0;
    const statuses = await Promise.all(set.map((node) => peers.get(node).objectStatus(entry.bucket, entry.key, { signal: timeout }).catch(() => undefined)));
    const version = stored.record.versionId;
    if (recordOnly) {
      for (const [i, node] of set.entries()) {
        const status = statuses[i];
        if (status === null || (status !== undefined && status.record.versionId < version)) {
          await peers.get(node).commit({ record: stored.record, shardIndex: null }, { signal: timeout });
          statuses[i] = { record: stored.record, shardIndex: null, shardSizeBytes: 0 };
        }
      }
    } else {
      const slot = stored.shardIndex as number;
      const target = set[slot];
      const status = statuses[slot];
      if (target !== undefined && (status === null || (status !== undefined && status.record.versionId < version))) {
        bytes = await this.copyShard(stored, peers.get(target), timeout);
        statuses[slot] = { record: stored.record, shardIndex: slot, shardSizeBytes: bytes };
        figures.rebalance.moved += 1;
        figures.rebalance.bytesMoved += bytes;
      }
    }
    const holders = statuses.filter((status, i) => holds(status, version, recordOnly ? null : i)).length;
    const { dataShards, parityShards } = stored.record.erasure;
    if (holders < writeQuorum(dataShards, parityShards)) return -1;
    if (await store.dropVersion(entry.bucket, entry.key, version)) figures.rebalance.dropped += 1;
    return bytes;
  }

  private async copyShard(stored: StoredObject, target: PeerClient, signal: AbortSignal): Promise<number> {
    const { record } = stored;
    const ref = { bucket: record.bucket, key: record.key, versionId: record.versionId, shardIndex: stored.shardIndex as number };
    const shard = await this.options.store.openShard(ref, 0, Number.MAX_SAFE_INTEGER);
    const { sizeBytes } = await target.putShard(ref, record.erasure, Readable.from(shard.chunks, { objectMode: false }), { signal });
    await target.commit({ record, shardIndex: ref.shardIndex }, { signal });
    return sizeBytes;
  }

  private locate(ring: Ring, bucket: string, key: string): readonly RingNode[] {
    if (this.locator?.ring !== ring) this.locator = { ring, locator: compileRing(ring) };
    return this.locator.locator.locate(bucket, key).nodes;
  }
}

/** Whether a member's answer counts toward the new set's quorum: a newer version, or this one in the right slot. */
function holds(status: ObjectStatus | null | undefined, versionId: string, slot: number | null): boolean {
  if (status === null || status === undefined) return false;
  if (status.record.versionId > versionId) return true;
  return status.record.versionId === versionId && (slot === null || status.shardIndex === slot);
}

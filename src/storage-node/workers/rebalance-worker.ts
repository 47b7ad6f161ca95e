import { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { DEFAULTS } from '../../common/index.js';
import { FIRST_RING_EPOCH, planChange, type Ring, type RingLocator, type RingNode } from '../../placement/index.js';
import {
  indexOfRow,
  indexOwnerOf,
  decideQuorum,
  fanOut,
  indexShardsForWrite,
  indexShardKey,
  isNewerVersion,
  MAX_INDEX_OPS,
  shardRefOf,
  writeQuorum,
  type BucketRecord,
  type IndexOp,
  type ObjectRecord,
  type ObjectStatus,
} from '../../rpc/index.js';
import type { StoredObject, VersionCursor, VersionGone, VersionRowCursor } from '../metadata-store.js';
import { ShardStoreError } from '../shard-store-error.js';
import type { PeerClient } from './peer-clients.js';
import type { ShardStore } from '../shard-store.js';
import type { NodeWorkerDeps, StepResult, Worker, WorkerStatus } from './worker.js';

/** The store as rebalance uses it: keys and tombstones to walk, shards to send, and the drops once they moved. */
export type RebalanceStore = Pick<
  ShardStore,
  'countKeys' | 'keyRows' | 'versionRows' | 'openShard' | 'putBucket' | 'bucketRecord' | 'deleteVersion' | 'dropVersion' | 'dropNoncurrentVersion' | 'indexRows'
>;

/** Construction parameters of the rebalance worker. */
export interface RebalanceWorkerOptions extends NodeWorkerDeps<RebalanceStore> {
  /** Version rows a step walks; ROWS_PER_STEP when absent. */
  rowsPerStep?: number;
  /** Tombstones of versions deleted by id a step hands on. */
  keysPerStep?: number;
  /** Keys moved at once within a step. */
  concurrency?: number;
  /**
   * How long after adopting a ring gateways may still write under the previous one (they poll for
   * rings); a pass that started sooner is followed by another, so such late writes move too.
   */
  settleMs?: number;
}

/** Versions of one key read at a time while moving it. */
const VERSIONS_PER_PAGE = 64;
/** Version rows a step reads; the keys among them holding a misplaced version are then checked one by one. */
const ROWS_PER_STEP = 256;

/** A key, as the pass names it. */
type KeyName = { bucket: string; key: string };

/**
 * Whether a version this node holds is where the ring puts it, this node being at `position` of the
 * key's set (-1: not in it): a shard at its own slot, a record-only version anywhere in the set.
 */
function placedAt(stored: StoredObject, position: number): boolean {
  return stored.shardIndex === null ? position >= 0 : position === stored.shardIndex;
}

interface Cursor {
  epoch: number;
  /** The last version row the pass walked, in row order (null: none yet). */
  after: VersionRowCursor | null;
  pending: number;
  done: boolean;
  /** When this node adopted the epoch. */
  adoptedMs: number;
  /** When the current pass started. */
  passStartedMs: number;
  /** Whether this epoch's bucket records were gathered from the other members. */
  bucketsSynced: boolean;
  /**
   * After the keys, the tombstones of versions deleted by id: the last one handed on this pass
   * (null: from the first), 'done' once all were; absent in cursors written before this phase.
   */
  gone?: VersionCursor | null | 'done';
  /**
   * Last, the rows of bucket index shards this node holds a replica of: where the pass stands in them
   * (the last row handed on, as hex; null: from the first), 'done' once all were.
   */
  index?: string | null | 'done';
}

/** Index rows read and handed on per step. */
const INDEX_ROWS_PER_STEP = 500;


/**
 * Rebalance: after a ring change, walks this node's keys and moves every one it holds in a slot the
 * new ring gives to another node, with every version a versioned bucket keeps of it: the shard (read through the verified path) is prepared and committed
 * on the node now at that position, a record-only version is committed on the members lacking it.
 * The local copy is dropped only once the new set holds a write quorum of the version (or a newer
 * one). Passes repeat until one leaves nothing pending and began after gateways had time to adopt the
 * ring (`settleMs`), so versions written under the old ring during the change are moved as well; then
 * the epoch is done. The cluster's first ring is done at once: no older ring placed anything; so is
 * one that places every partition as the ring before it, once this node had settled that one. At each
 * new epoch the node also gathers the bucket records of the other members, so a node new to the
 * cluster knows every bucket. After its keys, each pass hands its tombstones of
 * versions deleted by id on to the keys' new sets. Cursor: epoch, last version row, the pass's pending count
 * and times, so a restarted node resumes mid-pass.
 */
export class RebalanceWorker implements Worker {
  readonly name = 'rebalance';
  private readonly options: RebalanceWorkerOptions;
  private readonly clock: () => number;
  private cursor: Cursor = { epoch: 0, after: null, pending: 0, done: true, adoptedMs: 0, passStartedMs: 0, bucketsSynced: true };
  /** The key a restarted node's unfinished pass resumed after, for status output. */
  private resumedAfter: string | null = null;

  constructor(options: RebalanceWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  resume(cursor: string | null): void {
    if (cursor === null) return;
    const saved = JSON.parse(cursor) as Partial<Cursor>;
    // Cursors written before the pass times existed resume as a pass that started at adoption.
    this.cursor = { ...this.cursor, adoptedMs: 0, passStartedMs: 0, bucketsSynced: false, ...saved };
    // A pass saved by a release that walked keys in placement-hash order starts over in row order.
    if (this.cursor.after !== null && typeof this.cursor.after.versionId !== 'string') this.cursor.after = null;
    this.resumedAfter = this.cursor.done ? null : (this.cursor.after?.key ?? null);
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const { store, rings, figures } = this.options;
    const locator = rings.locator;
    if (locator === undefined) return { items: 0, bytes: 0, cursor: null, idle: true };
    const { ring } = locator;
    const fig = figures.rebalance;
    const now = this.clock();
    if (ring.epoch !== this.cursor.epoch) {
      // Nothing to walk when no key can sit where an older ring put it.
      const done = ring.epoch === FIRST_RING_EPOCH || this.placementKept(ring);
      this.cursor = { epoch: ring.epoch, after: null, pending: 0, done, adoptedMs: now, passStartedMs: now, bucketsSynced: false };
      fig.moved = 0;
      fig.dropped = 0;
      fig.bytesMoved = 0;
    }
    if (!this.cursor.bucketsSynced) this.cursor.bucketsSynced = await this.syncBuckets(ring, signal);
    if (fig.epoch !== ring.epoch || fig.passStartedMs === null) {
      fig.epoch = ring.epoch;
      fig.passStartedMs = now;
      fig.scanned = 0;
      fig.total = await store.countKeys();
    }
    fig.done = this.cursor.done;
    if (this.cursor.done) return { items: 0, bytes: 0, cursor: JSON.stringify(this.cursor), idle: true };
    if (this.cursor.after === null) this.cursor.passStartedMs = now;
    const rows = await store.keyRows.versionRowsPage(this.cursor.after, this.options.rowsPerStep ?? ROWS_PER_STEP);
    const last = rows.at(-1)?.record;
    if (last !== undefined) {
      const { misplaced, keys } = this.misplaced(locator, rows, this.cursor.after);
      const outcomes = await this.checkAll(locator, misplaced, signal);
      this.cursor.pending += outcomes.filter((bytes) => bytes < 0).length;
      this.cursor.after = { bucket: last.bucket, key: last.key, versionId: last.versionId };
      fig.scanned += keys;
      const bytes = outcomes.reduce((sum, b) => sum + Math.max(0, b), 0);
      return { items: rows.length, bytes, cursor: JSON.stringify(this.cursor), idle: false };
    }
    if (this.cursor.gone !== 'done') {
      const { rows, truncated } = await store.versionRows.versionGonePage(this.cursor.gone ?? null, this.options.keysPerStep ?? 32);
      this.cursor.pending += await this.handOnTombstones(locator, rows, signal);
      const last = rows.at(-1);
      this.cursor.gone = truncated && last !== undefined ? { hashHex: last.hashHex, bucket: last.bucket, key: last.key, versionId: last.versionId } : 'done';
      return { items: Math.max(1, rows.length), bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
    }
    if (this.cursor.index !== 'done') {
      const { ops, next } = await store.indexRows.exportPage(this.cursor.index ?? null, INDEX_ROWS_PER_STEP);
      this.cursor.pending += await this.handOnIndex(locator, ops, signal);
      this.cursor.index = next ?? 'done';
      return { items: Math.max(1, ops.length), bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
    }
    const settled = this.cursor.passStartedMs >= this.cursor.adoptedMs + (this.options.settleMs ?? DEFAULTS.rebalanceSettleMs);
    const done = this.cursor.pending === 0 && settled;
    fig.pending = this.cursor.pending;
    fig.done = done;
    fig.passStartedMs = null;
    // The next pass (if any) starts after the runner's idle pause and takes its start time then.
    this.cursor = { ...this.cursor, after: null, pending: 0, done, gone: null, index: null };
    return { items: 0, bytes: 0, cursor: JSON.stringify(this.cursor), idle: true };
  }

  /**
   * Hands index rows on to the members the new ring adds to their shard's set (docs/bucket-index.md): the
   * same changes that wrote them here, which a replica applies once however often they come. Members of
   * the shard's set under the previous ring have them already. Returns how many members could not be
   * reached (the pass is then repeated).
   */
  private async handOnIndex(locator: RingLocator, ops: readonly IndexOp[], signal: AbortSignal): Promise<number> {
    const { store, nodeId, peers, rings } = this.options;
    const previous = rings.previousLocator;
    const buckets = new Map<string, BucketRecord | undefined>();
    const byTarget = new Map<string, { node: RingNode; ops: IndexOp[] }>();
    for (const op of ops) {
      // Rows of the uploads bucket belong to the uploads index of the user bucket their key names.
      const owner = indexOwnerOf(op.bucket, op.key);
      if (owner === undefined) continue;
      if (!buckets.has(owner)) buckets.set(owner, await store.bucketRecord(owner));
      const bucket = indexOfRow(buckets.get(owner), op.bucket);
      // Rows of a bucket deleted since, or of an older incarnation, are garbage: nothing reads them.
      if (bucket?.index === undefined || bucket.createdMs !== op.incarnation) continue;
      // The key's shard, and while a split of its range is under way the other side too.
      for (const shard of indexShardsForWrite(bucket.index, op.key)) {
        const shardKey = indexShardKey(op.incarnation, shard);
        const before = previous?.locate(op.bucket, shardKey).nodes;
        for (const node of locator.locate(op.bucket, shardKey).nodes) {
          if (node.id === nodeId || before?.some((held) => held.id === node.id) === true) continue;
          let target = byTarget.get(node.id);
          if (target === undefined) byTarget.set(node.id, (target = { node, ops: [] }));
          if (target.ops.at(-1) !== op) target.ops.push(op);
        }
      }
    }
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(DEFAULTS.gcPeerTimeoutMs * 4)]);
    const outcomes = await fanOut([...byTarget.values()].map(({ node, ops: targetOps }) => ({ nodeId: node.id, node, ops: targetOps })), async ({ node, ops: targetOps }) => {
      for (let at = 0; at < targetOps.length; at += MAX_INDEX_OPS) await peers.get(node).applyIndex({ ops: targetOps.slice(at, at + MAX_INDEX_OPS) }, { signal: timeout });
    });
    return outcomes.filter((outcome) => !outcome.ok).length;
  }

  /**
   * Hands this node's tombstones of versions deleted by id on to the other members of each key's set
   * under the new ring (a member new to the set never saw the delete): the same delete by id, which
   * writes the tombstone where it is missing and removes a copy a member still holds, unless Object Lock
   * protects it there. Returns how many members could not be reached (the pass is then repeated).
   */
  private async handOnTombstones(locator: RingLocator, rows: readonly VersionGone[], signal: AbortSignal): Promise<number> {
    const { nodeId, peers, logger } = this.options;
    let unreached = 0;
    for (const gone of rows) {
      const { bucket, key, versionId } = gone;
      const others = locator.locate(bucket, key).nodes.filter((node) => node.id !== nodeId);
      const timeout = AbortSignal.any([signal, AbortSignal.timeout(30_000)]);
      const outcomes = await fanOut(others, (node) => peers.get(node).deleteVersion({ bucket, key, versionId, ...(gone.bypassGovernance === true ? { bypassGovernance: true } : {}) }, { signal: timeout }));
      signal.throwIfAborted();
      for (const outcome of outcomes) {
        if (outcome.ok) continue;
        // A member refusing for Object Lock has heard of the delete; it keeps its locked copy.
        if ((outcome.error as { code?: unknown } | null)?.code === 'Conflict') continue;
        unreached += 1;
        logger.warn({ err: outcome.error, bucket, key, versionId, node: outcome.nodeId }, 'could not hand on a delete by version id yet');
      }
    }
    return unreached;
  }

  /**
   * Whether `ring` places every partition on the same nodes, slot for slot, as the ring it replaced on
   * this node, and this node had finished moving to that one: then nothing it holds is misplaced. A
   * ring that changes only addresses is such a ring (`tessera dev` issues one at every start, its
   * nodes listening on fresh ports), and walking every key for it found nothing to move.
   */
  private placementKept(ring: Ring): boolean {
    const previous = this.options.rings.previous;
    if (previous === undefined || this.cursor.epoch !== previous.epoch || !this.cursor.done) return false;
    return planChange(previous, ring).moves.length === 0;
  }

  /** Whether this node's rebalance to `epoch` is done: nothing it holds still sits where only an older ring put it. */
  settled(epoch: number): boolean {
    return this.cursor.epoch === epoch && this.cursor.done;
  }

  status(): WorkerStatus {
    return { epoch: this.cursor.epoch, done: this.cursor.done, pendingThisPass: this.cursor.pending, resumedAfter: this.resumedAfter };
  }

  /**
   * The keys of a page of version rows that hold a version where the ring no longer puts it, each once,
   * and how many keys the page starts (a key whose rows began on the previous page is not counted
   * again). A version at this node's slot of its key's set needs nothing: after most ring changes that
   * is nearly every version, so the pass reads rows in sequence and looks closer only at the others.
   */
  private misplaced(locator: RingLocator, rows: readonly StoredObject[], before: VersionRowCursor | null): { misplaced: KeyName[]; keys: number } {
    const { nodeId } = this.options;
    const misplaced: KeyName[] = [];
    let keys = 0;
    let current: { bucket: string; key: string; position: number; misplaced: boolean } | undefined;
    for (const stored of rows) {
      const { bucket, key } = stored.record;
      if (current === undefined || current.bucket !== bucket || current.key !== key) {
        // A key whose rows began on the previous page was counted there.
        if (before === null || before.bucket !== bucket || before.key !== key) keys += 1;
        current = { bucket, key, position: locator.locate(bucket, key).nodes.findIndex((node) => node.id === nodeId), misplaced: false };
      }
      if (!current.misplaced && !placedAt(stored, current.position)) {
        current.misplaced = true;
        misplaced.push({ bucket, key });
      }
    }
    return { misplaced, keys };
  }

  /** Checks a page of keys, a few at a time: bytes moved per key, or -1 where a key must wait. */
  private async checkAll(locator: RingLocator, page: readonly KeyName[], signal: AbortSignal): Promise<number[]> {
    return pLimit(Math.max(1, Math.floor(this.options.concurrency ?? 4))).map(page, async (entry) => {
      signal.throwIfAborted();
      return this.check(locator, entry, signal).catch((err: unknown) => {
        if (signal.aborted) throw err;
        this.options.logger.warn({ err, key: entry.key }, 'could not move a key yet');
        return -1;
      });
    });
  }

  /** Adopts newer bucket records from the ring's other members; true once a majority answered. */
  private async syncBuckets(ring: Ring, signal: AbortSignal): Promise<boolean> {
    const { nodeId, peers, store, logger } = this.options;
    const others = ring.nodes.filter((node) => node.id !== nodeId);
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(10_000)]);
    const outcomes = await fanOut(others, (node) => peers.get(node).listBuckets({ signal: timeout }));
    // With this node's own records, floor(n / 2) other members make a majority of the n members.
    const decision = decideQuorum(outcomes, Math.floor(ring.nodes.length / 2));
    for (const { value } of decision.successes) for (const record of value) await store.putBucket(record);
    if (!decision.met) {
      logger.warn({ answered: decision.successes.length, members: ring.nodes.length, failures: decision.failures }, 'bucket records not gathered yet');
    }
    return decision.met;
  }

  /**
   * Moves one key if this node holds it in a slot it no longer owns: bytes moved, or -1 when it must
   * wait. Every version goes, noncurrent ones and delete markers first (a page of them at a time): the
   * key's placement-index row leaves with its current version, and with it the way to find the others.
   */
  private async check(locator: RingLocator, entry: KeyName, signal: AbortSignal): Promise<number> {
    const { store } = this.options;
    const stored = await store.keyRows.getObject(entry.bucket, entry.key);
    if (stored === undefined) return 0;
    const set = locator.locate(entry.bucket, entry.key).nodes;
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(30_000)]);
    let bytes = 0;
    let waiting = false;
    for (let after: string | null = null; ; ) {
      const page = await store.keyRows.keyVersionsPage(entry.bucket, entry.key, after, VERSIONS_PER_PAGE);
      for (const version of page) {
        if (version.record.versionId === stored.record.versionId) continue;
        signal.throwIfAborted();
        const moved = await this.moveVersion(set, version, false, timeout);
        if (moved < 0) waiting = true;
        else bytes += moved;
      }
      const last = page.at(-1);
      if (page.length < VERSIONS_PER_PAGE || last === undefined) break;
      after = last.record.versionId;
    }
    const moved = await this.moveVersion(set, stored, true, timeout);
    if (waiting || moved < 0) return -1;
    return bytes + moved;
  }

  /**
   * Moves one version this node holds to the member of `set` now at its slot (record-only: to every
   * member lacking it), then drops the local copy once a write quorum of the set holds it. A version
   * of a versioned bucket is looked for by id: a member whose current version is newer may still lack
   * it. A member that knows the version was deleted by id (a delete that reached the new set while this
   * copy waited here) ends the move: the local copy is deleted as that delete would have. Bytes moved,
   * or -1 when it must wait.
   */
  private async moveVersion(set: readonly RingNode[], stored: StoredObject, current: boolean, timeout: AbortSignal): Promise<number> {
    const { store, nodeId, peers, figures } = this.options;
    const { record } = stored;
    const { bucket, key, versionId: version } = record;
    const position = set.findIndex((node) => node.id === nodeId);
    const recordOnly = stored.shardIndex === null;
    if (placedAt(stored, position)) return 0;
    const byId = !current || record.versioning !== undefined;
    let bytes = 0;
    const holdings = await Promise.all(set.map((node) => this.holdingAt(node, record, byId, timeout).catch(() => undefined)));
    if (holdings.some((holding) => holding?.status?.gone === true)) return this.deletedMeanwhile(stored);
    if (recordOnly) {
      for (const [i, node] of set.entries()) {
        const holding = holdings[i];
        if (holding !== undefined && lacks(holding, version)) {
          await peers.get(node).commit({ record, shardIndex: null }, { signal: timeout });
          holdings[i] = { status: { record, shardIndex: null, shardSizeBytes: 0 }, byId: holding.byId };
        }
      }
    } else {
      const slot = stored.shardIndex as number;
      const target = set[slot];
      const holding = holdings[slot];
      if (target !== undefined && holding !== undefined && lacks(holding, version)) {
        bytes = await this.copyShard(stored, peers.get(target), timeout);
        holdings[slot] = { status: { record, shardIndex: slot, shardSizeBytes: bytes }, byId: holding.byId };
        figures.rebalance.moved += 1;
        figures.rebalance.bytesMoved += bytes;
      }
    }
    const holders = holdings.filter((holding, i) => holding !== undefined && holds(holding, version, recordOnly ? null : i)).length;
    const { dataShards, parityShards } = record.erasure;
    if (holders < writeQuorum(dataShards, parityShards)) return -1;
    const dropped = current ? await store.dropVersion(bucket, key, version) : await store.dropNoncurrentVersion(bucket, key, version);
    if (dropped) figures.rebalance.dropped += 1;
    return bytes;
  }

  /**
   * What a member of the new set holds of `record`'s version: asked by id (with the tombstone of a
   * delete by id), or, for the current version of a key outside versioning, the member's current version,
   * which replaces this one when newer. Not when that newer version was written under versioning: the
   * bucket has been versioned since, and this version lives on beside it as the key's null version, so
   * it is looked for by id after all.
   */
  private async holdingAt(node: RingNode, record: ObjectRecord, byId: boolean, signal: AbortSignal): Promise<Holding> {
    const peer = this.options.peers.get(node);
    const { bucket, key, versionId } = record;
    if (byId) return { status: await peer.versionLookup(bucket, key, versionId, { signal }), byId: true };
    const status = await peer.objectStatus(bucket, key, { signal });
    if (status !== null && status.record.versioning !== undefined && isNewerVersion(status.record.versionId, versionId)) {
      return { status: await peer.versionLookup(bucket, key, versionId, { signal }), byId: true };
    }
    return { status, byId: false };
  }

  /**
   * Deletes the local copy of a version the new set knows was deleted by id. A copy under Object Lock
   * is kept, as a member refusing a handed-on delete keeps its own: a member that did not hold the
   * version writes the delete's tombstone even when the holders refused it for the lock.
   */
  private async deletedMeanwhile(stored: StoredObject): Promise<number> {
    const { store, figures, logger } = this.options;
    const { bucket, key, versionId } = stored.record;
    try {
      if ((await store.deleteVersion(bucket, key, versionId)) !== null) figures.rebalance.dropped += 1;
    } catch (err) {
      if (!(err instanceof ShardStoreError && err.code === 'Locked')) throw err;
      logger.warn({ err, bucket, key, versionId }, 'kept a copy under Object Lock of a version the new set had deleted');
    }
    return 0;
  }

  private async copyShard(stored: StoredObject, target: PeerClient, signal: AbortSignal): Promise<number> {
    const { record } = stored;
    const ref = shardRefOf(record, stored.shardIndex as number);
    const shard = await this.options.store.openShard(ref, 0, Number.MAX_SAFE_INTEGER);
    const { sizeBytes } = await target.putShard(ref, record.erasure, Readable.from(shard.chunks, { objectMode: false }), { signal });
    await target.commit({ record, shardIndex: ref.shardIndex }, { signal });
    return sizeBytes;
  }
}

/** What one member of a key's new set answered for a version, and whether it was asked by id. */
interface Holding {
  status: ObjectStatus | null;
  byId: boolean;
}

/** Whether a member needs the version: it has nothing, or (asked for its current version) an older one. */
function lacks(holding: Holding, versionId: string): boolean {
  const { status } = holding;
  return status === null || (!holding.byId && isNewerVersion(versionId, status.record.versionId));
}

/**
 * Whether a member's answer counts toward the new set's quorum: this version in the right slot, or
 * (a key outside versioning, asked for its current version) a newer version, which replaces it anyway.
 */
function holds(holding: Holding, versionId: string, slot: number | null): boolean {
  const { status } = holding;
  if (status === null || status.gone === true) return false;
  if (!holding.byId && isNewerVersion(status.record.versionId, versionId)) return true;
  return status.record.versionId === versionId && (slot === null || status.shardIndex === slot);
}

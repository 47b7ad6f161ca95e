import type { Logger } from '../common/index.js';
import type { RingNode } from '../placement/index.js';
import {
  NodeClient,
  fanOut,
  isNewerVersion,
  shardDataId,
  type ListResponse,
  type ObjectRecord,
  type ObjectStatus,
  type ShardRef,
  type VersionListQuery,
} from '../rpc/index.js';
import type { PreparedRow } from './metadata-store.js';
import type { RingStore } from './ring-store.js';
import { DEFAULT_PREPARED_GRACE_MS, type ShardStore } from './shard-store.js';
import { ShardStoreError } from './shard-store-error.js';

/**
 * How old a prepared row behind a newer version must be before it is taken for given up: far past the
 * longest a gateway goes between a write's prepares and its commit (the key lease's 20 s wait, then the
 * condition's reads under their own deadlines).
 */
export const DEFAULT_SUPERSEDED_AFTER_MS = 5 * 60 * 1000;

/** Versions of a key asked of a peer per page, when a row behind a newer version may be a noncurrent one. */
const VERSION_PAGE = 16;

/** What the resolver needs to ask a peer. */
export interface PeerStatusClient {
  objectStatus(bucket: string, key: string, options: { signal?: AbortSignal }): Promise<ObjectStatus | null>;
  listVersions(query: VersionListQuery, options: { signal?: AbortSignal }): Promise<ListResponse>;
  close(): Promise<void>;
}

/** The store as the resolver uses it: the prepared rows to settle, and what settles them. */
export type ResolverStore = Pick<ShardStore, 'preparedRows' | 'objectStatus' | 'commit' | 'abort'>;

/** Construction parameters of a prepared-shard resolver. */
export interface PreparedResolverOptions {
  nodeId: string;
  store: ResolverStore;
  rings: RingStore;
  clusterSecret: string;
  logger: Logger;
  /** Prepared rows younger than this are left to the gateway that is still writing them. */
  minAgeMs?: number;
  /** Time allowed for one peer's answer. */
  peerTimeoutMs?: number;
  /**
   * A row behind a newer version of its key is dropped only once older than this. A write's version id is
   * taken when it commits, after its prepares (a conditional write first waits up to 20 s for the key's
   * lease, then checks its condition), so a version committed in between is newer than a write that is
   * still going to commit, and becomes noncurrent or replaced when it does.
   */
  supersededAfterMs?: number;
  /** Undecided rows older than this are dropped (as start-up recovery does): no gateway commits that late. */
  graceMs?: number;
  clock?: () => number;
  /** Injected in tests; by default a signed NodeClient per peer address. */
  clientFor?: (peer: RingNode) => PeerStatusClient;
}

/** Counters of the resolver, for health and logs. */
export interface ResolverStatus {
  passes: number;
  committed: number;
  discarded: number;
  /** Undecided past the grace period, so dropped. */
  expired: number;
  undecided: number;
  lastPassMs: number | null;
}

/**
 * Settles prepared shards whose commit never arrived (the gateway failed or the node was down when it
 * was sent), by asking the other nodes of the key's set: the cooperative termination of the write's
 * two-phase commit. If a peer has committed that very version, a gateway decided to commit it, so
 * this node commits it too with the peer's record; without that, a write whose commit reached fewer
 * than a write quorum before a crash stays unreadable (too few holders) and hides the version it
 * replaced. If a peer or this node holds a newer version and the row is older than any write takes to
 * commit (`supersededAfterMs`), the peers' version listings decide: a peer that keeps the row's version
 * as a noncurrent one (a versioned bucket) had it committed, so it is committed here too and kept
 * behind the newer one; when every peer answers and none holds it (it was replaced, as in an
 * unversioned bucket, or its write was given up) the shard is dropped. Otherwise it is left alone
 * until the grace period has passed, then dropped. A row is never dropped while its write may still
 * commit: a node without the prepared shard would refuse that commit.
 */
export class PreparedResolver {
  /** The worker's name in logs and status. */
  readonly name = 'prepared-resolver';
  private readonly options: PreparedResolverOptions;
  private readonly clients = new Map<string, PeerStatusClient>();
  private readonly counters: ResolverStatus = { passes: 0, committed: 0, discarded: 0, expired: 0, undecided: 0, lastPassMs: null };

  constructor(options: PreparedResolverOptions) {
    this.options = options;
  }

  /** One pass over the node's prepared rows. */
  async step(signal: AbortSignal): Promise<ResolverStatus> {
    const { store, rings, logger } = this.options;
    const locator = rings.locator;
    const now = (this.options.clock ?? Date.now)();
    const minAgeMs = this.options.minAgeMs ?? 5_000;
    let undecided = 0;
    if (locator !== undefined) {
      for await (const row of store.preparedRows.preparedShards()) {
        signal.throwIfAborted();
        if (now - row.preparedMs < minAgeMs) continue;
        try {
          const outcome = await this.resolve(row, locator.locate(row.bucket, row.key).nodes, signal);
          if (outcome === 'committed') this.counters.committed += 1;
          else if (outcome === 'discarded') this.counters.discarded += 1;
          else if (now - row.preparedMs > (this.options.graceMs ?? DEFAULT_PREPARED_GRACE_MS)) {
            await store.abort({ bucket: row.bucket, key: row.key, versionId: row.versionId, shardIndex: row.shardIndex });
            this.counters.expired += 1;
          } else undecided += 1;
        } catch (err) {
          if (signal.aborted) throw err;
          undecided += 1;
          logger.warn({ err, key: row.key, versionId: row.versionId }, 'could not settle a prepared shard');
        }
      }
    }
    this.counters.passes += 1;
    this.counters.undecided = undecided;
    this.counters.lastPassMs = now;
    return this.status();
  }

  /** Counters so far. */
  status(): ResolverStatus {
    return { ...this.counters };
  }

  /** Closes the peer connections. */
  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
  }

  private async resolve(row: PreparedRow, nodes: readonly RingNode[], signal: AbortSignal): Promise<'committed' | 'discarded' | 'undecided'> {
    const { store, logger } = this.options;
    const ref = { bucket: row.bucket, key: row.key, versionId: row.versionId, shardIndex: row.shardIndex };
    const superseded = (): boolean => (this.options.clock ?? Date.now)() - row.preparedMs >= (this.options.supersededAfterMs ?? DEFAULT_SUPERSEDED_AFTER_MS);
    const local = await store.objectStatus(row.bucket, row.key);
    // A newer version here does not settle it: under versioning a peer may have committed this one as well.
    let newer = local !== undefined && isNewerVersion(local.record.versionId, row.versionId);
    const peers = nodes.filter((node) => node.id !== this.options.nodeId);
    // Each round of peer calls gets its own time.
    const peerSignal = (): AbortSignal => AbortSignal.any([signal, AbortSignal.timeout(this.options.peerTimeoutMs ?? 2_000)]);
    const answers = await fanOut(peers, (peer) => this.client(peer).objectStatus(row.bucket, row.key, { signal: peerSignal() }));
    for (const answer of answers) {
      if (!answer.ok || answer.value === null) continue;
      const { record } = answer.value;
      // A prepared row is named by the id its shard was written under, which the committed record keeps as its data id.
      if (shardDataId(record) === row.versionId) {
        if (!(await this.commitUnlessGone(record, ref))) return 'discarded';
        logger.info({ key: row.key, versionId: row.versionId }, 'committed a prepared shard a peer had committed');
        return 'committed';
      }
      if (isNewerVersion(record.versionId, row.versionId)) newer = true;
    }
    if (!newer || !superseded()) return 'undecided';
    // Only the peers know whether the newer version replaced this one or keeps it as noncurrent.
    const held = await fanOut(peers, (peer) => this.peerVersion(peer, row, peerSignal()));
    for (const answer of held) {
      if (!answer.ok || answer.value === null) continue;
      if (!(await this.commitUnlessGone(answer.value, ref))) return 'discarded';
      logger.info({ key: row.key, versionId: row.versionId }, 'committed a prepared shard of a noncurrent version a peer holds');
      return 'committed';
    }
    // A peer that did not answer may hold it.
    if (held.some((answer) => !answer.ok)) return 'undecided';
    await store.abort(ref);
    return 'discarded';
  }

  /**
   * Commits the prepared shard `ref` with a peer's `record`; false, with the shard dropped, when its
   * bucket is deleted or created again since (a version committed on a peer just before DeleteBucket
   * closed the bucket and refused here after: it belongs to no live bucket).
   */
  private async commitUnlessGone(record: ObjectRecord, ref: ShardRef): Promise<boolean> {
    const { store, logger } = this.options;
    try {
      await store.commit({ record, shardIndex: ref.shardIndex });
      return true;
    } catch (err) {
      if (!(err instanceof ShardStoreError && err.code === 'BucketGone')) throw err;
      await store.abort(ref);
      logger.info({ bucket: ref.bucket, key: ref.key, versionId: ref.versionId }, 'dropped a prepared shard of a deleted bucket');
      return false;
    }
  }

  /**
   * The peer's committed version whose shards the row is, among the key's versions from the row's id
   * on (a version's id is taken at commit, never older than the id its shards were prepared under);
   * null when the peer holds no such version.
   */
  private async peerVersion(peer: RingNode, row: PreparedRow, signal: AbortSignal): Promise<ObjectRecord | null> {
    let query: VersionListQuery = { bucket: row.bucket, prefix: row.key, after: '', afterIsPrefix: false, limit: VERSION_PAGE };
    for (;;) {
      const page = await this.client(peer).listVersions(query, { signal });
      // The key's rows come first, newest first: stop at another key's row or a version older than the row.
      for (const { record, gone } of page.entries) {
        if (record.key !== row.key || isNewerVersion(row.versionId, record.versionId)) return null;
        if (gone !== true && shardDataId(record) === row.versionId) return record;
      }
      const last = page.entries.at(-1);
      if (!page.truncated || last === undefined) return null;
      query = { ...query, after: row.key, afterVersion: last.record.versionId };
    }
  }

  private client(peer: RingNode): PeerStatusClient {
    let client = this.clients.get(peer.address);
    if (client === undefined) {
      client =
        this.options.clientFor?.(peer) ??
        new NodeClient({ nodeId: peer.id, address: peer.address, clusterSecret: this.options.clusterSecret, connections: 2 });
      this.clients.set(peer.address, client);
    }
    return client;
  }
}

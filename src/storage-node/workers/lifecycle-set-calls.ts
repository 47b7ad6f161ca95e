import { randomBytes } from 'node:crypto';
import { DEFAULTS, compareVersionIds, formatVersionId, newToken } from '../../common/index.js';
import type { RingNode } from '../../placement/index.js';
import {
  indexOfRow,
  indexOwnerOf,
  fanOut,
  indexEntryOf,
  isNullEntry,
  indexShardsForWrite,
  indexShardKey,
  isNewerRecord,
  IndexWriter,
  matchingConfigurations,
  majority,
  newestRecord,
  writeQuorum,
  type ChangeNote,
  type IndexOp,
  type ObjectEventName,
  type IndexReplica,
  type ObjectRecord,
  type VersionListQuery,
} from '../../rpc/index.js';
import type { RingStore } from '../ring-store.js';
import type { ShardStore } from '../shard-store.js';
import type { PeerClients } from './peer-clients.js';

/** How long an expiry's shared lease lives if it is never given back: far longer than its check and commit. */
const LIFECYCLE_LEASE_TTL_MS = 30_000;
/** How long an expiry's intent on its bucket's index stands for it: far longer than its commit. */
const LIFECYCLE_INTENT_TTL_MS = 10 * 60_000;

/** Who a lifecycle change's event names as having made it. */
const LIFECYCLE_PRINCIPAL = 'tessera:lifecycle';

/** What the calls on a key's set are made with: this node's own store for its copy, the peers for theirs. */
export interface KeySetCallsDeps {
  nodeId: string;
  store: Pick<ShardStore, 'listVersions' | 'objectStatus' | 'commit' | 'deleteVersion' | 'bucketRecord' | 'indexRows'>;
  peers: PeerClients;
  /** The ring, which places the bucket index's shards. */
  rings: Pick<RingStore, 'locator'>;
  /** Time allowed for one peer's answer. */
  peerTimeoutMs?: number;
}

/**
 * The lifecycle worker's reads and writes on a key's whole set, as a client's request through a gateway
 * makes them: this node answers for itself from its store, the others over the node protocol, and each
 * read or write counts only when a write quorum of the set answers or acknowledges.
 */
export class KeySetCalls {
  private readonly deps: KeySetCallsDeps;
  private readonly index: IndexWriter;

  constructor(deps: KeySetCallsDeps) {
    this.deps = deps;
    this.index = new IndexWriter({ timeoutMs: deps.peerTimeoutMs ?? DEFAULTS.gcPeerTimeoutMs });
  }

  /**
   * Runs `write` while a majority of the set grants this pass the key's shared lease (the lease a
   * client's plain write holds, key-lease.ts in the gateway); the lease is given back on every member
   * afterwards. Undefined, without running it, when no majority granted it (a conditional write holds
   * the key, or members are down): the key waits for the next pass.
   */
  async underSharedLease<T>(set: readonly RingNode[], record: ObjectRecord, signal: AbortSignal, write: () => Promise<T>): Promise<T | undefined> {
    const { peers } = this.deps;
    const lease = { bucket: record.bucket, key: record.key, token: newToken(), ttlMs: LIFECYCLE_LEASE_TTL_MS };
    const asked = this.peerSignal(signal);
    const outcomes = await fanOut(set, (node) => peers.get(node).leaseAnswer({ ...lease, mode: 'shared' }, { signal: asked }));
    try {
      if (outcomes.filter((o) => o.ok && o.value.granted).length < majority(set.length)) return undefined;
      return await write();
    } finally {
      // Every member, not only those that answered: a grant may have arrived after its answer was given up on.
      const release = AbortSignal.timeout(this.deps.peerTimeoutMs ?? DEFAULTS.gcPeerTimeoutMs);
      await fanOut(set, (node) => peers.get(node).lease({ ...lease, release: true }, { signal: release }));
    }
  }

  /**
   * A key's versions as a write quorum of its set holds them, newest first, each as its newest copy (by
   * tag revision), with every member's copies of each: a version counts only when a write quorum of the
   * members holds it and no member knows it was deleted by id. Undefined when fewer than a write quorum answered.
   */
  async versionsOnSet(
    set: readonly RingNode[],
    current: ObjectRecord,
    signal: AbortSignal,
  ): Promise<{ records: ObjectRecord[]; copies: Map<string, ObjectRecord[]> } | undefined> {
    const { nodeId, store, peers } = this.deps;
    const timeout = this.peerSignal(signal);
    const outcomes = await fanOut(set, async (node) => {
      const rows: { record: ObjectRecord; gone: boolean }[] = [];
      for (let query: VersionListQuery = { bucket: current.bucket, prefix: current.key, after: '', afterIsPrefix: false, limit: 64 }; ; ) {
        const page = node.id === nodeId ? await store.listVersions(query) : await peers.get(node).listVersions(query, { signal: timeout });
        // Rows of the key come first (its rows sort below every longer key's); stop at the first row of another key.
        const ofKey = page.entries.filter((entry) => entry.record.key === current.key);
        rows.push(...ofKey.map((entry) => ({ record: entry.record, gone: entry.gone === true })));
        const last = ofKey.at(-1);
        if (!page.truncated || last === undefined || ofKey.length < page.entries.length) return rows;
        query = { ...query, after: current.key, afterVersion: last.record.versionId };
      }
    });
    signal.throwIfAborted();
    const answers = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    const quorum = writeQuorum(current.erasure.dataShards, current.erasure.parityShards);
    if (answers.length < quorum) return undefined;
    const copies = new Map<string, ObjectRecord[]>();
    const gone = new Set<string>();
    for (const rows of answers) {
      for (const { record, gone: isGone } of rows) {
        if (isGone) gone.add(record.versionId);
        else if (copies.has(record.versionId)) copies.get(record.versionId)?.push(record);
        else copies.set(record.versionId, [record]);
      }
    }
    const records: ObjectRecord[] = [];
    for (const [versionId, held] of copies) {
      const newest = newestRecord(held);
      if (newest !== undefined && !gone.has(versionId) && held.length >= quorum) records.push(newest);
    }
    // Newest first.
    records.sort((a, b) => compareVersionIds(b.versionId, a.versionId));
    return { records, copies };
  }

  /** Whether every member of the set answers and holds no version of the key but `marker`: only then may the marker go. */
  async markerIsAlone(set: readonly RingNode[], marker: ObjectRecord, signal: AbortSignal): Promise<boolean> {
    const { nodeId, store, peers } = this.deps;
    const timeout = this.peerSignal(signal);
    const outcomes = await fanOut(set, async (node) => {
      // Rows of versions deleted by id are tombstones, not versions the marker could bring back: read
      // past them until a version of the key turns up or the key's rows end.
      for (let query: VersionListQuery = { bucket: marker.bucket, prefix: marker.key, after: '', afterIsPrefix: false, limit: 2 }; ; ) {
        const page = node.id === nodeId ? await store.listVersions(query) : await peers.get(node).listVersions(query, { signal: timeout });
        const ofKey = page.entries.filter((entry) => entry.record.key === marker.key);
        const held = ofKey.filter((entry) => entry.gone !== true).map((entry) => entry.record);
        const last = ofKey.at(-1);
        if (held.some((record) => record.versionId !== marker.versionId) || !page.truncated || last === undefined || ofKey.length < page.entries.length) return held;
        query = { ...query, after: marker.key, afterVersion: last.record.versionId, limit: 16 };
      }
    });
    signal.throwIfAborted();
    // A member that does not answer, or holds any other version, keeps the marker: removing it could bring that version back.
    return outcomes.every((outcome) => outcome.ok && outcome.value.every((record) => record.versionId === marker.versionId));
  }

  /** The newest record a write quorum of the set holds for the key; undefined when fewer answered. */
  async newestOnSet(set: readonly RingNode[], record: ObjectRecord, signal: AbortSignal): Promise<ObjectRecord | undefined> {
    const copies = await this.currentOnSet(set, record, signal);
    if (copies === undefined) return undefined;
    const newest = newestRecord(copies);
    // Ours is newest unless some member holds a strictly newer one.
    return newest !== undefined && isNewerRecord(newest, record) ? newest : record;
  }

  /** Each answering member's current record of the key (members holding nothing left out); undefined when fewer than a write quorum answered. */
  async currentOnSet(set: readonly RingNode[], record: ObjectRecord, signal: AbortSignal): Promise<ObjectRecord[] | undefined> {
    const { nodeId, store, peers } = this.deps;
    const timeout = this.peerSignal(signal);
    const outcomes = await fanOut(set, async (node) =>
      node.id === nodeId ? ((await store.objectStatus(record.bucket, record.key))?.record ?? null) : ((await peers.get(node).objectStatus(record.bucket, record.key, { signal: timeout }))?.record ?? null),
    );
    signal.throwIfAborted();
    const answers = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    if (answers.length < writeQuorum(record.erasure.dataShards, record.erasure.parityShards)) return undefined;
    return answers.flatMap((answer) => (answer === null ? [] : [answer]));
  }

  /**
   * Commits a record-only version on every member of the set; true when a write quorum acknowledged. An
   * indexed bucket's index hears of it first and is settled after, as for a client's write. With
   * `event`, the commit carries the change's note when the bucket's notification rules want it.
   */
  async commitOnSet(set: readonly RingNode[], record: ObjectRecord, signal: AbortSignal, event?: ObjectEventName): Promise<boolean> {
    const { nodeId, store, peers } = this.deps;
    const intent = await this.announce(record, signal);
    if (intent === null) return false;
    const change = event === undefined ? undefined : await this.noteOf(record, event, record.versionId);
    const request = { record, shardIndex: null, ...(change === undefined ? {} : { change }) };
    const timeout = this.peerSignal(signal);
    const outcomes = await fanOut(set, (node) => (node.id === nodeId ? store.commit(request) : peers.get(node).commit(request, { signal: timeout })));
    signal.throwIfAborted();
    const committed = outcomes.filter((o) => o.ok).length >= writeQuorum(record.erasure.dataShards, record.erasure.parityShards);
    if (committed) intent?.settle({ entry: indexEntryOf(record), ...(isNullEntry(record) ? { replaces: true } : {}) });
    return committed;
  }

  /**
   * Removes one version for good on every member of the set (DeleteObject with a versionId), carrying
   * the note of lifecycle's expiry when the bucket's notification rules want it; true on a write quorum.
   */
  async deleteOnSet(set: readonly RingNode[], record: ObjectRecord, signal: AbortSignal): Promise<boolean> {
    const { nodeId, store, peers } = this.deps;
    const intent = await this.announce(record, signal);
    if (intent === null) return false;
    const timeout = this.peerSignal(signal);
    const change = await this.noteOf(record, 's3:LifecycleExpiration:Delete', formatVersionId(Date.now(), 0, randomBytes(4).toString('hex')));
    const request = { bucket: record.bucket, key: record.key, versionId: record.versionId, ...(change === undefined ? {} : { change }) };
    const outcomes = await fanOut(set, (node) =>
      node.id === nodeId ? store.deleteVersion(request.bucket, request.key, request.versionId, { change }) : peers.get(node).deleteVersion(request, { signal: timeout }),
    );
    signal.throwIfAborted();
    const deleted = outcomes.filter((o) => o.ok).length >= writeQuorum(record.erasure.dataShards, record.erasure.parityShards);
    if (deleted) intent?.settle({ gone: record.versionId, ...(isNullEntry(record) ? { replaces: true } : {}) });
    return deleted;
  }

  /**
   * Announces a write of record's key on its bucket's index (docs/bucket-index.md): undefined when the
   * bucket keeps none, null when a write quorum of the index shard's replicas did not take the intent
   * (the key then waits for the next pass). The answer settles the intent once the write is done.
   */
  private async announce(record: ObjectRecord, signal: AbortSignal): Promise<{ settle(change: Pick<Extract<IndexOp, { op: 'settle' }>, 'entry' | 'replaces' | 'gone'>): void } | undefined | null> {
    const placed = await this.indexReplicasOf(record);
    if (placed === undefined) return undefined;
    const { shardSets, replicas, scope } = placed;
    const id = formatVersionId(Date.now(), 0, randomBytes(4).toString('hex'));
    const intent: IndexOp = { op: 'intent', ...scope, id, expiresMs: Date.now() + LIFECYCLE_INTENT_TTL_MS };
    // A write quorum of each shard the key's writes reach.
    const quorum = writeQuorum(record.erasure.dataShards, record.erasure.parityShards);
    const decisions = await Promise.all(shardSets.map((set) => this.index.announce(set, intent, quorum, this.peerSignal(signal))));
    if (decisions.some((decision) => !decision.met)) return null;
    return { settle: (change) => this.index.settle(replicas, { op: 'settle', ...scope, intent: id, ...change }) };
  }

  /**
   * Has every replica of its bucket's uploads index forget the closed upload whose closing marker is
   * `closing` (its rows and its parts', docs/bucket-index.md): true when every replica acknowledged,
   * false when one did not (the caller tries again later), undefined when the upload is in no index.
   */
  async forgetUpload(closing: ObjectRecord, signal: AbortSignal): Promise<boolean | undefined> {
    const placed = await this.indexReplicasOf(closing);
    if (placed === undefined) return undefined;
    const forget: IndexOp = { op: 'forget', ...placed.scope, through: closing.versionId };
    const asked = this.peerSignal(signal);
    const outcomes = await fanOut(placed.replicas, (replica) => replica.applyIndex({ ops: [forget] }, { signal: asked }));
    signal.throwIfAborted();
    return outcomes.every((outcome) => outcome.ok);
  }

  /** The replicas of the index shard that holds record's rows, and their scope; undefined when the record is in no index. */
  private async indexReplicasOf(record: ObjectRecord): Promise<{ shardSets: IndexReplica[][]; replicas: IndexReplica[]; scope: { bucket: string; incarnation: number; key: string } } | undefined> {
    const { nodeId, store, peers, rings } = this.deps;
    // An upload's marker (an abort's closing marker) goes to its user bucket's uploads index.
    const owner = indexOwnerOf(record.bucket, record.key);
    const bucket = indexOfRow(owner === undefined ? undefined : await store.bucketRecord(owner), record.bucket);
    const locator = rings.locator;
    if (bucket?.index === undefined || locator === undefined) return undefined;
    // A record of an older incarnation of the bucket is in no index; one that names none (an expiry's
    // marker) is of the incarnation whose rules made it.
    const incarnation = record.upload?.bucketCreatedMs ?? record.bucketCreatedMs;
    if (incarnation !== undefined && incarnation !== bucket.createdMs) return undefined;
    const self: IndexReplica = { nodeId, applyIndex: (request) => store.indexRows.apply(request.ops) };
    // The key's shard, and while a split of its range is under way the other side too.
    const shardSets = indexShardsForWrite(bucket.index, record.key).map((shard) =>
      locator.locate(bucket.name, indexShardKey(bucket.createdMs, shard)).nodes.map((node): IndexReplica => (node.id === nodeId ? self : peers.get(node))),
    );
    const replicas = shardSets.flat().filter((replica, at, all) => all.findIndex((other) => other.nodeId === replica.nodeId) === at);
    return { shardSets, replicas, scope: { bucket: bucket.name, incarnation: bucket.createdMs, key: record.key } };
  }

  /**
   * The note of a lifecycle change of `record`'s key (docs/events.md), ordered at `orderId`: undefined
   * when no notification configuration of the bucket wants the event. The service, not a user, made it.
   */
  private async noteOf(record: ObjectRecord, eventName: ObjectEventName, orderId: string): Promise<ChangeNote | undefined> {
    const bucket = await this.deps.store.bucketRecord(record.bucket);
    if (bucket === undefined || bucket.deleted || bucket.notification === undefined) return undefined;
    const destinations = matchingConfigurations(bucket.notification, eventName, record.key).map((rule) => ({ configurationId: rule.id, arn: rule.arn }));
    if (destinations.length === 0) return undefined;
    // A client sees no version id in a bucket never versioned, and "null" for a null version.
    const versionId = bucket.versioning === undefined ? undefined : record.versioning === 'Enabled' ? record.versionId : 'null';
    return {
      id: randomBytes(16).toString('hex'),
      eventName,
      timeMs: Date.now(),
      orderId,
      ...(versionId === undefined ? {} : { versionId }),
      bucketOwnerId: bucket.owner ?? '',
      principalId: LIFECYCLE_PRINCIPAL,
      sourceIp: '',
      requestId: randomBytes(8).toString('hex').toUpperCase(),
      hostId: this.deps.nodeId,
      destinations,
    };
  }

  /** `signal`, ended too once a peer's answer takes longer than the peer timeout. */
  peerSignal(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.deps.peerTimeoutMs ?? DEFAULTS.gcPeerTimeoutMs)]);
  }
}

import Type, { type Static } from 'typebox';
import { IndexApplyRequest, IndexIntent } from './bucket-index.js';
import { ChangeNote } from './change-log.js';
import { ObjectEncryption, ObjectRecord, ObjectRetention } from './object-record.js';
import { Count, ErasureParams, Grant, ShardIndex, ShardRef, Strings, VersionId, WireName } from './wire-fields.js';

/**
 * The gateway <-> storage node protocol: message shapes and paths.
 *
 * HTTP/1.1 with keep-alive. Every request is signed (see signing.ts). Object data moves as raw shard
 * bytes in request and response bodies; everything else is small JSON. Bucket and key travel in the
 * query string, never in the path, so no wire string ever becomes part of a file path on a node.
 *
 * Each message is a schema (TypeBox, so plain JSON Schema) and its type is derived from it: the node
 * server validates request bodies against them at the edge, the client validates answers. Objects
 * accept fields they do not know, so a newer peer's additions do not break an older one.
 *
 * The records the messages carry have files of their own: object-record.ts (an object version's
 * metadata), bucket-record.ts and user-record.ts; wire-fields.ts holds the fields they all share.
 */

/** Protocol version; a node refuses requests for a version it does not speak. */
export const PROTOCOL_VERSION = 1;

/** Route paths served by a storage node. */
export const NODE_PATHS = {
  shards: '/v1/shards',
  commit: '/v1/commit',
  batch: '/v1/batch',
  abort: '/v1/abort',
  objects: '/v1/objects',
  list: '/v1/list',
  versions: '/v1/versions',
  versionDelete: '/v1/versions/delete',
  /** GET: a page of a bucket index replica; POST: changes to it (bucket-index.ts). */
  index: '/v1/index',
  /** GET: a range of a bucket index replica's rows as changes; the copy of a shard split (index-split.ts). */
  indexExport: '/v1/index/export',
  /** POST: removes a range of a bucket index replica's rows, which a split moved to a shard this node holds no replica of. */
  indexDrop: '/v1/index/drop',
  /** GET: a page of the node's change log (change-log.ts). */
  changes: '/v1/changes',
  leases: '/v1/leases',
  buckets: '/v1/buckets',
  /** GET: the node's per-bucket usage counts (bucket-record.ts BucketUsageResponse). */
  usage: '/v1/usage',
  users: '/v1/users',
  tags: '/v1/tags',
  reseal: '/v1/reseal',
  ring: '/v1/ring',
  /** GET: the ring the node's current ring replaced (the same document format as `ring`). */
  previousRing: '/v1/ring/previous',
  health: '/health',
  partitionDigest: '/v1/partitions/digest',
  partitionEntries: '/v1/partitions/entries',
  partitionVersions: '/v1/partitions/versions',
  partitionGone: '/v1/partitions/gone',
  adminStatus: '/v1/admin/status',
  adminScrub: '/v1/admin/scrub',
  /** POST: a member of a key's set offers the leader its copies of changes the leader has not confirmed (docs/events.md). */
  changeOffer: '/v1/changes/offer',
  /** POST: the leader tells a member which changes were delivered, so it removes its copies. */
  changesDone: '/v1/changes/done',
  /** POST: sets a version's replication status in place (a resync's record of what the destination holds). */
  replicationStatus: '/v1/replication-status',
} as const;

/** Body of POST /v1/commit: makes a prepared shard's version visible with its metadata, or writes a tombstone. */
export const CommitRequest = Type.Object({
  record: ObjectRecord,
  /** Shard index this node holds; null for tombstones. */
  shardIndex: Type.Union([ShardIndex, Type.Null()]),
  /** Set by repair: the node may already hold this version with a bad shard, which the prepared one replaces. */
  repair: Type.Optional(Type.Boolean()),
  /** A plain write's shared key lease: the node gives it back once this commit is applied. */
  leaseToken: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /**
   * The write's intent on its bucket's index, when this node holds a replica of the key's index shard
   * (docs/bucket-index.md): written in the commit's own batch, so it is durable wherever the commit is.
   */
  indexIntent: Type.Optional(IndexIntent),
  /**
   * The change this commit makes, when its bucket has consumers of its changes (docs/events.md): the
   * node logs it in the commit's own batch (once per id, whatever the commit writes).
   */
  change: Type.Optional(ChangeNote),
});
/** Body of POST /v1/commit. */
export type CommitRequest = Static<typeof CommitRequest>;

/** Body of POST /v1/abort: drops a prepared, uncommitted shard. */
export const AbortRequest = ShardRef;
/** Body of POST /v1/abort. */
export type AbortRequest = ShardRef;

/**
 * Body of POST /v1/tags: replaces the tags of a committed version in place (its data and other metadata
 * stay). A node applies it only while that version is its current one and the revision is newer.
 */
export const TagUpdateRequest = Type.Object({
  bucket: WireName,
  key: WireName,
  versionId: VersionId,
  tags: Strings,
  tagsRevision: VersionId,
  /** When present, the version's ACL grants are replaced too (PutObjectAcl), ordered by the same revision. */
  grants: Type.Optional(Type.Array(Grant)),
  /** When present, the version's Object Lock retention is replaced too (null: removed), ordered by the same revision. */
  retention: Type.Optional(Type.Union([ObjectRetention, Type.Null()])),
  /** When present, the version's legal hold is replaced too, ordered by the same revision. */
  legalHold: Type.Optional(Type.Boolean()),
  /** The change this update makes (a tagging event), logged with it as a commit's is. */
  change: Type.Optional(ChangeNote),
});
/**
 * Body of POST /v1/reseal: replaces how a committed version's data key is sealed (master-key rotation),
 * in place: its bytes and other metadata stay. Applied to the version the node holds, current or
 * noncurrent, when it is encrypted with the same kind of encryption.
 */
export const ResealRequest = Type.Object({ bucket: WireName, key: WireName, versionId: VersionId, encryption: ObjectEncryption });
/** Body of POST /v1/reseal. */
export type ResealRequest = Static<typeof ResealRequest>;

/** Body of POST /v1/tags. */
export type TagUpdateRequest = Static<typeof TagUpdateRequest>;

/**
 * A shared key lease asked for with a prepare or on its own: whether it is held, and the newest
 * version id a conditional write committed under the key's exclusive lease here (`fence`), which the
 * plain write's own version id must follow.
 */
export const SharedLeaseAnswer = Type.Object({ granted: Type.Boolean(), fence: Type.Optional(Type.String()) });
/** A shared lease's answer. */
export type SharedLeaseAnswer = Static<typeof SharedLeaseAnswer>;

/** Answer of PUT /v1/shards once the shard is durable (fsynced) but not yet visible; with the shared lease asked for with it. */
export const PrepareResponse = Type.Object({ sizeBytes: Count, lease: Type.Optional(SharedLeaseAnswer) });
/** Answer of PUT /v1/shards. */
export type PrepareResponse = Static<typeof PrepareResponse>;

/** Answer of GET /v1/objects: this node's newest committed version of a key, and which shard of it it holds. */
export const ObjectStatus = Type.Object({
  record: ObjectRecord,
  shardIndex: Type.Union([ShardIndex, Type.Null()]),
  shardSizeBytes: Count,
  /**
   * The shard's bytes (base64), verified against its checksums, when the caller asked for them and the
   * node keeps this shard inline: a small object's read then needs no second round.
   */
  inlineShard: Type.Optional(Type.String()),
  /**
   * Asked by version id with `withGone`: the node knows this version was deleted by id (and holds no
   * copy); `record` is a stand-in naming it.
   */
  gone: Type.Optional(Type.Literal(true)),
});
/** Answer of GET /v1/objects. */
export type ObjectStatus = Static<typeof ObjectStatus>;

/** A version lookup's answer inside a batch: null for a key the node does not hold. */
export const ObjectStatusOrNull = Type.Union([ObjectStatus, Type.Null()]);

/** Most partition bits a node accepts in a partition request (a million partitions). */
export const MAX_PARTITION_BITS = 20;

/**
 * One call of POST /v1/batch. Small calls to one node travel together while the node is busy (see
 * call-batcher.ts); each is the same operation as its own route. A `prepare` carries a whole small
 * shard (base64), as PUT /v1/shards would stream it; `fresh` as that route's `fresh=1`. A `digest` is
 * GET /v1/partitions/digest: an audit asks every member for the digests of several partitions at once,
 * so they share a request per member instead of taking one each.
 */
export const BatchCall = Type.Union([
  Type.Object({
    op: Type.Literal('prepare'),
    ref: ShardRef,
    erasure: ErasureParams,
    shard: Type.String(),
    fresh: Type.Optional(Type.Boolean()),
    lease: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  }),
  Type.Object({ op: Type.Literal('commit'), request: CommitRequest }),
  Type.Object({ op: Type.Literal('status'), bucket: WireName, key: WireName, withInlineShard: Type.Boolean() }),
  Type.Object({ op: Type.Literal('digest'), partition: Count, bits: Type.Integer({ minimum: 0, maximum: MAX_PARTITION_BITS }) }),
  Type.Object({ op: Type.Literal('index'), request: IndexApplyRequest }),
]);
/** One call of POST /v1/batch. */
export type BatchCall = Static<typeof BatchCall>;

/** Most calls one batch may carry (the client sends at most 128). */
export const MAX_BATCH_CALLS = 1024;

/** Body of POST /v1/batch. Each call is checked on its own, so a bad one fails alone rather than its whole batch. */
export const BatchRequest = Type.Object({ calls: Type.Array(Type.Unknown(), { maxItems: MAX_BATCH_CALLS }) });

/** One call's outcome in a batch answer: its value (null for a key the node does not hold), or its wire error. */
export const BatchResult = Type.Union([
  Type.Object({ ok: Type.Literal(true), value: Type.Unknown() }),
  Type.Object({ ok: Type.Literal(false), code: Type.String(), message: Type.String() }),
]);
/** One call's outcome in a batch answer. */
export type BatchResult = Static<typeof BatchResult>;

/** Answer of POST /v1/batch: one result per call, in the order of the calls. */
export const BatchResponse = Type.Object({ results: Type.Array(BatchResult) });
/** Answer of POST /v1/batch. */
export type BatchResponse = Static<typeof BatchResponse>;

/**
 * One row of a node's ordered listing: a key's newest version on that node, tombstones included
 * (a newer tombstone on one node hides an older live version on another, so the gateway decides).
 */
export const ListEntry = Type.Object({
  key: Type.String(),
  record: ObjectRecord,
  /** A version listing's row of a version the node knows was deleted by id (its record a stand-in): every copy of it is hidden. */
  gone: Type.Optional(Type.Literal(true)),
  /**
   * An object listing's row asked with a delimiter: the common prefix this key stands for. The node
   * returned it as the first key under the prefix whose row it holds live, and skipped the rest.
   */
  rollup: Type.Optional(Type.String({ minLength: 1 })),
});
/** One row of a node's ordered listing. */
export type ListEntry = Static<typeof ListEntry>;

/** Answer of GET /v1/list. */
export const ListResponse = Type.Object({
  entries: Type.Array(ListEntry),
  /** True when the node stopped at `limit` and more entries follow the last one. */
  truncated: Type.Boolean(),
  /** Where the next page starts when it is not after the last entry (the node stopped reading before it). */
  resume: Type.Optional(Type.Object({ after: Type.String(), afterIsPrefix: Type.Boolean(), afterVersion: Type.Optional(VersionId) })),
});
/** Answer of GET /v1/list. */
export type ListResponse = Static<typeof ListResponse>;

/** Query of GET /v1/list. `after` is exclusive; when `afterIsPrefix` every key starting with it is skipped too. */
export interface ListQuery {
  bucket: string;
  prefix: string;
  after: string;
  afterIsPrefix: boolean;
  limit: number;
  /** Roll the keys under each common prefix up into one row (ListEntry.rollup). */
  delimiter?: string | undefined;
}

/**
 * Query of GET /v1/versions: every stored version (delete markers included), by key ascending and
 * newest first within a key. With `afterVersion` the listing resumes after that version of `after`
 * (`null` names the key's null version); without it, after every version of `after`.
 */
export interface VersionListQuery extends ListQuery {
  afterVersion?: string;
}

/** Query of GET /v1/index: keys of one bucket incarnation's index (its record's createdMs), as ListQuery. */
export type IndexListQuery = ListQuery & { incarnation: number } & IndexShardBounds;

/**
 * The key range of the index shard a listing reads (docs/bucket-index.md): keys from `from` and before
 * `before`, in UTF-8 byte order. A node holding several shards' replicas keeps their rows side by side,
 * and a replica may still hold rows of keys a split moved to another shard: a reader of one shard asks
 * for its range alone.
 */
export interface IndexShardBounds {
  from?: string | undefined;
  before?: string | undefined;
}

/**
 * Query of GET /v1/index in versions mode: every live version of each key, newest first, as
 * VersionListQuery (`null` as `afterVersion` names the key's null version).
 */
export type IndexVersionListQuery = VersionListQuery & { incarnation: number } & IndexShardBounds;

/** Body of POST /v1/versions/delete: removes one version (or delete marker) of a key for good. */
export const VersionDeleteRequest = Type.Object({
  bucket: WireName,
  key: WireName,
  versionId: VersionId,
  /** The requester may and asked to bypass GOVERNANCE retention (never COMPLIANCE, never a legal hold). */
  bypassGovernance: Type.Optional(Type.Boolean()),
  /** The change this delete makes, logged with it as a commit's is. */
  change: Type.Optional(ChangeNote),
});
/** Body of POST /v1/versions/delete. */
export type VersionDeleteRequest = Static<typeof VersionDeleteRequest>;

/** Body of POST /v1/leases: takes (or, with `release`, gives back) a key's short lease (storage-node/key-leases.ts). */
export const LeaseRequest = Type.Object({
  bucket: WireName,
  key: WireName,
  token: Type.String({ minLength: 1, maxLength: 64 }),
  ttlMs: Type.Integer({ minimum: 1, maximum: 600_000 }),
  release: Type.Optional(Type.Boolean()),
  /**
   * `shared`: a plain write's lease, held by any number of plain writes at once and excluding the
   * exclusive one a conditional write takes (the default).
   */
  mode: Type.Optional(Type.Union([Type.Literal('exclusive'), Type.Literal('shared')])),
  /** With `release` of an exclusive lease: the version id its conditional write committed, which later plain writes must follow. */
  fence: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
});
/** Body of POST /v1/leases. */
export type LeaseRequest = Static<typeof LeaseRequest>;

/** Answer of POST /v1/leases: whether the caller holds the lease now. */
export const LeaseResponse = Type.Object({
  granted: Type.Boolean(),
  /** Shared grants: the key's fence (see SharedLeaseAnswer). */
  fence: Type.Optional(Type.String()),
  /** Exclusive grants: the node's newest record of the key (null: none), which the conditional write's check must see. */
  current: Type.Optional(Type.Union([ObjectRecord, Type.Null()])),
});
/** Answer of POST /v1/leases. */
export type LeaseResponse = Static<typeof LeaseResponse>;

/** Answer of POST /v1/versions/delete: the record removed, or null when the node did not hold that version. */
export const VersionDeleteResponse = Type.Object({ removed: Type.Union([ObjectRecord, Type.Null()]) });
/** Answer of POST /v1/versions/delete. */
export type VersionDeleteResponse = Static<typeof VersionDeleteResponse>;

/** Answer of PUT /v1/ring: whether the node adopted the ring (it was newer) and the epoch it now holds. */
export const RingOfferResponse = Type.Object({ adopted: Type.Boolean(), epoch: Count });
/** Answer of PUT /v1/ring. */
export type RingOfferResponse = Static<typeof RingOfferResponse>;

/** An empty answer (`{}`) of a call that only acknowledges. */
export const Acknowledged = Type.Object({});

/** Most changes one offer carries: a delivery step's page. */
export const MAX_OFFERED_CHANGES = 256;
/** Most change ids one done call names. */
export const MAX_DONE_IDS = 1_000;

/** Body of POST /v1/changes/offer: a member's copies of changes, each with its bucket and key as the commit carried them. */
export const ChangeOfferRequest = Type.Object({
  changes: Type.Array(Type.Object({ bucket: WireName, key: WireName, note: ChangeNote }), { maxItems: MAX_OFFERED_CHANGES }),
});
/** Body of POST /v1/changes/offer. */
export type ChangeOfferRequest = Static<typeof ChangeOfferRequest>;

/**
 * Answer of POST /v1/changes/offer, one per change in the offer's order: `delivered` when the leader
 * delivered it (the member removes its copy), `pending` when the leader holds it now and will.
 */
export const ChangeOfferResponse = Type.Object({ answers: Type.Array(Type.Union([Type.Literal('delivered'), Type.Literal('pending')]), { maxItems: MAX_OFFERED_CHANGES }) });
/** Answer of POST /v1/changes/offer. */
export type ChangeOfferResponse = Static<typeof ChangeOfferResponse>;

/** How the delivery of a change to its replication destinations ended: the version's replicationStatus from then on. */
export const ReplicationOutcome = Type.Union([Type.Literal('COMPLETED'), Type.Literal('FAILED')]);
/** How a change's replication ended. */
export type ReplicationOutcome = Static<typeof ReplicationOutcome>;

/**
 * Body of POST /v1/changes/done: ids of changes their leader delivered and, for changes with a
 * replication destination, how their replication ended (by change id): a member holding the change's
 * version rewrites its status in place.
 */
export const ChangesDoneRequest = Type.Object({
  ids: Type.Array(Type.String({ pattern: '^[0-9a-f]{32}$' }), { maxItems: MAX_DONE_IDS }),
  outcomes: Type.Optional(Type.Record(Type.String({ pattern: '^[0-9a-f]{32}$' }), ReplicationOutcome, { maxProperties: MAX_DONE_IDS, additionalProperties: false })),
});
/** Body of POST /v1/changes/done. */
export type ChangesDoneRequest = Static<typeof ChangesDoneRequest>;

/**
 * Body of POST /v1/replication-status: the version `versionId` of `key` takes `status` as its
 * replicationStatus, in place (a resync sends versions no change logged for replication, and records
 * how each ended). Applied to a version without a status too; never to a replica.
 */
export const ReplicationStatusRequest = Type.Object({ bucket: WireName, key: WireName, versionId: VersionId, status: ReplicationOutcome });
/** Body of POST /v1/replication-status. */
export type ReplicationStatusRequest = Static<typeof ReplicationStatusRequest>;

/** Answer of POST /v1/changes/done: how many copies the member removed. */
export const ChangesDoneResponse = Type.Object({ removed: Count });
/** Answer of POST /v1/changes/done. */
export type ChangesDoneResponse = Static<typeof ChangesDoneResponse>;

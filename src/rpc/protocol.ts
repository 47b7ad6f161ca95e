import Type, { type Static } from 'typebox';
import { VERSION_ID_PATTERN } from '../common/index.js';
import { LifecycleRule } from './lifecycle-rules.js';

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
  leases: '/v1/leases',
  buckets: '/v1/buckets',
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
} as const;

/**
 * A bucket name or key as the wire carries it: non-empty and without NUL, which separates the parts of
 * a node's LevelDB keys (a name holding one could reach into another bucket's rows).
 */
export const WireName = Type.String({ minLength: 1, pattern: '^[^\\u0000]*$' });

/** A version id (hybrid-clock time and writer, 24 hex digits). */
export const VersionId = Type.String({ pattern: VERSION_ID_PATTERN });

/** Index of a shard within its stripe (k + m <= 256). */
export const ShardIndex = Type.Integer({ minimum: 0, maximum: 255 });

const Strings = Type.Record(Type.String(), Type.String());
const ChecksumType = Type.Union([Type.Literal('COMPOSITE'), Type.Literal('FULL_OBJECT')]);
const Count = Type.Integer({ minimum: 0 });

/** One ACL grant: a canonical user id or an S3 group URI, and a permission (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL). */
export const Grant = Type.Object({ grantee: Type.String(), permission: Type.String() });

/** Reed-Solomon parameters an object was written with. */
export const ErasureParams = Type.Object({
  dataShards: Type.Integer({ minimum: 1, maximum: 256 }),
  parityShards: Type.Integer({ minimum: 0, maximum: 255 }),
  /** Bytes of one shard's block in a full stripe; a stripe holds dataShards × blockSizeBytes of the body. */
  blockSizeBytes: Type.Integer({ minimum: 1, maximum: 2 ** 31 }),
});
/** Reed-Solomon parameters an object was written with. */
export type ErasureParams = Static<typeof ErasureParams>;

/**
 * Identifies one shard of one object version. `dataId` is the id the version's shards were written
 * under when it differs from the version id (see ObjectRecord.dataId); absent, they are the same.
 */
export const ShardRef = Type.Object({ bucket: WireName, key: WireName, versionId: VersionId, shardIndex: ShardIndex, dataId: Type.Optional(VersionId) });
/** Identifies one shard of one object version. */
export type ShardRef = Static<typeof ShardRef>;

/** How a multipart upload ended. */
export const UploadOutcome = Type.Union([Type.Literal('aborted'), Type.Literal('completed')]);
/** How a multipart upload ended. */
export type UploadOutcome = Static<typeof UploadOutcome>;

/**
 * What a multipart upload's marker record remembers. While the upload is open the marker is a live
 * record-only version; completion and abort replace it with a tombstone (so every reader sees no
 * upload) that keeps this information plus how the upload ended, so a node holding parts can tell
 * garbage from parts a manifest uses. Closing markers written before `closed` existed carry no
 * `upload` at all: their parts cannot be judged and are kept.
 */
export const UploadInfo = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  initiatedMs: Type.Number(),
  /**
   * The createdMs of the bucket the upload was started in: a bucket deleted and created again under the
   * same name is another bucket, whose uploads S3 does not list or complete. Absent on older markers.
   */
  bucketCreatedMs: Type.Optional(Type.Number()),
  /** Flexible-checksum algorithm every part must carry (x-amz-checksum-algorithm at creation). */
  checksumAlgorithm: Type.Optional(Type.String()),
  checksumType: Type.Optional(ChecksumType),
  /**
   * Set on an open marker by a completion just before it writes the manifest, which may then list the
   * upload's parts: no part is replaced while it is set. A completion that stopped there (its gateway
   * died) is finished by the next CompleteMultipartUpload, which closes the upload as completed when
   * the manifest was written and completes it otherwise.
   */
  completing: Type.Optional(Type.Boolean()),
  /** Set on the closing marker: the upload was aborted (by a client or by expiry) or completed. */
  closed: Type.Optional(UploadOutcome),
  /** When the closing marker was written. */
  closedMs: Type.Optional(Type.Number()),
  /** On a completed upload's closing marker: the version of the manifest written at `bucket`/`key`. */
  manifestVersionId: Type.Optional(Type.String()),
  /** With manifestVersionId: the bucket's versioning state the manifest was written under (absent: never enabled). */
  manifestVersioning: Type.Optional(Type.Union([Type.Literal('Enabled'), Type.Literal('Suspended')])),
  /** On a completed upload's closing marker: the manifest's ETag, which a retried completion answers with. */
  manifestEtag: Type.Optional(Type.String()),
  /** With manifestEtag: the manifest's checksum (algorithm, base64 value, COMPOSITE or FULL_OBJECT), when it has one. */
  manifestChecksum: Type.Optional(Type.Object({ algorithm: Type.String(), value: Type.String(), type: ChecksumType })),
});
/** What a multipart upload's marker record remembers (see the schema). */
export type UploadInfo = Static<typeof UploadInfo>;

/** One part of a completed multipart object. */
export const PartRef = Type.Object({
  partNumber: Type.Integer(),
  /** Internal bucket and key where the part is stored, and the version that was completed. */
  bucket: Type.String(),
  key: Type.String(),
  versionId: Type.String(),
  sizeBytes: Count,
  etag: Type.String(),
  /** The part's flexible checksums, by algorithm (base64). */
  checksums: Type.Optional(Strings),
});
/** One part of a completed multipart object. */
export type PartRef = Static<typeof PartRef>;

/**
 * How an encrypted version's body is sealed (server-side encryption). The data key is stored only
 * sealed: under a cluster master key (SSE-S3) or under the customer's own key (SSE-C), which is never
 * stored; of that key only a keyed digest is kept, to tell a wrong key from a damaged body.
 */
export const ObjectEncryption = Type.Object({
  kind: Type.Union([Type.Literal('SSE-S3'), Type.Literal('SSE-C')]),
  /** The data key (AES-256), sealed (base64). */
  sealedKey: Type.String(),
  /** SSE-S3: the id of the master key that sealed the data key. */
  masterKeyId: Type.Optional(Type.String()),
  /** The body's random nonce (base64); absent on a record that holds no body (a multipart manifest or upload marker). */
  nonce: Type.Optional(Type.String()),
  /** SSE-C: the keyed digest of the customer key and the salt it was computed with (base64). */
  customerKeyDigest: Type.Optional(Type.String()),
  customerKeySalt: Type.Optional(Type.String()),
});
/** How an encrypted version's body is sealed (see the schema). */
export type ObjectEncryption = Static<typeof ObjectEncryption>;

/** Object Lock retention of one version (S3's Retention): until when, and whether GOVERNANCE may be bypassed. */
export const ObjectRetention = Type.Object({
  mode: Type.Union([Type.Literal('GOVERNANCE'), Type.Literal('COMPLIANCE')]),
  retainUntilMs: Type.Number(),
});
/** Object Lock retention of one version (see the schema). */
export type ObjectRetention = Static<typeof ObjectRetention>;

/** The metadata record of an object version; every node of the object's set stores it beside its shard. */
export const ObjectRecord = Type.Object({
  bucket: WireName,
  key: WireName,
  /**
   * The version's id and its place in the key's history: taken from the writing gateway's hybrid clock
   * when it decides to commit (every shard durable, every check passed), so the write that completes
   * last is the newest, as in S3.
   */
  versionId: VersionId,
  /**
   * The id the version's shards were prepared under (the clock's time when the write began), when it
   * differs from versionId: it names the shards (their rows, files and headers) on the nodes.
   */
  dataId: Type.Optional(VersionId),
  /** A delete marker (tombstone): hides older versions and carries no data. */
  deleted: Type.Boolean(),
  sizeBytes: Count,
  /** Quoted, as S3 sends it. */
  etag: Type.String(),
  lastModifiedMs: Type.Number(),
  contentType: Type.String(),
  /** x-amz-meta-* without the prefix, names lower-cased. */
  userMetadata: Strings,
  /** Stored response headers: cache-control, content-disposition, content-encoding, content-language, expires. */
  headers: Strings,
  /** Flexible checksums by algorithm name (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), base64. */
  checksums: Strings,
  erasure: ErasureParams,
  /**
   * Set on an object completed from a multipart upload: its body is the listed parts, in order, each an
   * erasure-coded version of its own. The manifest carries no shard; completion copies no data.
   */
  parts: Type.Optional(Type.Array(PartRef)),
  /** Set on a multipart upload's marker record: the bucket and key the upload will complete into. */
  upload: Type.Optional(UploadInfo),
  /** Object tags (S3 tagging), changed in place by POST /v1/tags without rewriting the version. */
  tags: Type.Optional(Strings),
  /** Orders in-place tag changes of one version (a version id); among records of the same version the greatest wins. */
  tagsRevision: Type.Optional(Type.String()),
  /** How a multipart object's checksum was built from its parts' (S3's ChecksumType); absent means FULL_OBJECT. */
  checksumType: Type.Optional(ChecksumType),
  /**
   * The bucket's versioning state when this version was written; absent: versioning never enabled.
   * 'Enabled' keeps the versions it replaces and has an S3 version id of its own; any other value
   * makes it the key's `null` version, which replaces the previous `null` version (S3's rules).
   */
  versioning: Type.Optional(Type.Union([Type.Literal('Enabled'), Type.Literal('Suspended')])),
  /** Set on an encrypted version (server-side encryption); `sizeBytes` stays the plaintext size. */
  encryption: Type.Optional(ObjectEncryption),
  /** Bytes on the shards when they differ from `sizeBytes` (an encrypted body): what the erasure layout is computed from. */
  storedSizeBytes: Type.Optional(Count),
  /** Canonical id of the user who wrote the object; absent: the bucket's owner. */
  owner: Type.Optional(Type.String()),
  /** The object's ACL grants (x-amz-acl, x-amz-grant-* at write time); absent: private. */
  grants: Type.Optional(Type.Array(Grant)),
  /** Object Lock retention; changed in place (POST /v1/tags) like the tags. Absent: none. */
  retention: Type.Optional(ObjectRetention),
  /** Object Lock legal hold (true: ON); changed in place like the tags. Absent: never set. */
  legalHold: Type.Optional(Type.Boolean()),
  /**
   * The `createdMs` of the bucket record the version was written under: which incarnation of the
   * bucket's name it belongs to. A node refuses to commit it into a bucket it holds as closing, deleted
   * or created again since (bucket-incarnations.md). Absent on records of the internal uploads bucket,
   * and on records written before incarnations were checked.
   */
  bucketCreatedMs: Type.Optional(Type.Number()),
});
/** The metadata record of an object version. */
export type ObjectRecord = Static<typeof ObjectRecord>;

/**
 * The internal bucket of multipart uploads (a name S3 forbids, so no user bucket collides with it).
 * Upload markers live at `<bucket>/<uploadId>`, parts at `<bucket>/<uploadId>/<partNumber, 5 digits>`.
 */
export const UPLOADS_BUCKET = '.multipart';

/** The marker record's key of an upload. */
export function uploadMarkerKey(bucket: string, uploadId: string): string {
  return `${bucket}/${uploadId}`;
}

/** The internal key of one part of an upload. */
export function uploadPartKey(bucket: string, uploadId: string, partNumber: number): string {
  return `${bucket}/${uploadId}/${String(partNumber).padStart(5, '0')}`;
}

/** What a key of the uploads bucket names: an upload's marker or one of its parts; null for anything else. */
export function parseUploadKey(key: string): { kind: 'marker' | 'part'; bucket: string; uploadId: string; partNumber: number | null } | null {
  const match = /^(.+)\/([0-9a-f]{32})(?:\/(\d{5}))?$/.exec(key);
  if (match === null) return null;
  const [, bucket = '', uploadId = '', part] = match;
  return part === undefined ? { kind: 'marker', bucket, uploadId, partNumber: null } : { kind: 'part', bucket, uploadId, partNumber: Number(part) };
}

/** Body of POST /v1/commit: makes a prepared shard's version visible with its metadata, or writes a tombstone. */
export const CommitRequest = Type.Object({
  record: ObjectRecord,
  /** Shard index this node holds; null for tombstones. */
  shardIndex: Type.Union([ShardIndex, Type.Null()]),
  /** Set by repair: the node may already hold this version with a bad shard, which the prepared one replaces. */
  repair: Type.Optional(Type.Boolean()),
  /** A plain write's shared key lease: the node gives it back once this commit is applied. */
  leaseToken: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
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
});
/** One row of a node's ordered listing. */
export type ListEntry = Static<typeof ListEntry>;

/** Answer of GET /v1/list. */
export const ListResponse = Type.Object({
  entries: Type.Array(ListEntry),
  /** True when the node stopped at `limit` and more entries follow the last one. */
  truncated: Type.Boolean(),
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
}

/**
 * Query of GET /v1/versions: every stored version (delete markers included), by key ascending and
 * newest first within a key. With `afterVersion` the listing resumes after that version of `after`
 * (`null` names the key's null version); without it, after every version of `after`.
 */
export interface VersionListQuery extends ListQuery {
  afterVersion?: string;
}

/** Body of POST /v1/versions/delete: removes one version (or delete marker) of a key for good. */
export const VersionDeleteRequest = Type.Object({
  bucket: WireName,
  key: WireName,
  versionId: VersionId,
  /** The requester may and asked to bypass GOVERNANCE retention (never COMPLIANCE, never a legal hold). */
  bypassGovernance: Type.Optional(Type.Boolean()),
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

/** One CORS rule of a bucket, as S3's CORSRule. */
export const CorsRule = Type.Object({
  id: Type.Optional(Type.String()),
  allowedOrigins: Type.Array(Type.String()),
  allowedMethods: Type.Array(Type.String()),
  allowedHeaders: Type.Array(Type.String()),
  exposeHeaders: Type.Array(Type.String()),
  maxAgeSeconds: Type.Optional(Type.Number()),
});
/** One CORS rule of a bucket. */
export type CorsRule = Static<typeof CorsRule>;

/** A bucket's record, kept on every node; the newest versionId per name wins. */
export const BucketRecord = Type.Object({
  name: WireName,
  versionId: VersionId,
  createdMs: Type.Number(),
  deleted: Type.Boolean(),
  /**
   * Set while DeleteBucket checks the bucket is empty: nodes refuse to commit new versions into it.
   * The delete then writes the tombstone, or (the bucket was not empty) the record without this flag.
   */
  closing: Type.Optional(Type.Boolean()),
  /** The bucket's CORS rules (PutBucketCors); absent when none are configured. */
  cors: Type.Optional(Type.Array(CorsRule)),
  /** The bucket's tags (PutBucketTagging); absent when none are set. */
  tags: Type.Optional(Strings),
  /** PutBucketVersioning's state; absent while versioning was never enabled (a bucket never returns to that). */
  versioning: Type.Optional(Type.Union([Type.Literal('Enabled'), Type.Literal('Suspended')])),
  /** The bucket's default encryption (PutBucketEncryption): writes without SSE headers are sealed with SSE-S3. */
  encryption: Type.Optional(Type.Literal('AES256')),
  /** Canonical id of the user who created the bucket; absent: the cluster owner (the configured credentials). */
  owner: Type.Optional(Type.String()),
  /** The bucket's ACL grants; absent: private (the owner's FULL_CONTROL only). */
  grants: Type.Optional(Type.Array(Grant)),
  /** S3's object ownership: ObjectWriter, BucketOwnerPreferred or BucketOwnerEnforced (ACLs off); absent: ObjectWriter. */
  ownership: Type.Optional(Type.String()),
  /** The bucket policy (PutBucketPolicy) as the JSON text it was given; absent: none. */
  policy: Type.Optional(Type.String()),
  /**
   * Object Lock (CreateBucket with x-amz-bucket-object-lock-enabled, PutObjectLockConfiguration): once
   * present the bucket keeps versioning Enabled for good; `defaultRetention` applies to new versions.
   */
  objectLock: Type.Optional(
    Type.Object({
      defaultRetention: Type.Optional(
        Type.Object({
          mode: Type.Union([Type.Literal('GOVERNANCE'), Type.Literal('COMPLIANCE')]),
          days: Type.Optional(Type.Integer({ minimum: 1 })),
          years: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
      ),
    }),
  ),
  /** S3's PublicAccessBlock switches (PutPublicAccessBlock); absent: none configured. */
  publicAccessBlock: Type.Optional(
    Type.Object({ blockPublicAcls: Type.Boolean(), ignorePublicAcls: Type.Boolean(), blockPublicPolicy: Type.Boolean(), restrictPublicBuckets: Type.Boolean() }),
  ),
  /** The bucket's lifecycle rules (PutBucketLifecycleConfiguration); absent: none. */
  lifecycle: Type.Optional(Type.Array(LifecycleRule)),
});
/** A bucket's record. */
export type BucketRecord = Static<typeof BucketRecord>;

/** One access key of a user: the id a request names and the secret that signs it. */
export const AccessKey = Type.Object({ accessKeyId: Type.String({ minLength: 1 }), secretAccessKey: Type.String({ minLength: 1 }), createdMs: Type.Number() });
/** One access key of a user. */
export type AccessKey = Static<typeof AccessKey>;

/**
 * A user's record (or a named identity policy's, see `policy`), kept on every node like a bucket record: the newest versionId per name wins, and
 * a removed user is a record with `deleted` set (so an older copy elsewhere cannot bring it back).
 */
export const UserRecord = Type.Object({
  name: WireName,
  versionId: VersionId,
  deleted: Type.Boolean(),
  /** The id ACLs and listings name the user by (64 hex digits, as S3's canonical user ids). */
  canonicalId: Type.String(),
  createdMs: Type.Number(),
  keys: Type.Array(AccessKey),
  /** Names of the identity policies attached to the user (`tessera admin policy attach`). */
  attached: Type.Optional(Type.Array(Type.String())),
  /**
   * Set on a named policy's record instead of a user's: its JSON document. Such records are named
   * `policy:NAME` (a name no user can have) and carry no keys.
   */
  policy: Type.Optional(Type.String()),
});
/** A user's record. */
export type UserRecord = Static<typeof UserRecord>;

/** Answer of GET /v1/users. */
export const UsersResponse = Type.Object({ users: Type.Array(UserRecord) });
/** Answer of GET /v1/users. */
export type UsersResponse = Static<typeof UsersResponse>;

/** Answer of GET /v1/buckets. */
export const BucketsResponse = Type.Object({ buckets: Type.Array(BucketRecord) });
/** Answer of GET /v1/buckets. */
export type BucketsResponse = Static<typeof BucketsResponse>;

/** Answer of PUT /v1/ring: whether the node adopted the ring (it was newer) and the epoch it now holds. */
export const RingOfferResponse = Type.Object({ adopted: Type.Boolean(), epoch: Count });
/** Answer of PUT /v1/ring. */
export type RingOfferResponse = Static<typeof RingOfferResponse>;

/** An empty answer (`{}`) of a call that only acknowledges. */
export const Acknowledged = Type.Object({});

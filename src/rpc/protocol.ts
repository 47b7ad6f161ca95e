/**
 * The gateway <-> storage node protocol: message shapes and paths.
 *
 * HTTP/1.1 with keep-alive. Every request is signed (see signing.ts). Object data moves as raw shard
 * bytes in request and response bodies; everything else is small JSON. Bucket and key travel in the
 * query string, never in the path, so no wire string ever becomes part of a file path on a node.
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
  buckets: '/v1/buckets',
  tags: '/v1/tags',
  ring: '/v1/ring',
  health: '/health',
  partitionDigest: '/v1/partitions/digest',
  partitionEntries: '/v1/partitions/entries',
  adminStatus: '/v1/admin/status',
  adminScrub: '/v1/admin/scrub',
} as const;

/** Reed-Solomon parameters an object was written with. */
export interface ErasureParams {
  dataShards: number;
  parityShards: number;
  /** Bytes of one shard's block in a full stripe; a stripe holds dataShards × blockSizeBytes of the body. */
  blockSizeBytes: number;
}

/** Identifies one shard of one object version. */
export interface ShardRef {
  bucket: string;
  key: string;
  versionId: string;
  shardIndex: number;
}

/** The metadata record of an object version; every node of the object's set stores it beside its shard. */
export interface ObjectRecord {
  bucket: string;
  key: string;
  versionId: string;
  /** A delete marker (tombstone): hides older versions and carries no data. */
  deleted: boolean;
  sizeBytes: number;
  /** Quoted, as S3 sends it. */
  etag: string;
  lastModifiedMs: number;
  contentType: string;
  /** x-amz-meta-* without the prefix, names lower-cased. */
  userMetadata: Record<string, string>;
  /** Stored response headers: cache-control, content-disposition, content-encoding, content-language, expires. */
  headers: Record<string, string>;
  /** Flexible checksums by algorithm name (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), base64. */
  checksums: Record<string, string>;
  erasure: ErasureParams;
  /**
   * Set on an object completed from a multipart upload: its body is the listed parts, in order, each an
   * erasure-coded version of its own. The manifest carries no shard; completion copies no data.
   */
  parts?: PartRef[];
  /** Set on a multipart upload's marker record: the bucket and key the upload will complete into. */
  upload?: UploadInfo;
  /** Object tags (S3 tagging), changed in place by POST /v1/tags without rewriting the version. */
  tags?: Record<string, string>;
  /** Orders in-place tag changes of one version (a version id); among records of the same version the greatest wins. */
  tagsRevision?: string;
  /** How a multipart object's checksum was built from its parts' (S3's ChecksumType); absent means FULL_OBJECT. */
  checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
}

/**
 * What a multipart upload's marker record remembers. While the upload is open the marker is a live
 * record-only version; completion and abort replace it with a tombstone (so every reader sees no
 * upload) that keeps this information plus how the upload ended, so a node holding parts can tell
 * garbage from parts a manifest uses. Closing markers written before `closed` existed carry no
 * `upload` at all: their parts cannot be judged and are kept.
 */
export interface UploadInfo {
  bucket: string;
  key: string;
  initiatedMs: number;
  /** Flexible-checksum algorithm every part must carry (x-amz-checksum-algorithm at creation). */
  checksumAlgorithm?: string;
  checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
  /** Set on the closing marker: the upload was aborted (by a client or by expiry) or completed. */
  closed?: UploadOutcome;
  /** When the closing marker was written. */
  closedMs?: number;
  /** On a completed upload's closing marker: the version of the manifest written at `bucket`/`key`. */
  manifestVersionId?: string;
}

/** How a multipart upload ended. */
export type UploadOutcome = 'aborted' | 'completed';

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

/** One part of a completed multipart object. */
export interface PartRef {
  partNumber: number;
  /** Internal bucket and key where the part is stored, and the version that was completed. */
  bucket: string;
  key: string;
  versionId: string;
  sizeBytes: number;
  etag: string;
  /** The part's flexible checksums, by algorithm (base64). */
  checksums?: Record<string, string>;
}

/** Body of POST /v1/commit: makes a prepared shard's version visible with its metadata, or writes a tombstone. */
export interface CommitRequest {
  record: ObjectRecord;
  /** Shard index this node holds; null for tombstones. */
  shardIndex: number | null;
  /** Set by repair: the node may already hold this version with a bad shard, which the prepared one replaces. */
  repair?: boolean;
}

/** Body of POST /v1/abort: drops a prepared, uncommitted shard. */
export interface AbortRequest {
  bucket: string;
  key: string;
  versionId: string;
  shardIndex: number;
}

/**
 * Body of POST /v1/tags: replaces the tags of a committed version in place (its data and other metadata
 * stay). A node applies it only while that version is its current one and the revision is newer.
 */
export interface TagUpdateRequest {
  bucket: string;
  key: string;
  versionId: string;
  tags: Record<string, string>;
  tagsRevision: string;
}

/** Answer of PUT /v1/shards once the shard is durable (fsynced) but not yet visible. */
export interface PrepareResponse {
  sizeBytes: number;
}

/** Answer of GET /v1/objects: this node's newest committed version of a key, and which shard of it it holds. */
export interface ObjectStatus {
  record: ObjectRecord;
  shardIndex: number | null;
  shardSizeBytes: number;
  /**
   * The shard's bytes (base64), verified against its checksums, when the caller asked for them and the
   * node keeps this shard inline: a small object's read then needs no second round.
   */
  inlineShard?: string;
}

/**
 * One call of POST /v1/batch. Small calls to one node travel together while the node is busy (see
 * call-batcher.ts); each is the same operation as its own route. A `prepare` carries a whole small
 * shard (base64), as PUT /v1/shards would stream it.
 */
export type BatchCall =
  | { op: 'prepare'; ref: ShardRef; erasure: ErasureParams; shard: string }
  | { op: 'commit'; request: CommitRequest }
  | { op: 'status'; bucket: string; key: string; withInlineShard: boolean };

/** Body of POST /v1/batch. */
export interface BatchRequest {
  calls: BatchCall[];
}

/** One call's outcome in a batch answer: its value (null for a key the node does not hold), or its wire error. */
export type BatchResult = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** Answer of POST /v1/batch: one result per call, in the order of the calls. */
export interface BatchResponse {
  results: BatchResult[];
}

/**
 * One row of a node's ordered listing: a key's newest version on that node, tombstones included
 * (a newer tombstone on one node hides an older live version on another, so the gateway decides).
 */
export interface ListEntry {
  key: string;
  record: ObjectRecord;
}

/** Answer of GET /v1/list. */
export interface ListResponse {
  entries: ListEntry[];
  /** True when the node stopped at `limit` and more entries follow the last one. */
  truncated: boolean;
}

/** Query of GET /v1/list. `after` is exclusive; when `afterIsPrefix` every key starting with it is skipped too. */
export interface ListQuery {
  bucket: string;
  prefix: string;
  after: string;
  afterIsPrefix: boolean;
  limit: number;
}

/** A bucket's record, kept on every node; the newest versionId per name wins. */
export interface BucketRecord {
  name: string;
  versionId: string;
  createdMs: number;
  deleted: boolean;
  /** The bucket's CORS rules (PutBucketCors); absent when none are configured. */
  cors?: CorsRule[];
  /** The bucket's tags (PutBucketTagging); absent when none are set. */
  tags?: Record<string, string>;
}

/** One CORS rule of a bucket, as S3's CORSRule. */
export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** Answer of GET /v1/buckets. */
export interface BucketsResponse {
  buckets: BucketRecord[];
}

/** Answer of PUT /v1/ring: whether the node adopted the ring (it was newer) and the epoch it now holds. */
export interface RingOfferResponse {
  adopted: boolean;
  epoch: number;
}

/** Answer of GET /health. */
export interface NodeHealth {
  nodeId: string;
  status: 'ok' | 'degraded';
  metadataStore: 'open' | 'closed';
  freeBytes: number;
  checksumFailures: number;
  /** Epoch of the newest ring the node holds; 0 when it has none. */
  ringEpoch: number;
  /** Shards waiting for repair (failed checksums or missing data). Absent from nodes older than this field. */
  quarantinedShards?: number;
  /** Shard writes refused for lack of space, and disk or LevelDB I/O errors, since start. */
  noSpaceRefusals?: number;
  ioErrors?: number;
  /** The node's capacity limit and the shard bytes counted against it; null when only the disk limits it. */
  capacityBytes?: number | null;
  usedBytes?: number | null;
  /** What start-up recovery removed: temporary files, stale prepared shards, orphan files; and files found missing. */
  recovery?: {
    tmpFilesRemoved: number;
    stalePreparedDropped: number;
    orphanFilesRemoved: number;
    missingFiles: number;
    completedMs: number;
  } | null;
  /** Prepared shards the node settled with its peers (committed or dropped) and those still undecided. */
  preparedResolver?: { passes: number; committed: number; discarded: number; expired: number; undecided: number; lastPassMs: number | null };
}

/** Answer of GET /v1/partitions/digest: a compact summary of the versions a node holds in one ring partition. */
export interface PartitionDigest {
  partition: number;
  count: number;
  /** SHA-256 over (bucket, key, version id, deleted) of every key in hash order; equal digests mean equal versions. */
  digest: string;
}

/** One key of a partition listing: the node's newest version of it and the shard it holds. */
export interface PartitionEntry {
  hashHex: string;
  bucket: string;
  key: string;
  record: ObjectRecord;
  shardIndex: number | null;
}

/** Where a partition listing resumes: the last entry of the previous page (exclusive). */
export interface PartitionCursor {
  hashHex: string;
  bucket: string;
  key: string;
}

/** Answer of GET /v1/partitions/entries. */
export interface PartitionEntriesResponse {
  entries: PartitionEntry[];
  truncated: boolean;
}

/** Answer of GET /v1/admin/status: a node's background work; the figures are the node's HealingSnapshot and runner states. */
export interface NodeWorkStatus {
  nodeId: string;
  ringEpoch: number;
  quarantinedShards: number;
  figures: Record<string, Record<string, unknown>>;
  workers: Record<string, Record<string, unknown>>;
}

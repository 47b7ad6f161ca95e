import Type, { type Static } from 'typebox';
import { ChecksumType, Count, ErasureParams, Grant, Strings, VersionId, WireName } from './wire-fields.js';

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
  /**
   * An upload another cluster sends as its replica (x-tessera-replica-version-id at creation): the
   * source's version id, which the completed object is committed under.
   */
  replicaVersionId: Type.Optional(VersionId),
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
 * sealed: under a cluster master key (SSE-S3), a version of a named KMS key (SSE-KMS), or under the customer's own key (SSE-C), which is never
 * stored; of that key only a keyed digest is kept, to tell a wrong key from a damaged body.
 */
export const ObjectEncryption = Type.Object({
  kind: Type.Union([Type.Literal('SSE-S3'), Type.Literal('SSE-C'), Type.Literal('SSE-KMS')]),
  /** The data key (AES-256), sealed (base64). */
  sealedKey: Type.String(),
  /** SSE-S3: the id of the master key that sealed the data key. */
  masterKeyId: Type.Optional(Type.String()),
  /** The body's random nonce (base64); absent on a record that holds no body (a multipart manifest or upload marker). */
  nonce: Type.Optional(Type.String()),
  /** SSE-C: the keyed digest of the customer key and the salt it was computed with (base64). */
  customerKeyDigest: Type.Optional(Type.String()),
  customerKeySalt: Type.Optional(Type.String()),
  /** SSE-KMS: the name of the KMS key and the version of it that sealed the data key. */
  kmsKeyName: Type.Optional(Type.String()),
  kmsKeyVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  /** SSE-KMS: the encryption context the write gave (canonical JSON), bound into the data key's seal. */
  kmsContext: Type.Optional(Type.String()),
  /** SSE-KMS: the write asked for an S3 Bucket Key (only echoed: keys are local, there are no KMS calls to save). */
  bucketKey: Type.Optional(Type.Boolean()),
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

/** A version's replication status (see ObjectRecord.replicationStatus). */
export const ReplicationStatus = Type.Union([Type.Literal('PENDING'), Type.Literal('COMPLETED'), Type.Literal('FAILED'), Type.Literal('REPLICA')]);
/** A version's replication status. */
export type ReplicationStatus = Static<typeof ReplicationStatus>;

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
  /**
   * Bucket replication (docs/replication.md), answered as `x-amz-replication-status`: PENDING while a
   * replication rule's change of this version waits for delivery, then COMPLETED or FAILED (rewritten in
   * place by the delivery's outcome, without a new revision); REPLICA on a version another cluster
   * replicated here, which never replicates again. Absent: no rule selected it.
   */
  replicationStatus: Type.Optional(ReplicationStatus),
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

import { shardRefOf, type ObjectRecord, type ObjectStatus, type ShardRef } from '../../rpc/index.js';

/** The newest committed version of a key on a node, and where this node keeps its shard. */
export interface StoredObject {
  record: ObjectRecord;
  shardIndex: number | null;
  shardSizeBytes: number;
  /** Shard file name under the node's shard directory; null for tombstones and inline shards. */
  file: string | null;
  /** True when the shard is the `d` row of this version. */
  inline?: boolean;
}

/** What a version mark row says of one version (metadata-schema.ts): enough for a partition digest. */
export interface VersionMark {
  bucket: string;
  key: string;
  versionId: string;
  /** True for a delete marker. */
  deleted: boolean;
}

/** A prepared (durable, invisible) shard awaiting commit or abort. */
export interface PreparedShard {
  /** Shard file name; null when the shard is inline. */
  file: string | null;
  inline?: boolean;
  shardSizeBytes: number;
  preparedMs: number;
}

/** A prepared shard with its identity, as start-up recovery and garbage collection see it. */
export type PreparedRow = PreparedShard & ShardRef;

/** Why a shard was quarantined. */
export type QuarantineReason = 'checksum' | 'missing';

/** A shard this node can no longer serve, waiting for repair. */
export interface QuarantineEntry extends ShardRef {
  reason: QuarantineReason;
  detail: string;
  detectedMs: number;
}

/** A version deleted by id: the per-version tombstone (`x` row). */
export interface VersionGone {
  bucket: string;
  key: string;
  versionId: string;
  deletedMs: number;
  /** The delete bypassed GOVERNANCE retention (the requester was allowed to): its spread by audits may too. */
  bypassGovernance?: boolean;
}

/** A row of a node's version listing: a version it holds, or (`gone`) one it knows was deleted by id. */
export type VersionListRow = StoredObject & { gone?: true; rollup?: string };

/** A page of a node's version listing; `resume` as in ListedRows, within a key's versions when it names one. */
export interface VersionListRows {
  entries: VersionListRow[];
  truncated: boolean;
  resume?: { after: string; afterIsPrefix: boolean; afterVersion?: string } | undefined;
}

/** A row of a node's object listing; with a delimiter, `rollup` names the common prefix it stands for. */
export type ListedRow = StoredObject & { rollup?: string };

/**
 * A page of a node's object listing. `resume`: where the next page starts when the page stopped
 * before its last row was reached (a rolled-up page that passed over many tombstones), rather than
 * after its last entry.
 */
export interface ListedRows {
  entries: ListedRow[];
  truncated: boolean;
  resume?: { after: string; afterIsPrefix: boolean } | undefined;
}

/** A version row of a partition listing and where the listing resumes after it. */
export interface PartitionVersionRow extends HashIndexEntry {
  stored: StoredObject;
}

/** Where a partition's version or tombstone listing resumes: the last row of the previous page (exclusive). */
export interface VersionCursor extends HashIndexEntry {
  versionId: string;
}

/** Where a walk of version rows in row order resumes: the last row read (exclusive). */
export interface VersionRowCursor {
  bucket: string;
  key: string;
  versionId: string;
}

/** A key in the placement index. */
export interface HashIndexEntry {
  hashHex: string;
  bucket: string;
  key: string;
}

/** The shard a stored object's row points to, if it holds one. */
export function storedRef(stored: StoredObject): ShardRef | null {
  if (stored.shardIndex === null) return null;
  return shardRefOf(stored.record, stored.shardIndex);
}


/**
 * A stand-in record of a version deleted by id, for listings and lookups that must say "deleted": no
 * data, no shard; readers drop it and every copy of the version it names.
 */
export function goneRecord(gone: VersionGone): ObjectRecord {
  const { bucket, key, versionId } = gone;
  return { bucket, key, versionId, deleted: true, sizeBytes: 0, etag: '""', lastModifiedMs: gone.deletedMs, contentType: '', userMetadata: {}, headers: {}, checksums: {}, erasure: { dataShards: 1, parityShards: 0, blockSizeBytes: 1 }, versioning: 'Enabled' };
}

/** Converts a stored row to the wire answer of GET /v1/objects. */
export function toObjectStatus(stored: StoredObject): ObjectStatus {
  return { record: stored.record, shardIndex: stored.shardIndex, shardSizeBytes: stored.shardSizeBytes };
}

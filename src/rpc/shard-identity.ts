import type { ObjectRecord } from './object-record.js';
import type { ShardRef } from './wire-fields.js';

/**
 * The id a shard is stored under: its version's data id when the version was committed under a later
 * id than its shards were prepared under, else the version id itself.
 */
export function shardDataId(ref: Pick<ShardRef, 'versionId' | 'dataId'>): string {
  return ref.dataId ?? ref.versionId;
}

/** The reference of shard `shardIndex` of a committed version: its version id, and its data id when that differs. */
export function shardRefOf(record: Pick<ObjectRecord, 'bucket' | 'key' | 'versionId' | 'dataId'>, shardIndex: number): ShardRef {
  const ref: ShardRef = { bucket: record.bucket, key: record.key, versionId: record.versionId, shardIndex };
  if (record.dataId !== undefined && record.dataId !== record.versionId) ref.dataId = record.dataId;
  return ref;
}

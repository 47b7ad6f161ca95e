import { placementHashHex } from '../../placement/index.js';
import { shardDataId, type ObjectRecord, type ShardRef } from '../../rpc/index.js';
import { ROW, newestFirst, rowKey } from '../metadata-keys.js';
import type { PreparedRow } from './stored-object.js';

/** A row value: JSON as UTF-8. */
export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** A row value read back. */
export function parse<T>(value: Buffer): T {
  return JSON.parse(value.toString('utf8')) as T;
}

/** A shard's row-key parts: named by the id its data was written under (shardDataId), like its file. */
export function shardParts(ref: ShardRef): string[] {
  return [ref.bucket, ref.key, shardDataId(ref), String(ref.shardIndex)];
}

/** The shard a row key's parts name. */
export function refOf(parts: readonly string[]): ShardRef {
  return { bucket: parts[0] ?? '', key: parts[1] ?? '', versionId: parts[2] ?? '', shardIndex: Number(parts[3]) };
}

/** A prepared row's shard, without its prepared fields. */
export function refFromRow(row: PreparedRow): ShardRef {
  return { bucket: row.bucket, key: row.key, versionId: row.versionId, shardIndex: row.shardIndex };
}

/** The version row of a record. */
export function versionKey(record: ObjectRecord): Buffer {
  return rowKey(ROW.version, record.bucket, record.key, newestFirst(record.versionId));
}

/** The version mark of a record: its version row's key in placement-hash order (metadata-schema.ts). */
export function versionMarkKey(record: ObjectRecord, hashHex = placementHashHex(record.bucket, record.key)): Buffer {
  return rowKey(ROW.versionMark, hashHex, record.bucket, record.key, newestFirst(record.versionId));
}

/** A version mark's value: the delete-marker flag, then the version id. */
export function versionMarkValue(record: ObjectRecord): Buffer {
  return Buffer.from(`${record.deleted ? 1 : 0}${record.versionId}`, 'utf8');
}

/** The tombstone row of a version deleted by id. */
export function goneKey(gone: { bucket: string; key: string; versionId: string }): Buffer {
  return rowKey(ROW.versionGone, placementHashHex(gone.bucket, gone.key), gone.bucket, gone.key, gone.versionId);
}

/** The listing-order row of a version tombstone. */
export function goneByKey(gone: { bucket: string; key: string; versionId: string }): Buffer {
  return rowKey(ROW.versionGoneByKey, gone.bucket, gone.key, newestFirst(gone.versionId));
}

/** The same range bounds over another row kind (rows whose keys match after the kind byte). */
export function swapKind(options: { gt?: Buffer; gte?: Buffer; lt: Buffer }, kind: string): { gt?: Buffer; gte?: Buffer; lt: Buffer } {
  const swap = (key: Buffer): Buffer => Buffer.concat([Buffer.from(kind, 'latin1'), key.subarray(1)]);
  return {
    ...(options.gt === undefined ? {} : { gt: swap(options.gt) }),
    ...(options.gte === undefined ? {} : { gte: swap(options.gte) }),
    lt: swap(options.lt),
  };
}

/**
 * Compares two names in UTF-8 byte order, the index's order. JavaScript's `<` compares UTF-16 code
 * units, which sort U+E000..U+FFFF after the surrogates of characters above U+FFFF.
 */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A placement hash as the 16 hex digits row keys hold. */
export function hex16(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

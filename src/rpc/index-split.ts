import Type, { type Static } from 'typebox';
import { IndexOp, indexShardFor, type IndexShardMap } from './bucket-index.js';
import type { BucketRecord } from './bucket-record.js';
import { WireName } from './wire-fields.js';

/*
 * Splitting a bucket index shard (docs/bucket-index.md, "Growing"): the stages a split goes through in
 * the bucket record, which shards a write goes to meanwhile, and the node calls that copy and drop rows.
 */

/** A bucket's index as its record holds it. */
export type BucketIndex = NonNullable<BucketRecord['index']>;
/** The split under way in a bucket's index. */
export type IndexSplit = NonNullable<BucketIndex['split']>;

/** The key range of shard `id` under `index`'s shard map: from its first key to the next shard's (none: to the end). */
export function indexShardRange(index: IndexShardMap, id: number): { from: string; before: string | undefined } {
  const at = index.shards.findIndex((shard) => shard.id === id);
  const shard = index.shards[at];
  if (shard === undefined) throw new Error(`no index shard ${id}`);
  return { from: shard.from, before: index.shards[at + 1]?.from };
}

/**
 * The shards a write of `key` announces its intent to and settles on: the shard holding it, and while
 * a split of that range is copying or newly published, the other side of the split too, so the shard
 * readers use is complete whichever of the two their cached record names.
 */
export function indexShardsForWrite(index: BucketIndex, key: string): number[] {
  const holder = indexShardFor(index, key);
  const split = index.split;
  if (split === undefined || split.stage === 'retiring') return [holder];
  if (holder === split.id) return [split.id, split.parent];
  if (holder === split.parent && Buffer.compare(Buffer.from(key, 'utf8'), Buffer.from(split.from, 'utf8')) >= 0) return [split.parent, split.id];
  return [holder];
}

/**
 * How far an index has come: each split moves it through copying, published (the new shard in the
 * map), retiring, and done (no split). Nodes keep the index that has come furthest whatever record
 * carries it, so a bucket change built from a record cached before a split's step cannot undo it.
 */
export function indexProgress(index: BucketIndex): number {
  const stage = index.split?.stage;
  const offset = stage === 'copying' ? 1 : stage === 'published' ? -2 : stage === 'retiring' ? -1 : 0;
  return 4 * index.shards.length + offset;
}

/**
 * `incoming`, carrying the index of `held` when it has come further (same incarnation of the bucket).
 * An uploads index, once a bucket has one, is never dropped by a record built before it was added:
 * uploads begun meanwhile would be missing from it.
 */
export function withFurthestIndex(incoming: BucketRecord, held: BucketRecord): BucketRecord {
  if (incoming.createdMs !== held.createdMs || incoming.deleted || held.index === undefined) return incoming;
  const index = incoming.index !== undefined && indexProgress(incoming.index) >= indexProgress(held.index) ? incoming.index : held.index;
  const uploads = index.uploads === true || held.index.uploads === true;
  if (index === incoming.index && uploads === (index.uploads === true)) return incoming;
  return { ...incoming, index: uploads ? { ...index, uploads: true } : index };
}

/** Most rows one export page holds. */
export const MAX_INDEX_EXPORT_ROWS = 1_000;

/** Query of GET /v1/index/export: rows of keys in [from, before) after row `after` (hex of a row key; absent: from the first). */
export interface IndexExportQuery {
  bucket: string;
  incarnation: number;
  from: string;
  before?: string | undefined;
  after?: string | undefined;
  limit: number;
}

/** Answer of GET /v1/index/export: the rows as the changes that would write them on another replica, and where the next page starts. */
export const IndexExportResponse = Type.Object({ ops: Type.Array(IndexOp, { maxItems: MAX_INDEX_EXPORT_ROWS }), next: Type.Union([Type.String({ pattern: '^[0-9a-f]+$', maxLength: 8_192 }), Type.Null()]) });
/** Answer of GET /v1/index/export. */
export type IndexExportResponse = Static<typeof IndexExportResponse>;

/** Body of POST /v1/index/drop: every row of the keys in [from, before) of one bucket incarnation's index. */
export const IndexDropRequest = Type.Object({
  bucket: WireName,
  incarnation: Type.Integer({ minimum: 0 }),
  from: Type.String({ minLength: 1 }),
  before: Type.Optional(Type.String({ minLength: 1 })),
});
/** Body of POST /v1/index/drop. */
export type IndexDropRequest = Static<typeof IndexDropRequest>;

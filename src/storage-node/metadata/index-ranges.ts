import type { ClassicLevel } from 'classic-level';
import type { IndexEntry, IndexExportResponse, IndexOp, IndexShardBounds } from '../../rpc/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, afterPrefix, rowKey } from '../metadata-keys.js';
import { TAG, parseRow, type GoneValue, type IntentValue } from './index-row-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { parse } from './row-keys.js';

/*
 * Key ranges of a bucket incarnation's index rows: what a shard split counts, copies and drops
 * (docs/bucket-index.md, "Growing"), and the bounds a listing of one shard keeps to. A node holding
 * replicas of several shards of a bucket keeps their rows side by side, ordered by key.
 */

/** Rows one drop batch deletes. */
const DROP_BATCH_ROWS = 1_000;

/** The first row key of a bucket incarnation's index. */
export function indexScope(bucket: string, incarnation: number): Buffer {
  return rowKey(ROW.index, bucket, String(incarnation), '');
}

/** The iterator bounds of keys in [from, before) under `scope`. */
export function boundsOf(scope: Buffer, bounds: IndexShardBounds): { gte: Buffer; lt: Buffer } {
  return {
    gte: Buffer.concat([scope, Buffer.from(bounds.from ?? '', 'utf8')]),
    lt: bounds.before === undefined ? afterPrefix(scope) : Buffer.concat([scope, Buffer.from(bounds.before, 'utf8')]),
  };
}

/** `range` narrowed to a shard's keys (see IndexShardBounds). */
export function clampToShard(range: { gte: Buffer; lt: Buffer }, scope: Buffer, bounds: IndexShardBounds): { gte: Buffer; lt: Buffer } {
  const shard = boundsOf(scope, bounds);
  return { gte: Buffer.compare(range.gte, shard.gte) >= 0 ? range.gte : shard.gte, lt: Buffer.compare(range.lt, shard.lt) <= 0 ? range.lt : shard.lt };
}

/**
 * Up to `limit` rows of keys in [from, before) after row `after` (hex; absent: from the first), as the
 * changes that would write them on another replica, and where the next page starts (null at the end).
 */
export async function exportRange(db: ClassicLevel<Buffer, Buffer>, query: { bucket: string; incarnation: number; from: string; before?: string | undefined; after?: string | undefined; limit: number }): Promise<IndexExportResponse> {
  const scope = indexScope(query.bucket, query.incarnation);
  const range = boundsOf(scope, query);
  const after = query.after === undefined ? undefined : Buffer.from(query.after, 'hex');
  const options = after === undefined || Buffer.compare(after, range.gte) < 0 ? { gte: range.gte, lt: range.lt, limit: query.limit } : { gt: after, lt: range.lt, limit: query.limit };
  const ops: IndexOp[] = [];
  let last: Buffer | undefined;
  for await (const [key, value] of db.iterator(options)) {
    last = key;
    const row = parseRow(key, scope.length);
    const at = { bucket: query.bucket, incarnation: query.incarnation, key: row.key };
    if (row.tag === TAG.version) ops.push({ op: 'settle', ...at, entry: parse<IndexEntry>(value) });
    else if (row.tag === TAG.gone) ops.push({ op: 'settle', ...at, gone: row.suffix, ...(parse<GoneValue>(value).ends === true ? { replaces: true } : {}) });
    else if (row.tag === TAG.intent) ops.push({ op: 'intent', ...at, id: row.suffix, expiresMs: parse<IntentValue>(value).expiresMs });
  }
  return { ops, next: last === undefined || ops.length < query.limit ? null : last.toString('hex') };
}

/** Deletes every row of keys in [from, before), in batches that are not synced (a crash leaves rows a later drop removes). */
export async function dropRange(meta: MetadataDb, query: { bucket: string; incarnation: number; from: string; before?: string | undefined }): Promise<number> {
  const range = boundsOf(indexScope(query.bucket, query.incarnation), query);
  let dropped = 0;
  for (;;) {
    const batch = new MetadataBatch();
    for await (const key of meta.db.keys({ ...range, limit: DROP_BATCH_ROWS })) batch.del(key);
    if (batch.length === 0) return dropped;
    await meta.writeUnsynced(batch);
    dropped += batch.length;
  }
}

/** Row keys one step of walkKeys reads. */
const WALK_BATCH_ROWS = 1_000;

/**
 * Walks the keys in [from, before) in order, until `visit` says stop (it gets each key and how many came
 * before it). Returns how many keys it visited. Rows are read in batches and a key's further rows passed
 * over: a key has a row or two, and a batch costs about what one seek does (20,000 keys: 0.13 s of CPU,
 * against 2.5 s with a seek per key). A key whose rows fill a whole batch (thousands of versions) is
 * skipped with one seek past them.
 */
export async function walkKeys(db: ClassicLevel<Buffer, Buffer>, bucket: string, incarnation: number, bounds: IndexShardBounds, visit: (key: string, before: number) => boolean): Promise<number> {
  const scope = indexScope(bucket, incarnation);
  const iterator = db.iterator({ ...boundsOf(scope, bounds), values: false });
  let count = 0;
  let last: string | undefined;
  try {
    for (;;) {
      const batch = await iterator.nextv(WALK_BATCH_ROWS);
      if (batch.length === 0) return count;
      let keyEnd = 0;
      let lastRow: Buffer | undefined;
      for (const [rowKeyBytes] of batch) {
        const row = parseRow(rowKeyBytes, scope.length);
        lastRow = rowKeyBytes;
        keyEnd = row.keyEnd;
        if (row.key === last) continue;
        last = row.key;
        const goOn = visit(row.key, count);
        count += 1;
        if (!goOn) return count;
      }
      // Every row of the batch was the same key's: past the rest of them, `key 00 FF` sorts after every
      // `key 00 tag …` and before any longer key.
      if (batch.length === WALK_BATCH_ROWS && lastRow !== undefined && parseRow(batch[0]![0], scope.length).key === last) {
        iterator.seek(Buffer.concat([lastRow.subarray(0, keyEnd), Buffer.of(0x00, 0xff)]));
      }
    }
  } finally {
    await iterator.close();
  }
}

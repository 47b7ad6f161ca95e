import type { ShardRef } from '../../rpc/index.js';
import type { MetadataBatch } from '../group-commit.js';
import { ROW, rowKey } from '../metadata-keys.js';
import { goneByKey, goneKey, json, shardParts, versionKey, versionMarkKey, versionMarkValue } from './row-keys.js';
import { storedRef, type StoredObject, type VersionGone } from './stored-object.js';

/* Row changes that more than one row family makes in its batches. */

/** Writes both rows of a version tombstone. */
export function putGone(batch: MetadataBatch, gone: VersionGone): void {
  const value = json(gone);
  batch.put(goneKey(gone), value).put(goneByKey(gone), value);
}

/**
 * Writes (or rewrites) a version's row, `value` being its StoredObject JSON, and its version mark;
 * `hashHex` is the key's placement hash when the caller has it already.
 */
export function putVersion(batch: MetadataBatch, stored: StoredObject, value: Buffer, hashHex?: string): MetadataBatch {
  return batch.put(versionKey(stored.record), value).put(versionMarkKey(stored.record, hashHex), versionMarkValue(stored.record));
}

/** Drops a version's row, its version mark and its shard data from `batch` (a quarantine row left behind is cleared by repair, which finds the version gone). */
export function dropVersionRows(batch: MetadataBatch, stored: StoredObject): MetadataBatch {
  batch.del(versionKey(stored.record)).del(versionMarkKey(stored.record));
  const ref = storedRef(stored);
  if (ref !== null) dropShardData(batch, ref, stored);
  return batch;
}

/**
 * Puts into a commit's batch, first so that any delete in it wins, the rows the committed shard needs
 * besides its version rows: its file's registry row, or its inline image when the caller read it with
 * the prepared row. The prepare wrote them unsynced, counting on the commit's sync; but LevelDB syncs
 * only its current log, and one it switched away from (its memtable full) stays unsynced until that
 * memtable is flushed. A power cut in between could keep the commit and lose the prepare: start-up
 * recovery would then remove the file as an orphan, or the inline shard would be gone.
 */
export function carryShardRows(batch: MetadataBatch, stored: StoredObject, image: Buffer | undefined): MetadataBatch {
  const ref = storedRef(stored);
  if (ref === null) return batch;
  if (stored.file !== null) batch.put(rowKey(ROW.file, stored.file), json(ref));
  if (stored.inline === true && image !== undefined) batch.put(rowKey(ROW.inline, ...shardParts(ref)), image);
  return batch;
}

/** Drops a shard's bytes from `batch`: its inline image or its file's registry row. */
export function dropShardData(batch: MetadataBatch, ref: ShardRef, holder: { file: string | null; inline?: boolean }): void {
  if (holder.inline === true) batch.del(rowKey(ROW.inline, ...shardParts(ref)));
  if (holder.file !== null) batch.del(rowKey(ROW.file, holder.file));
}

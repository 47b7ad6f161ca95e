import { placementHashHex } from '../../placement/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, kindRange, rowKey } from '../metadata-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { putVersion } from './row-batches.js';
import { json, parse, refFromRow, versionMarkKey, versionMarkValue } from './row-keys.js';
import type { ShardRows } from './shard-rows.js';
import { storedRef, type StoredObject } from './stored-object.js';

/**
 * LevelDB layout of a node's metadata (schema 5). Keys are bytes: a one-letter kind, then parts each
 * after a 0x00 (metadata-keys.ts); since names never hold 0x00 or 0xFF, a bucket's keys sort in
 * UTF-8 byte order, which is S3's listing order. `ver` is a 24-character version id (HLC time then
 * writer, taken when the write commits, so text order is commit order); `data` is the id a version's
 * shards were prepared under (the record's `dataId`, or its version id when it has none: records
 * written before commit-time ids, record-only versions); `shard` is the decimal shard index.
 *
 *   o 00 bucket 00 key                    -> StoredObject JSON. The per-bucket ordered index listing walks,
 *                                            and the version record: the newest committed version of the
 *                                            key on this node (live or tombstone) and the shard it holds.
 *   v 00 bucket 00 key 00 nf(ver)         -> StoredObject JSON of every version the node keeps of the key,
 *                                            the current one (the `o` row's) included; nf() turns the id
 *                                            so that a key's versions sort newest first (S3's version
 *                                            listing order). Noncurrent versions exist only where the
 *                                            bucket's versioning kept them; their shard data stays in
 *                                            its `d` row or file until the version is deleted.
 *   w 00 hash 00 bucket 00 key 00 nf(ver) -> the version mark: "1" for a delete marker or "0", then the
 *                                            version id. Written and dropped with its `v` row in the same
 *                                            batch (schema 5), so a partition's versions are one range in
 *                                            the order its digest hashes them, read without a seek a key.
 *   h 00 hash 00 bucket 00 key            -> empty. The placement index the scrubber walks: `hash` is
 *                                            placementHash(bucket, key) as 16 hex digits, so the keys of
 *                                            ring partition P (of B bits) are the range of hashes
 *                                            [P << (64-B), (P+1) << (64-B)), whatever B the ring uses.
 *                                            Exists exactly when the `o` row does.
 *   p 00 bucket 00 key 00 data 00 shard   -> PreparedShard JSON: a durable shard that is not visible yet.
 *   d 00 bucket 00 key 00 data 00 shard   -> an inline shard's image (the shard-file format, checksummed
 *                                            chunks and all) for shards at most the inline threshold.
 *                                            Written with its `p` row; deleted with the last row that
 *                                            points to it, in the same batch.
 *   f 00 file                             -> ShardRef JSON: the registry of shard files under shards/, and
 *                                            of shard images in segments (`seg/<segment>/<offset>/<length>`,
 *                                            schema 4: a segment's images are one range, in offset order).
 *                                            Written in the batch that first points to the file, deleted
 *                                            in the batch that drops the last pointer; the file itself
 *                                            is removed after that batch. So at start-up a file without
 *                                            an `f` row is garbage, and an `f` row without a file is a
 *                                            lost shard.
 *   q 00 bucket 00 key 00 data 00 shard   -> QuarantineEntry JSON: a shard that failed its checksums or
 *                                            went missing, for the repair worker to rebuild from the
 *                                            other nodes; repair deletes the row when the shard is good.
 *   x 00 hash 00 bucket 00 key 00 ver    -> VersionGone JSON: a version deleted by id (S3's DELETE with a
 *                                            versionId, lifecycle's expiry). Written by every delete of
 *                                            the version, held or not, so a commit of it (a repair, a late
 *                                            write) is refused and audits remove it from a member that
 *                                            missed the delete. Keyed by placement hash like `h`, so a
 *                                            partition's rows are one range; collected after a grace.
 *   y 00 bucket 00 key 00 nf(ver)         -> VersionGone JSON: the same tombstone in version-listing order, written
 *                                            and dropped with its `x` row, so a version listing shows
 *                                            what this node knows is deleted beside what it holds.
 *   b 00 bucket                           -> BucketRecord JSON (the newest version id wins).
 *   u 00 user name                        -> UserRecord JSON (the newest version id wins).
 *   i 00 bucket 00 inc 00 key 00 g 00 ver -> a bucket index replica's row (index-rows.ts, docs/bucket-index.md):
 *        ... 00 key 00 i 00 write             `g` a version deleted by id, `i` a write in flight (its intent),
 *        ... 00 key 00 v 00 nf(ver)            `v` the IndexEntry JSON of a committed version; `inc` is the
 *                                            bucket's incarnation (its record's createdMs).
 *   c 00 l 00 seq                         -> the change log (change-rows.ts, docs/events.md): a change a
 *   c 00 i 00 id -> seq                      commit carried a note of, logged in the commit's batch; `seq`
 *   c 00 d 00 id                             is the node's own (16 hex digits); `i` finds a change by id,
 *                                            `d` says it was delivered (kept a day).
 *   n 00 name                             -> node-local state: `schema` (this layout's version), and
 *                                            `cursor/<worker>`: where a background worker resumes after a restart.
 *
 * A version becomes visible only in the synced batch that writes its `o` row, removes its `p` row
 * and drops the rows of the version it replaces. Listing reads `o` rows only; shard bytes live in
 * `d` rows or files, so a listing page never loads object data.
 */
export const METADATA_SCHEMA_VERSION = 5;

/** The layout version a database records, and the migration that brings an older one to METADATA_SCHEMA_VERSION. */
export class MetadataSchema {
  private readonly meta: MetadataDb;
  private readonly shards: ShardRows;

  constructor(meta: MetadataDb, shards: ShardRows) {
    this.meta = meta;
    this.shards = shards;
  }

  /** The schema version recorded in the database; 1 for a database written before the version row existed, 0 when empty. */
  async schemaVersion(): Promise<number> {
    const value = await this.meta.db.get(rowKey(ROW.node, 'schema'));
    if (value !== undefined) return Number(value.toString('utf8'));
    for await (const _ of this.meta.db.keys({ ...kindRange(ROW.object), limit: 1 })) return 1;
    for await (const _ of this.meta.db.keys({ ...kindRange(ROW.prepared), limit: 1 })) return 1;
    return 0;
  }

  /**
   * Brings an older database to this layout: adds the placement index and file registry rows that
   * schema 1 lacked (without them start-up recovery would take every file for garbage), and the
   * version marks that schema 4 lacked.
   */
  async migrate(): Promise<void> {
    const version = await this.schemaVersion();
    if (version === METADATA_SCHEMA_VERSION) return;
    if (version > METADATA_SCHEMA_VERSION) throw new Error(`metadata schema ${version} is newer than this node (${METADATA_SCHEMA_VERSION})`);
    let batch = new MetadataBatch();
    const flushEvery = async (): Promise<void> => {
      if (batch.length < 1000) return;
      await this.meta.write(batch);
      batch = new MetadataBatch();
    };
    // Schema 4 only adds a form of file name (segment places), which no older row holds.
    if (version < 3) {
      for await (const value of this.meta.db.values(kindRange(ROW.object))) {
        const stored = parse<StoredObject>(value);
        const { bucket, key } = stored.record;
        // Schema 3: every current version has its version row too.
        putVersion(batch, stored, value);
        if (version < 2) {
          batch.put(rowKey(ROW.hashIndex, placementHashHex(bucket, key), bucket, key), Buffer.alloc(0));
          const ref = storedRef(stored);
          if (ref !== null && stored.file !== null) batch.put(rowKey(ROW.file, stored.file), json(ref));
        }
        await flushEvery();
      }
    }
    if (version < 2) {
      for await (const row of this.shards.preparedShards()) {
        if (row.file !== null) batch.put(rowKey(ROW.file, row.file), json(refFromRow(row)));
        await flushEvery();
      }
    }
    if (version < 5) {
      await this.meta.write(batch);
      batch = new MetadataBatch();
      await this.addVersionMarks();
    }
    batch.put(rowKey(ROW.node, 'schema'), Buffer.from(String(METADATA_SCHEMA_VERSION)));
    await this.meta.write(batch);
  }

  /**
   * Schema 5: a version mark for every version row (those the steps above wrote have theirs). A
   * thousand marks a LevelDB batch, unsynced, then made durable together by compacting their range,
   * which first flushes LevelDB's memtable to a synced table; only then is the schema row written.
   * A synced batch each took 38 s for 200,000 versions on a busy 2-core virtual machine, where
   * reading them took 7 s.
   */
  private async addVersionMarks(): Promise<void> {
    const versions = this.meta.db.values(kindRange(ROW.version));
    try {
      for (let values = await versions.nextv(1000); values.length > 0; values = await versions.nextv(1000)) {
        await this.meta.db.batch(
          values.map((value) => {
            const { record } = parse<StoredObject>(value);
            return { type: 'put' as const, key: versionMarkKey(record), value: versionMarkValue(record) };
          }),
        );
      }
    } finally {
      await versions.close();
    }
    const marks = kindRange(ROW.versionMark);
    await this.meta.db.compactRange(marks.gte, marks.lt);
  }
}

import { placementHashHex } from '../../placement/index.js';
import type { ListQuery, ObjectRecord, ShardRef, VersionListQuery } from '../../rpc/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, afterPrefix, kindRange, newestFirst, prefixRange, rowKey } from '../metadata-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { carryShardRows, dropVersionRows, putGone, putVersion } from './row-batches.js';
import { byteOrder, json, parse, shardParts, swapKind, versionKey } from './row-keys.js';
import { countVersion } from './usage-rows.js';
import { goneRecord, storedRef, type ListedRow, type ListedRows, type PreparedShard, type StoredObject, type VersionGone, type VersionListRow, type VersionListRows, type VersionRowCursor } from './stored-object.js';

/** Most rows one rolled-up listing page reads (tombstones under prefixes are read and passed over). */
const ROLLUP_SCAN_ROWS = 4_096;

/** A row another family asks a commit to write in its batch (a bucket index intent). */
/** A row of another family a batch writes too; `value` null deletes it. */
export interface ExtraRow {
  key: Buffer;
  value: Buffer | null;
}

function withRows(batch: MetadataBatch, rows: readonly ExtraRow[] | undefined): MetadataBatch {
  for (const row of rows ?? []) {
    if (row.value === null) batch.del(row.key);
    else batch.put(row.key, row.value);
  }
  return batch;
}

/** A LevelDB key range. */
type RowRange = { gt: Buffer; lt: Buffer } | { gte: Buffer; lt: Buffer };

/** Committed object rows of the node's metadata: each key's current version (`o`), its versions (`v`) and the placement index row (`h`) that goes with them. */
export class ObjectRows {
  private readonly meta: MetadataDb;

  constructor(meta: MetadataDb) {
    this.meta = meta;
  }

  /** The newest committed version of a key on this node. */
  async getObject(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    const value = await this.meta.cachedGet(rowKey(ROW.object, bucket, objectName));
    return value === undefined ? undefined : parse<StoredObject>(value);
  }

  /**
   * A key's committed row and one shard's prepared row, read together: one snapshot, one trip through
   * libuv's pool instead of two (a commit needs both).
   */
  async getObjectAndPrepared(ref: ShardRef): Promise<{ stored: StoredObject | undefined; prepared: PreparedShard | undefined; image: Buffer | undefined }> {
    const keys = [rowKey(ROW.object, ref.bucket, ref.key), rowKey(ROW.prepared, ...shardParts(ref)), rowKey(ROW.inline, ...shardParts(ref))];
    const heldObject = this.meta.heldRow(keys[0] as Buffer);
    const heldPrepared = this.meta.heldRow(keys[1] as Buffer);
    if (heldObject !== undefined && heldPrepared !== undefined) {
      // Both held (the prepare just wrote its row, the key's row was read or written lately): only an
      // inline shard's commit needs its image (carryShardRows), so a segment or file shard reads nothing.
      const prepared = heldPrepared === null ? undefined : parse<PreparedShard>(heldPrepared);
      return {
        stored: heldObject === null ? undefined : parse<StoredObject>(heldObject),
        prepared,
        image: prepared?.inline === true ? await this.meta.cachedGet(keys[2] as Buffer) : undefined,
      };
    }
    const [stored, prepared, image] = await this.meta.cachedGetMany(keys);
    return {
      stored: stored === undefined ? undefined : parse<StoredObject>(stored),
      prepared: prepared === undefined ? undefined : parse<PreparedShard>(prepared),
      image,
    };
  }

  /**
   * Reads a key's committed row and one shard's prepared row into the row cache in one trip through
   * libuv's pool, when either is not held: a segment shard's prepare then asks for each (the guard's
   * look at the key, the earlier prepared row it replaces) without a read of its own.
   */
  async warmPrepared(ref: ShardRef): Promise<void> {
    const keys = [rowKey(ROW.object, ref.bucket, ref.key), rowKey(ROW.prepared, ...shardParts(ref))];
    if (keys.every((key) => this.meta.heldRow(key) !== undefined)) return;
    await this.meta.cachedGetMany(keys);
  }

  /**
   * A key's committed row and, when the shard `ref` is inline, its image, read together from one
   * snapshot (a read of an inline shard needs both; a file shard's read just finds no image).
   */
  async getObjectAndInline(ref: ShardRef): Promise<{ stored: StoredObject | undefined; image: Buffer | undefined }> {
    const keys = [rowKey(ROW.version, ref.bucket, ref.key, newestFirst(ref.versionId)), rowKey(ROW.object, ref.bucket, ref.key), rowKey(ROW.inline, ...shardParts(ref))];
    // The current version's row, held by the row cache, is its version row too (both are written with
    // one value): only an inline shard then needs its image (readers use an image only when inline).
    const held = this.meta.heldRow(keys[1] as Buffer);
    const current = held === null || held === undefined ? undefined : parse<StoredObject>(held);
    if (current !== undefined && current.record.versionId === ref.versionId) {
      return { stored: current, image: current.inline === true ? await this.meta.cachedGet(keys[2] as Buffer) : undefined };
    }
    const [version, stored, image] = await this.meta.cachedGetMany(keys);
    // The version's own row when it is noncurrent; the object row (current, or written before version rows existed) otherwise.
    const row = version ?? stored;
    return { stored: row === undefined ? undefined : parse<StoredObject>(row), image };
  }

  /** One version of a key by its id, current or noncurrent. */
  async getVersion(bucket: string, key: string, versionId: string): Promise<StoredObject | undefined> {
    const [row, current] = await this.meta.cachedGetMany([rowKey(ROW.version, bucket, key, newestFirst(versionId)), rowKey(ROW.object, bucket, key)]);
    if (row !== undefined) return parse<StoredObject>(row);
    const stored = current === undefined ? undefined : parse<StoredObject>(current);
    return stored?.record.versionId === versionId ? stored : undefined;
  }

  /** Every version this node keeps of a key, newest first (a key's own history: its cost is its version count). */
  async keyVersions(bucket: string, key: string): Promise<StoredObject[]> {
    const versions: StoredObject[] = [];
    for await (const value of this.meta.db.values(prefixRange(Buffer.concat([rowKey(ROW.version, bucket, key), Buffer.of(0)])))) versions.push(parse<StoredObject>(value));
    return versions;
  }

  /**
   * The versions of a key whose id is `oldestVersionId` or newer, newest first: those that can hold data
   * prepared under that id, since a version's id is taken at its commit, after its prepares.
   */
  async keyVersionsFrom(bucket: string, key: string, oldestVersionId: string): Promise<StoredObject[]> {
    const range = prefixRange(Buffer.concat([rowKey(ROW.version, bucket, key), Buffer.of(0)]));
    const versions: StoredObject[] = [];
    for await (const value of this.meta.db.values({ gte: range.gte, lte: rowKey(ROW.version, bucket, key, newestFirst(oldestVersionId)) })) versions.push(parse<StoredObject>(value));
    return versions;
  }

  /**
   * Up to `limit` version rows after `after` (exclusive; null: from the first) in row order: by bucket,
   * then key, each key's versions newest first. One iterator read in batches: a walk over every version
   * a node holds this way reads its rows in sequence, where one in placement-hash order seeks per key.
   */
  async versionRowsPage(after: VersionRowCursor | null, limit: number): Promise<StoredObject[]> {
    const range = kindRange(ROW.version);
    const options = after === null ? { ...range, limit } : { gt: rowKey(ROW.version, after.bucket, after.key, newestFirst(after.versionId)), lt: range.lt, limit };
    const values = this.meta.db.values(options);
    try {
      return (await values.all()).map((value) => parse<StoredObject>(value));
    } finally {
      await values.close();
    }
  }

  /** Up to `limit` versions of a key after `afterVersionId` (exclusive; null: from the newest), newest first. */
  async keyVersionsPage(bucket: string, key: string, afterVersionId: string | null, limit: number): Promise<StoredObject[]> {
    const range = prefixRange(Buffer.concat([rowKey(ROW.version, bucket, key), Buffer.of(0)]));
    const options = afterVersionId === null ? { ...range, limit } : { gt: rowKey(ROW.version, bucket, key, newestFirst(afterVersionId)), lt: range.lt, limit };
    const versions: StoredObject[] = [];
    for await (const value of this.meta.db.values(options)) versions.push(parse<StoredObject>(value));
    return versions;
  }

  /**
   * Makes a version visible in one synced batch: writes its object, version and placement-index rows,
   * removes its prepared row, and drops the shard data of the version it replaces, unless
   * `keepPrevious` (versioning keeps it as a noncurrent version). `dropped` are noncurrent versions
   * the new one replaces for good (the key's previous null version). The caller has checked the
   * version is newer than `previous`, and removes the dropped files afterwards. `image` is the shard's
   * inline image as its prepare wrote it, written again with the commit (see carryShardRows).
   */
  async commitObject(
    stored: StoredObject,
    previous: StoredObject | undefined,
    options: { keepPrevious?: boolean; dropped?: readonly StoredObject[]; image?: Buffer | undefined; extraRows?: readonly ExtraRow[] } = {},
  ): Promise<void> {
    const { bucket, key } = stored.record;
    const value = json(stored);
    const hashHex = placementHashHex(bucket, key);
    const batch = putVersion(withRows(carryShardRows(new MetadataBatch(), stored, options.image), options.extraRows), stored, value, hashHex)
      .put(rowKey(ROW.object, bucket, key), value)
      .put(rowKey(ROW.hashIndex, hashHex, bucket, key), Buffer.alloc(0));
    const ref = storedRef(stored);
    if (ref !== null) batch.del(rowKey(ROW.prepared, ...shardParts(ref)));
    // The usage count follows the version rows: this one added (or rewritten in place), the replaced ones dropped.
    countVersion(batch, stored, 1);
    if (previous !== undefined && previous.record.versionId === stored.record.versionId) countVersion(batch, previous, -1);
    if (previous !== undefined && previous.record.versionId !== stored.record.versionId) {
      if (options.keepPrevious === true) putVersion(batch, previous, json(previous));
      else countVersion(dropVersionRows(batch, previous), previous, -1);
    }
    for (const old of options.dropped ?? []) countVersion(dropVersionRows(batch, old), old, -1);
    await this.meta.write(batch);
  }

  /**
   * Records a version older than the key's current one as noncurrent (a versioned bucket keeps every
   * write, whichever commits first), removing its prepared row; `dropped` and `image` as in commitObject.
   */
  async commitNoncurrent(stored: StoredObject, options: { dropped?: readonly StoredObject[]; image?: Buffer | undefined; extraRows?: readonly ExtraRow[] } = {}): Promise<void> {
    // A rare path (a commit older than the key's current version, a repair in place): the row it may
    // replace is read, so the usage count never takes one version twice. The caller holds the key's lock.
    const replaced = await this.meta.db.get(versionKey(stored.record));
    const batch = putVersion(withRows(carryShardRows(new MetadataBatch(), stored, options.image), options.extraRows), stored, json(stored));
    countVersion(countVersion(batch, stored, 1), replaced === undefined ? undefined : parse<StoredObject>(replaced), -1);
    const ref = storedRef(stored);
    if (ref !== null) batch.del(rowKey(ROW.prepared, ...shardParts(ref)));
    for (const old of options.dropped ?? []) countVersion(dropVersionRows(batch, old), old, -1);
    await this.meta.write(batch);
  }

  /** Rewrites the committed row of the same version (a metadata-only change such as tags); shard data is untouched. */
  async rewriteObject(stored: StoredObject, extraRows: readonly ExtraRow[] = []): Promise<void> {
    const value = json(stored);
    await this.meta.write(putVersion(withRows(new MetadataBatch(), extraRows), stored, value).put(rowKey(ROW.object, stored.record.bucket, stored.record.key), value));
  }

  /** Rewrites a noncurrent version's row (its tags); shard data is untouched. */
  async rewriteVersion(stored: StoredObject, extraRows: readonly ExtraRow[] = []): Promise<void> {
    await this.meta.write(putVersion(withRows(new MetadataBatch(), extraRows), stored, json(stored)));
  }

  /**
   * Removes one version for good in one synced batch: its version row and shard data, and when it is
   * the current one, the object row becomes `promote` (the next newest) or goes with the placement
   * index row when no version is left. The caller holds the key's lock and removes the file afterwards.
   */
  async deleteVersion(target: StoredObject, isCurrent: boolean, promote: StoredObject | undefined, gone?: VersionGone, extraRows: readonly ExtraRow[] = []): Promise<void> {
    const { bucket, key } = target.record;
    const batch = withRows(new MetadataBatch(), extraRows);
    countVersion(dropVersionRows(batch, target), target, -1);
    if (gone !== undefined) putGone(batch, gone);
    if (isCurrent) {
      if (promote !== undefined) batch.put(rowKey(ROW.object, bucket, key), json(promote));
      else batch.del(rowKey(ROW.object, bucket, key)).del(rowKey(ROW.hashIndex, placementHashHex(bucket, key), bucket, key));
    }
    await this.meta.write(batch);
  }

  /**
   * Forgets a noncurrent version's row, shard data and quarantine row in one synced batch, leaving no
   * tombstone: rebalance, once the key's new set holds the version. The caller holds the key's lock and
   * removes the file afterwards.
   */
  async dropNoncurrent(stored: StoredObject): Promise<void> {
    const batch = new MetadataBatch();
    countVersion(dropVersionRows(batch, stored), stored, -1);
    const ref = storedRef(stored);
    if (ref !== null) batch.del(rowKey(ROW.quarantine, ...shardParts(ref)));
    await this.meta.write(batch);
  }

  /**
   * Forgets a key's committed version in one synced batch (object and placement-index rows, its shard
   * data and quarantine row), for garbage collection and for rebalance once the new owners hold it.
   * The caller holds the key's lock, has checked the row is `stored`, and removes the file afterwards.
   */
  async dropObject(stored: StoredObject): Promise<void> {
    const { bucket, key } = stored.record;
    const batch = dropVersionRows(countVersion(new MetadataBatch(), stored, -1), stored)
      .del(rowKey(ROW.object, bucket, key))
      .del(rowKey(ROW.hashIndex, placementHashHex(bucket, key), bucket, key));
    const ref = storedRef(stored);
    if (ref !== null) batch.del(rowKey(ROW.quarantine, ...shardParts(ref)));
    await this.meta.write(batch);
  }

  /**
   * Rows of a bucket's object index in byte order, for listing. Tombstones are included: newer ones
   * hide older live versions elsewhere. With a delimiter, the keys under each common prefix are rolled
   * up here (see rolledUp).
   */
  async listObjects(query: ListQuery): Promise<ListedRows> {
    const base = rowKey(ROW.object, query.bucket, '');
    const rangeEnd = afterPrefix(Buffer.concat([base, Buffer.from(query.prefix, 'utf8')]));
    const start = byteOrder(query.after, query.prefix) > 0 ? query.after : query.prefix;
    const startKey = Buffer.concat([base, Buffer.from(start, 'utf8')]);
    const options =
      query.afterIsPrefix && query.after !== ''
        ? { gte: afterPrefix(startKey), lt: rangeEnd }
        : start === query.after && query.after !== ''
          ? { gt: startKey, lt: rangeEnd }
          : { gte: startKey, lt: rangeEnd };
    if (query.delimiter !== undefined && query.delimiter !== '') return this.rolledUp(query, query.delimiter, base, options);
    const entries: StoredObject[] = [];
    for await (const value of this.meta.db.values({ ...options, limit: query.limit + 1 })) entries.push(parse<StoredObject>(value));
    const truncated = entries.length > query.limit;
    if (truncated) entries.pop();
    return { entries, truncated };
  }

  /**
   * A listing page with the keys under each common prefix rolled up: of a prefix's keys only the first
   * whose row here is live is returned (marked with the prefix), then the iterator seeks past the whole
   * prefix, so the page costs what it returns rather than the keys beneath. Tombstones under a prefix
   * are passed over (a prefix whose keys are all deleted here returns nothing); the gateway lists a
   * prefix at once only when every node returned the same key and version for it, and reads the keys
   * beneath otherwise. At most ROLLUP_SCAN_ROWS rows are read: a page that stops there says where to
   * resume.
   */
  private async rolledUp(query: ListQuery, delimiter: string, base: Buffer, range: RowRange): Promise<ListedRows> {
    const entries: ListedRow[] = [];
    const iterator = this.meta.db.iterator(range);
    let position: ListedRows['resume'];
    try {
      for (let scanned = 0; scanned < ROLLUP_SCAN_ROWS; scanned += 1) {
        const next = await iterator.next();
        if (next === undefined) return { entries, truncated: false };
        const stored = parse<StoredObject>(next[1]);
        const { key } = stored.record;
        const at = key.indexOf(delimiter, query.prefix.length);
        const rollup = at < 0 ? undefined : key.slice(0, at + delimiter.length);
        // A tombstone under a prefix rolls up nothing: the prefix's next row may be live.
        const rolled = rollup !== undefined && !stored.record.deleted;
        if (rollup === undefined) entries.push(stored);
        else if (rolled) {
          entries.push({ ...stored, rollup });
          iterator.seek(afterPrefix(Buffer.concat([base, Buffer.from(rollup, 'utf8')])));
        }
        if (entries.length > query.limit) {
          entries.pop();
          return { entries, truncated: true };
        }
        position = rolled ? { after: rollup, afterIsPrefix: true } : { after: key, afterIsPrefix: false };
      }
    } finally {
      await iterator.close();
    }
    return { entries, truncated: true, resume: position };
  }

  /**
   * Version rows of a bucket in listing order (key ascending, newest first), for ListObjectVersions.
   * `afterVersionId` is the internal id to resume after within `query.after`.
   */
  async listVersions(query: VersionListQuery, afterVersionId: string | undefined): Promise<VersionListRows> {
    const base = rowKey(ROW.version, query.bucket, '');
    const rangeEnd = afterPrefix(Buffer.concat([base, Buffer.from(query.prefix, 'utf8')]));
    let options: { gt?: Buffer; gte?: Buffer; lt: Buffer };
    if (query.after === '' || byteOrder(query.after, query.prefix) < 0) {
      options = { gte: Buffer.concat([base, Buffer.from(query.prefix, 'utf8')]), lt: rangeEnd };
    } else if (query.afterIsPrefix) {
      options = { gte: afterPrefix(rowKey(ROW.version, query.bucket, query.after)), lt: rangeEnd };
    } else if (afterVersionId !== undefined) {
      options = { gt: rowKey(ROW.version, query.bucket, query.after, newestFirst(afterVersionId)), lt: rangeEnd };
    } else {
      // Past every version of `after`: its rows are `after 00 id`, all below `after 00 FF`.
      options = { gte: Buffer.concat([rowKey(ROW.version, query.bucket, query.after), Buffer.of(0, 0xff)]), lt: rangeEnd };
    }
    if (query.delimiter !== undefined && query.delimiter !== '') return this.rolledUpVersions(query, query.delimiter, base, options);
    // Version rows and deleted-version rows share their key layout after the kind byte: read both
    // ranges and merge them, so a member that missed a delete is outvoted in the gateway's merge.
    const rows: { suffix: Buffer; row: VersionListRow }[] = [];
    for await (const [key, value] of this.meta.db.iterator({ ...options, limit: query.limit + 1 })) rows.push({ suffix: key.subarray(1), row: parse<StoredObject>(value) });
    for await (const [key, value] of this.meta.db.iterator({ ...swapKind(options, ROW.versionGoneByKey), limit: query.limit + 1 })) {
      rows.push({ suffix: key.subarray(1), row: { record: goneRecord(parse<VersionGone>(value)), shardIndex: null, shardSizeBytes: 0, file: null, gone: true } });
    }
    rows.sort((a, b) => Buffer.compare(a.suffix, b.suffix));
    const entries = rows.slice(0, query.limit + 1).map(({ row }) => row);
    const truncated = entries.length > query.limit;
    if (truncated) entries.pop();
    return { entries, truncated };
  }

  /**
   * A version listing page with each common prefix rolled up, as rolledUp does for objects. Version
   * rows and deleted-by-id rows are walked together in listing order. Outside any prefix both are
   * returned as without a delimiter; under a prefix only the first version S3 would list is (not an
   * unversioned tombstone, not one this node knows was deleted by id), marked with the prefix, and both
   * walks seek past the prefix. A node that missed a delete by id then names another version for the
   * prefix than the others, and the gateway reads the versions beneath.
   */
  private async rolledUpVersions(query: VersionListQuery, delimiter: string, base: Buffer, range: { gt?: Buffer; gte?: Buffer; lt: Buffer }): Promise<VersionListRows> {
    const entries: VersionListRow[] = [];
    const versions = this.meta.db.iterator(range as RowRange);
    const gones = this.meta.db.iterator(swapKind(range, ROW.versionGoneByKey) as RowRange);
    const goneBase = Buffer.concat([Buffer.from(ROW.versionGoneByKey, 'latin1'), base.subarray(1)]);
    let position: VersionListRows['resume'];
    try {
      let version = await versions.next();
      let gone = await gones.next();
      for (let scanned = 0; scanned < ROLLUP_SCAN_ROWS; scanned += 1) {
        if (version === undefined && gone === undefined) return { entries, truncated: false };
        // Which walk is behind (rows of both name the same version when this node held it when deleted).
        const order = version === undefined ? 1 : gone === undefined ? -1 : Buffer.compare(version[0].subarray(1), gone[0].subarray(1));
        const held = order <= 0 ? parse<StoredObject>((version as [Buffer, Buffer])[1]) : undefined;
        const deleted = order >= 0 ? goneRecord(parse<VersionGone>((gone as [Buffer, Buffer])[1])) : undefined;
        const record = (held?.record ?? deleted) as ObjectRecord;
        const at = record.key.indexOf(delimiter, query.prefix.length);
        const rollup = at < 0 ? undefined : record.key.slice(0, at + delimiter.length);
        if (order <= 0) version = await versions.next();
        if (order >= 0) gone = await gones.next();
        if (rollup === undefined) {
          if (held !== undefined) entries.push(held);
          if (deleted !== undefined) entries.push({ record: deleted, shardIndex: null, shardSizeBytes: 0, file: null, gone: true });
        } else if (held !== undefined && deleted === undefined && !(held.record.deleted && held.record.versioning === undefined)) {
          entries.push({ ...held, rollup });
          versions.seek(afterPrefix(Buffer.concat([base, Buffer.from(rollup, 'utf8')])));
          gones.seek(afterPrefix(Buffer.concat([goneBase, Buffer.from(rollup, 'utf8')])));
          [version, gone] = [await versions.next(), await gones.next()];
        }
        if (entries.length > query.limit) {
          // The row (or the pair) that passed the limit is the next page's first.
          while (entries.length > query.limit) entries.pop();
          return { entries, truncated: true };
        }
        const last = entries.at(-1);
        position =
          last?.rollup !== undefined && last.record.key === record.key
            ? { after: last.rollup, afterIsPrefix: true }
            : { after: record.key, afterIsPrefix: false, afterVersion: record.versionId };
      }
    } finally {
      await Promise.all([versions.close(), gones.close()]);
    }
    return { entries, truncated: true, resume: position };
  }

  /** True when the bucket has at least one live (non-tombstone) object on this node. */
  async bucketHasObjects(bucket: string): Promise<boolean> {
    for await (const value of this.meta.db.values(prefixRange(rowKey(ROW.object, bucket, '')))) {
      if (!parse<StoredObject>(value).record.deleted) return true;
    }
    return false;
  }

  /** Every committed object row, for start-up accounting. */
  async *objects(): AsyncGenerator<StoredObject> {
    for await (const value of this.meta.db.values(kindRange(ROW.object))) yield parse<StoredObject>(value);
  }
}

import { ClassicLevel } from 'classic-level';
import type { BucketRecord, ListQuery, ObjectRecord, ObjectStatus } from '../rpc/index.js';

/**
 * LevelDB layout of a node's metadata. Keys are raw bytes; a 0x00 byte separates parts, which keeps
 * each bucket's keys contiguous and in UTF-8 byte order (S3's listing order). Bucket names and object
 * keys never contain 0x00 (the gateway refuses such keys) and never contain 0xFF (not valid UTF-8),
 * so `prefix + 0xFF` is an exclusive upper bound for "every key starting with prefix".
 *
 *   o 00 bucket 00 key                         -> StoredObject: the newest committed version of a key
 *                                                 (live or tombstone) and the shard this node holds
 *   p 00 bucket 00 key 00 version 00 shard     -> PreparedShard: durable shard file, not yet visible
 *   b 00 bucket                                -> BucketRecord (newest version wins)
 *
 * Listing walks the `o` range of a bucket; a version becomes visible only when its `o` row is
 * written, in the same batch that removes its `p` row.
 */
export interface StoredObject {
  record: ObjectRecord;
  shardIndex: number | null;
  shardSizeBytes: number;
  /** Shard file name under the node's shard directory; null for tombstones. */
  file: string | null;
}

/** A prepared (durable, invisible) shard awaiting commit or abort. */
export interface PreparedShard {
  file: string;
  shardSizeBytes: number;
  preparedMs: number;
}

const SEP = 0x00;
const HIGH = 0xff;

function key(...parts: string[]): Buffer {
  const buffers: Buffer[] = [];
  parts.forEach((part, i) => {
    if (i > 0) buffers.push(Buffer.of(SEP));
    buffers.push(Buffer.from(part, 'utf8'));
  });
  return Buffer.concat(buffers);
}

function objectKey(bucket: string, objectName: string): Buffer {
  return key('o', bucket, objectName);
}

function preparedKey(bucket: string, objectName: string, versionId: string, shardIndex: number): Buffer {
  return key('p', bucket, objectName, versionId, String(shardIndex));
}

/** The node's LevelDB: object index, prepared shards, bucket records. */
export class MetadataStore {
  private readonly db: ClassicLevel<Buffer, string>;

  constructor(location: string) {
    this.db = new ClassicLevel<Buffer, string>(location, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  }

  /** Opens the database (creating it when absent). */
  async open(): Promise<void> {
    await this.db.open();
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.db.close();
  }

  /** 'open' or 'closed', for health reports. */
  get status(): 'open' | 'closed' {
    return this.db.status === 'open' ? 'open' : 'closed';
  }

  /** The newest committed version of a key on this node. */
  async getObject(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    const value = await this.db.get(objectKey(bucket, objectName));
    return value === undefined ? undefined : (JSON.parse(value) as StoredObject);
  }

  /** Records a prepared shard durably (synced). */
  async putPrepared(
    bucket: string,
    objectName: string,
    versionId: string,
    shardIndex: number,
    prepared: PreparedShard,
  ): Promise<void> {
    await this.db.put(preparedKey(bucket, objectName, versionId, shardIndex), JSON.stringify(prepared), { sync: true });
  }

  /** A prepared shard, if present. */
  async getPrepared(
    bucket: string,
    objectName: string,
    versionId: string,
    shardIndex: number,
  ): Promise<PreparedShard | undefined> {
    const value = await this.db.get(preparedKey(bucket, objectName, versionId, shardIndex));
    return value === undefined ? undefined : (JSON.parse(value) as PreparedShard);
  }

  /** Drops a prepared row (the caller removes its file). */
  async deletePrepared(bucket: string, objectName: string, versionId: string, shardIndex: number): Promise<void> {
    await this.db.del(preparedKey(bucket, objectName, versionId, shardIndex), { sync: true });
  }

  /** Every prepared row, for start-up recovery and garbage collection. */
  async *preparedShards(): AsyncGenerator<PreparedShard & { bucket: string; key: string; versionId: string; shardIndex: number }> {
    for await (const [rowKey, value] of this.db.iterator({ gt: key('p', ''), lt: Buffer.from([0x70, 0x01]) })) {
      const parts = splitKey(rowKey);
      yield {
        ...(JSON.parse(value) as PreparedShard),
        bucket: parts[1] ?? '',
        key: parts[2] ?? '',
        versionId: parts[3] ?? '',
        shardIndex: Number(parts[4]),
      };
    }
  }

  /**
   * Makes a version visible in one synced batch: writes its object row and removes its prepared row.
   * The caller has checked the version is newer than the current one.
   */
  async commitObject(stored: StoredObject): Promise<void> {
    const { record } = stored;
    const batch = this.db.batch().put(objectKey(record.bucket, record.key), JSON.stringify(stored));
    if (stored.shardIndex !== null) {
      batch.del(preparedKey(record.bucket, record.key, record.versionId, stored.shardIndex));
    }
    await batch.write({ sync: true });
  }

  /** Rows of a bucket's object index in byte order, for listing. Tombstones are included: newer ones hide older live versions elsewhere. */
  async listObjects(query: ListQuery): Promise<{ entries: StoredObject[]; truncated: boolean }> {
    const base = key('o', query.bucket, '');
    const rangeEnd = Buffer.concat([base, Buffer.from(query.prefix, 'utf8'), Buffer.of(HIGH)]);
    const start = query.after > query.prefix ? query.after : query.prefix;
    const startKey = Buffer.concat([base, Buffer.from(start, 'utf8')]);
    const options =
      query.afterIsPrefix && query.after !== ''
        ? { gte: Buffer.concat([startKey, Buffer.of(HIGH)]), lt: rangeEnd }
        : start === query.after && query.after !== ''
          ? { gt: startKey, lt: rangeEnd }
          : { gte: startKey, lt: rangeEnd };
    const entries: StoredObject[] = [];
    for await (const value of this.db.values({ ...options, limit: query.limit + 1 })) {
      entries.push(JSON.parse(value) as StoredObject);
    }
    const truncated = entries.length > query.limit;
    if (truncated) entries.pop();
    return { entries, truncated };
  }

  /** True when the bucket has at least one live (non-tombstone) object on this node. */
  async bucketHasObjects(bucket: string): Promise<boolean> {
    const base = key('o', bucket, '');
    for await (const value of this.db.values({ gte: base, lt: Buffer.concat([base, Buffer.of(HIGH)]) })) {
      if (!(JSON.parse(value) as StoredObject).record.deleted) return true;
    }
    return false;
  }

  /** Stores a bucket record unless the node already holds a newer one. */
  async putBucket(record: BucketRecord): Promise<void> {
    const rowKey = key('b', record.name);
    const current = await this.db.get(rowKey);
    if (current !== undefined && (JSON.parse(current) as BucketRecord).versionId >= record.versionId) return;
    await this.db.put(rowKey, JSON.stringify(record), { sync: true });
  }

  /** Every bucket record, tombstones included. */
  async listBuckets(): Promise<BucketRecord[]> {
    const records: BucketRecord[] = [];
    for await (const value of this.db.values({ gt: key('b', ''), lt: Buffer.from([0x62, 0x01]) })) {
      records.push(JSON.parse(value) as BucketRecord);
    }
    return records;
  }
}

function splitKey(rowKey: Buffer): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i <= rowKey.length; i += 1) {
    if (i === rowKey.length || rowKey[i] === SEP) {
      parts.push(rowKey.toString('utf8', start, i));
      start = i + 1;
    }
  }
  return parts;
}

/** Converts a stored row to the wire answer of GET /v1/objects. */
export function toObjectStatus(stored: StoredObject): ObjectStatus {
  return { record: stored.record, shardIndex: stored.shardIndex, shardSizeBytes: stored.shardSizeBytes };
}

import { compareVersionIds } from '../../common/index.js';
import { withFurthestIndex, type BucketRecord, type UserRecord } from '../../rpc/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, kindRange, rowKey } from '../metadata-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { json, parse } from './row-keys.js';

/** Bucket (`b`) and user (`u`) records: cluster-wide configuration each node keeps, the newest version id winning. Bucket policies live in the bucket record. */
export class BucketRows {
  private readonly meta: MetadataDb;

  constructor(meta: MetadataDb) {
    this.meta = meta;
  }

  /** Stores a bucket record unless the node already holds a newer one; answers the record it holds now. */
  async putBucket(record: BucketRecord): Promise<BucketRecord> {
    const key = rowKey(ROW.bucket, record.name);
    const current = await this.meta.db.get(key);
    let stored = record;
    if (current !== undefined) {
      const held = parse<BucketRecord>(current);
      // The index keeps the furthest a split has come, whichever record carried it (index-split.ts).
      if (compareVersionIds(held.versionId, record.versionId) >= 0) {
        const advanced = withFurthestIndex(held, record);
        if (advanced === held) return held;
        stored = advanced;
      } else {
        stored = withFurthestIndex(record, held);
      }
    }
    await this.meta.write(new MetadataBatch().put(key, json(stored)));
    return stored;
  }

  /** The bucket record this node holds for `name` (a tombstone when deleted), if any. */
  async getBucket(name: string): Promise<BucketRecord | undefined> {
    const value = await this.meta.db.get(rowKey(ROW.bucket, name));
    return value === undefined ? undefined : parse<BucketRecord>(value);
  }

  /** Every bucket record, tombstones included. */
  async listBuckets(): Promise<BucketRecord[]> {
    const records: BucketRecord[] = [];
    for await (const value of this.meta.db.values(kindRange(ROW.bucket))) records.push(parse<BucketRecord>(value));
    return records;
  }

  /** Stores a user record if it is newer than the one held. */
  async putUser(record: UserRecord): Promise<void> {
    const key = rowKey(ROW.user, record.name);
    const current = await this.meta.db.get(key);
    if (current !== undefined && compareVersionIds(parse<UserRecord>(current).versionId, record.versionId) >= 0) return;
    await this.meta.write(new MetadataBatch().put(key, json(record)));
  }

  /** The user record named `name` this node holds (a tombstone when removed), if any. */
  async getUser(name: string): Promise<UserRecord | undefined> {
    const value = await this.meta.db.get(rowKey(ROW.user, name));
    return value === undefined ? undefined : parse<UserRecord>(value);
  }

  /** Every user record, removed users included. */
  async listUsers(): Promise<UserRecord[]> {
    const records: UserRecord[] = [];
    for await (const value of this.meta.db.values(kindRange(ROW.user))) records.push(parse<UserRecord>(value));
    return records;
  }
}

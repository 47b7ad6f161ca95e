import type { Readable } from 'node:stream';
import { compareVersionIds } from '../../common/index.js';
import { shardRefOf, type CommitRequest, type ErasureParams, type IndexIntent, type ReplicationOutcome, type ResealRequest, type ShardRef, type TagUpdateRequest } from '../../rpc/index.js';
import type { PreparedShard, StoredObject } from '../metadata-store.js';
import { IndexRows } from '../metadata/index-rows.js';
import type { ExtraRow } from '../metadata/object-rows.js';
import { ShardStoreError } from '../shard-store-error.js';
import type { PrepareOptions } from '../shard-preparer.js';
import type { SpaceClaim } from '../space-ledger.js';
import { isNullVersion, lockKey, pointsAt, shardKey, type StoreCore } from './store-core.js';

/** The write path of a shard store: prepares, commits (versioned or not), aborts, and in-place rewrites of a version's row (tags, resealed keys). */
export class ShardWrites {
  private readonly core: StoreCore;

  constructor(core: StoreCore) {
    this.core = core;
  }

  /**
   * Stores a streamed shard durably but invisibly; returns its size. Shards up to the inline threshold
   * become one LevelDB write; larger ones stream to a file (shard-preparer.ts). A body already in memory
   * (a batched prepare's) may come as one Buffer.
   */
  prepare(ref: ShardRef, erasure: ErasureParams, body: Readable | Buffer, signal?: AbortSignal, options: PrepareOptions = {}): Promise<number> {
    const work = this.core.track(this.prepareNow(ref, erasure, body, signal, options));
    const key = shardKey(ref);
    const running = this.core.preparing.get(key) ?? new Set<Promise<unknown>>();
    this.core.preparing.set(key, running.add(work));
    const forget = (): void => {
      running.delete(work);
      if (running.size === 0 && this.core.preparing.get(key) === running) this.core.preparing.delete(key);
    };
    work.then(forget, forget);
    return work;
  }

  /** The untracked body of prepare. */
  private async prepareNow(ref: ShardRef, erasure: ErasureParams, body: Readable | Buffer, signal: AbortSignal | undefined, options: PrepareOptions): Promise<number> {
    let claim: SpaceClaim | undefined;
    try {
      claim = await this.core.space.claim();
      const sizeBytes = await this.core.preparer.prepare(ref, erasure, body, claim, signal, options);
      claim.settle(true);
      return sizeBytes;
    } catch (err) {
      claim?.settle(false);
      throw this.core.classifyWriteError(err);
    }
  }

  /**
   * Makes a version visible. Last writer wins: when the node already holds a newer version the commit
   * is acknowledged and the older shard dropped, since the newer version hides it anyway.
   */
  commit(request: CommitRequest): Promise<void> {
    const { bucket, bucketCreatedMs } = request.record;
    // A version that names its bucket's incarnation commits only while that incarnation is open here.
    if (bucketCreatedMs !== undefined) return this.core.track(this.core.incarnations.admit(bucket, bucketCreatedMs, () => this.commitNow(request)));
    return this.core.track(this.commitNow(request));
  }

  /**
   * The untracked body of commit. A bucket index intent and a change note the request carries go in
   * the batch that commits the version; when the commit writes nothing (a retry of what is visible, a
   * version already replaced) they are written on their own, so this node acknowledges only with them
   * durable. A change is logged whether or not this node keeps the version: the client's write happened.
   */
  private async commitNow(request: CommitRequest): Promise<void> {
    const carried = new CarriedRows(request.indexIntent);
    await this.commitUnderLock(request, carried);
    const { intent, changeRows } = carried.leftover();
    if (intent !== undefined) await this.core.metadata.indexRows.apply([intent]);
    await this.core.metadata.changes.write(changeRows);
  }

  private async commitUnderLock(request: CommitRequest, carried: CarriedRows): Promise<void> {
    const { record, shardIndex } = request;
    await this.core.keyLocks.run(lockKey(record.bucket, record.key), async () => {
      // The prepared shard is found by the id it was written under (the record's dataId).
      const ref = shardIndex === null ? null : shardRefOf(record, shardIndex);
      const { stored: current, prepared, image } =
        ref === null ? { stored: await this.core.metadata.getObject(record.bucket, record.key), prepared: undefined, image: undefined } : await this.core.metadata.getObjectAndPrepared(ref);
      // Under the key's lock, so the key's changes are logged in the order they commit. A shard still
      // prepared means this node never applied the commit: nothing of it can be logged yet.
      if (request.change !== undefined) {
        const fresh = ref !== null && prepared !== undefined;
        carried.log(await this.core.metadata.changes.rowsFor(record.bucket, record.key, request.change, { fresh }));
      }
      if (ref !== null && prepared === undefined) {
        // A repeated commit of what is already visible is a success: commits are retried.
        if (current?.record.versionId === record.versionId) return;
        // So is one of a version kept as a row, a pre-versioning null version (no `versioning`) included.
        if ((await this.core.metadata.getVersion(record.bucket, record.key, record.versionId)) !== undefined) return;
        throw new ShardStoreError('NotFound', 'no prepared shard for this version');
      }
      // Not gated on `versioning`: a pre-versioning null version has none, yet is kept as a version row
      // once a versioned write lands, and commitVersioned would drop that row as "the previous null".
      if (request.repair === true && ref !== null && prepared !== undefined && current?.record.versionId !== record.versionId) {
        const kept = await this.core.metadata.getVersion(record.bucket, record.key, record.versionId);
        if (kept !== undefined && kept.shardIndex === shardIndex) {
          // A repair rebuilt a noncurrent version's shard in place: its version row takes the new shard.
          const repaired: StoredObject = { ...kept, shardSizeBytes: prepared.shardSizeBytes, file: prepared.file, ...(prepared.inline === true ? { inline: true } : {}) };
          if (prepared.inline !== true) delete repaired.inline;
          await this.core.metadata.commitNoncurrent(repaired, { image, extraRows: carried.take() });
          this.core.space.release(kept.shardSizeBytes);
          if (await this.core.metadata.clearQuarantine(ref)) this.core.quarantineCount = Math.max(0, this.core.quarantineCount - 1);
          if (kept.file !== prepared.file) await this.core.dropReplacedData(kept.file);
          return;
        }
      }
      if (request.repair === true && ref !== null && prepared !== undefined && current?.record.versionId === record.versionId && current.shardIndex === shardIndex) {
        // A repair rewrote this version's shard in place (same file name or inline row): make it the committed one.
        const repaired: StoredObject = { ...current, shardSizeBytes: prepared.shardSizeBytes, file: prepared.file, ...(prepared.inline === true ? { inline: true } : {}) };
        if (prepared.inline !== true) delete repaired.inline;
        // `current` as the previous row: the same version, rewritten in place (its usage count unchanged).
        await this.core.metadata.commitObject(repaired, current, { image, extraRows: carried.take() });
        this.core.space.release(current.shardSizeBytes);
        if (await this.core.metadata.clearQuarantine(ref)) this.core.quarantineCount = Math.max(0, this.core.quarantineCount - 1);
        if (current.file !== prepared.file) await this.core.dropReplacedData(current.file);
        return;
      }
      const incoming: StoredObject =
        ref === null || prepared === undefined
          ? { record, shardIndex: null, shardSizeBytes: 0, file: null }
          : { record, shardIndex, shardSizeBytes: prepared.shardSizeBytes, file: prepared.file, ...(prepared.inline === true ? { inline: true } : {}) };
      // A bucket never goes back to "never versioned": a write without versioning over a version written
      // under it comes from a gateway whose bucket record is stale, and is kept as the null version
      // rather than allowed to destroy the version it would replace.
      if (record.versioning !== undefined || current?.record.versioning !== undefined) {
        await this.commitVersioned(incoming, current, ref, prepared, image, carried);
        return;
      }
      if (current !== undefined && compareVersionIds(current.record.versionId, record.versionId) >= 0) {
        if (ref !== null && prepared !== undefined) await this.core.dropPrepared(ref, prepared, current);
        return;
      }
      await this.core.metadata.commitObject(incoming, current, { image, extraRows: carried.take(current === undefined ? [] : [current]) });
      if (current !== undefined) {
        this.core.space.release(current.shardSizeBytes);
        await this.core.removeFile(current.file);
      }
    });
  }

  /**
   * Commits a version written under bucket versioning (S3's rules): every version is kept, whichever
   * order commits arrive in, except that a `null` version (written while versioning is suspended)
   * replaces the key's previous null version. A commit older than the current version becomes a
   * noncurrent one. The caller holds the key's lock.
   */
  private async commitVersioned(
    incoming: StoredObject,
    current: StoredObject | undefined,
    ref: ShardRef | null,
    prepared: PreparedShard | undefined,
    image: Buffer | undefined,
    carried: CarriedRows,
  ): Promise<void> {
    const { record } = incoming;
    if (current !== undefined && current.record.versionId === record.versionId) {
      if (ref !== null && prepared !== undefined) await this.core.dropPrepared(ref, prepared, current);
      return;
    }
    if ((await this.core.metadata.getVersionGone(record.bucket, record.key, record.versionId)) !== undefined) {
      // Deleted by id (perhaps while the writer or a repair source did not know): acknowledged and
      // dropped, as a commit hidden by a newer version is, so the delete stays final.
      if (ref !== null && prepared !== undefined) await this.core.dropPrepared(ref, prepared, current ?? null);
      return;
    }
    let dropped: StoredObject[] = [];
    if (isNullVersion(record)) {
      const versions = await this.core.metadata.keyVersions(record.bucket, record.key);
      if (current !== undefined && !versions.some((v) => v.record.versionId === current.record.versionId)) versions.push(current);
      const nulls = versions.filter((v) => isNullVersion(v.record));
      if (nulls.some((v) => compareVersionIds(v.record.versionId, record.versionId) > 0)) {
        // A newer null version already replaced this one.
        if (ref !== null && prepared !== undefined) await this.core.dropPrepared(ref, prepared, current ?? null);
        return;
      }
      // This very version kept as a row (a commit retried or copied again) is not a previous one: its rows
      // share the incoming row's keys, so dropping it would delete what this commit writes.
      dropped = nulls.filter((v) => v.record.versionId !== record.versionId);
    }
    const newer = current === undefined || compareVersionIds(current.record.versionId, record.versionId) < 0;
    if (newer) {
      const keepPrevious = current !== undefined && !dropped.some((v) => v.record.versionId === current.record.versionId);
      await this.core.metadata.commitObject(incoming, current, {
        keepPrevious,
        dropped: dropped.filter((v) => v.record.versionId !== current?.record.versionId),
        image,
        extraRows: carried.take(dropped),
      });
      if (current !== undefined && !keepPrevious) {
        this.core.space.release(current.shardSizeBytes);
        await this.core.removeFile(current.file);
      }
    } else {
      await this.core.metadata.commitNoncurrent(incoming, { dropped, image, extraRows: carried.take(dropped) });
    }
    for (const old of dropped) {
      if (newer && old.record.versionId === current?.record.versionId) continue;
      this.core.space.release(old.shardSizeBytes);
      await this.core.removeFile(old.file);
    }
  }

  /**
   * Drops a prepared shard; unknown ones are ignored so aborts can be retried. A prepare of the shard
   * still running is let finish first: a writer that gave up after sending the whole body (its write
   * quorum failed elsewhere) aborts while this node may still be syncing it, and the row that prepare
   * writes must not outlive the abort.
   */
  abort(ref: ShardRef): Promise<void> {
    return this.core.track(this.abortNow(ref));
  }

  /** The untracked body of abort. */
  private async abortNow(ref: ShardRef): Promise<void> {
    const running = this.core.preparing.get(shardKey(ref));
    if (running !== undefined) await Promise.allSettled([...running]);
    await this.core.keyLocks.run(lockKey(ref.bucket, ref.key), async () => {
      const { stored, prepared } = await this.core.metadata.getObjectAndPrepared(ref);
      // Against the current row when it is this version; otherwise looked up, as it may be a noncurrent one.
      if (prepared !== undefined) await this.core.dropPrepared(ref, prepared, stored !== undefined && pointsAt(stored, ref) ? stored : undefined);
    });
  }

  /**
   * Replaces the tags of the current version in place: only the metadata row changes, never the data.
   * NotFound when the node's current version is another one (it missed that write, or a newer one won);
   * an older or repeated revision is acknowledged and ignored, so retries and reordering are harmless.
   */
  updateTags(request: TagUpdateRequest): Promise<void> {
    return this.core.track(this.updateTagsNow(request));
  }

  /** The untracked body of updateTags. */
  private async updateTagsNow(request: TagUpdateRequest): Promise<void> {
    await this.core.keyLocks.run(lockKey(request.bucket, request.key), async () => {
      const current = await this.core.metadata.getObject(request.bucket, request.key);
      // A versioned bucket's older versions keep tags of their own; outside versioning only the current version has any.
      const version = current?.record.versionId === request.versionId ? current : await this.core.metadata.getVersion(request.bucket, request.key, request.versionId);
      if (version === undefined || version.record.deleted || (version !== current && version.record.versioning === undefined)) {
        throw new ShardStoreError('NotFound', 'this node does not hold this version');
      }
      if (compareVersionIds(version.record.tagsRevision ?? '', request.tagsRevision) >= 0) return;
      const grants = request.grants === undefined ? {} : { grants: request.grants };
      const legalHold = request.legalHold === undefined ? {} : { legalHold: request.legalHold };
      const { retention: previousRetention, ...unchanged } = version.record;
      const retention = request.retention === undefined ? previousRetention : (request.retention ?? undefined);
      const record = { ...unchanged, tags: request.tags, tagsRevision: request.tagsRevision, ...grants, ...legalHold, ...(retention === undefined ? {} : { retention }) };
      const changed = { ...version, record };
      const changeRows = request.change === undefined ? [] : await this.core.metadata.changes.rowsFor(request.bucket, request.key, request.change);
      if (version === current) await this.core.metadata.rewriteObject(changed, changeRows);
      else await this.core.metadata.rewriteVersion(changed, changeRows);
    });
  }

  /**
   * Rewrites a version's replication status to how its delivery ended, in place and without a new
   * revision (copies of one version merge by status: newest-record.ts), current or not. Nothing when the
   * node does not hold the version, or the version is a replica, or (unless `unlogged`: a resync's
   * record of a version no change logged for replication) the version has no status. Repeats are harmless.
   */
  settleReplication(bucket: string, key: string, versionId: string, outcome: ReplicationOutcome, options: { unlogged?: boolean } = {}): Promise<void> {
    return this.core.track(
      this.core.keyLocks.run(lockKey(bucket, key), async () => {
        const current = await this.core.metadata.getObject(bucket, key);
        const version = current?.record.versionId === versionId ? current : await this.core.metadata.getVersion(bucket, key, versionId);
        const status = version?.record.replicationStatus;
        if (version === undefined || (status === undefined && options.unlogged !== true) || status === 'REPLICA' || status === outcome) return;
        const changed = { ...version, record: { ...version.record, replicationStatus: outcome } };
        if (version === current) await this.core.metadata.rewriteObject(changed);
        else await this.core.metadata.rewriteVersion(changed);
      }),
    );
  }

  /**
   * Replaces how a version seals its data key (master-key rotation), in place, current or not: an
   * older version's data key must move to the new master key too, or dropping the old key would make
   * that version unreadable. NotFound when the node does not hold the version or it is not encrypted
   * the same way. Repeats are harmless.
   */
  reseal(request: ResealRequest): Promise<void> {
    return this.core.track(
      this.core.keyLocks.run(lockKey(request.bucket, request.key), async () => {
        const current = await this.core.metadata.getObject(request.bucket, request.key);
        const version = current?.record.versionId === request.versionId ? current : await this.core.metadata.getVersion(request.bucket, request.key, request.versionId);
        if (version === undefined || version.record.encryption?.kind !== request.encryption.kind) {
          throw new ShardStoreError('NotFound', 'this node does not hold this version encrypted this way');
        }
        const changed = { ...version, record: { ...version.record, encryption: request.encryption } };
        if (version === current) await this.core.metadata.rewriteObject(changed);
        else await this.core.metadata.rewriteVersion(changed);
      }),
    );
  }
}

/**
 * The bucket index rows a commit carries (when this node is a replica of the key's index shard): the
 * write's intent, written by the first batch that takes it, with the deletion of the entries of the
 * versions that batch replaces for good (they would be garbage; see index-rows.ts).
 */
class CarriedRows {
  private intent: IndexIntent | undefined;
  private changeRows: readonly ExtraRow[] = [];

  constructor(intent: IndexIntent | undefined) {
    this.intent = intent;
  }

  /** Adds the rows that log the commit's change. */
  log(rows: readonly ExtraRow[]): void {
    this.changeRows = rows;
  }

  /** The rows for the batch that commits the version: the intent, the entries of the versions it replaced, the change. */
  take(replaced: readonly StoredObject[] = []): readonly ExtraRow[] {
    const intent = this.intent;
    const rows = [...this.changeRows];
    this.intent = undefined;
    this.changeRows = [];
    if (intent !== undefined) rows.push(IndexRows.intentRow(intent), ...replaced.map((version) => ({ key: IndexRows.entryRowKey(intent, version.record.versionId), value: null })));
    return rows;
  }

  /** What no batch took: written on its own once the commit is done. */
  leftover(): { intent: IndexIntent | undefined; changeRows: readonly ExtraRow[] } {
    const left = { intent: this.intent, changeRows: this.changeRows };
    this.intent = undefined;
    this.changeRows = [];
    return left;
  }
}

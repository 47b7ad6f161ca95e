import { lockHold, type ChangeNote, type ObjectRecord, type ShardRef } from '../../rpc/index.js';
import { storedRef, type VersionGone } from '../metadata-store.js';
import { ShardStoreError } from '../shard-store-error.js';
import { lockKey, type StoreCore } from './store-core.js';

/** Deletes of a shard store: versions by id (Object Lock permitting), and the node's copies that rebalance and collection drop. */
export class ShardDeletes {
  private readonly core: StoreCore;

  constructor(core: StoreCore) {
    this.core = core;
  }

  /**
   * Removes one version of a key for good (S3's DELETE with a versionId): when it is the current one,
   * the next newest becomes current. Answers the removed record, or null when the node does not hold it.
   * A version under Object Lock (a legal hold, or retention not yet over: GOVERNANCE unless
   * `bypassGovernance`) is refused with Locked, whatever asked: the gateway checks first, this holds
   * even for a caller that did not.
   */
  deleteVersion(
    bucket: string,
    key: string,
    versionId: string,
    options: { bypassGovernance?: boolean | undefined; change?: ChangeNote | undefined } = {},
  ): Promise<ObjectRecord | null> {
    return this.core.track(
      this.core.keyLocks.run(lockKey(bucket, key), async () => {
        const current = await this.core.metadata.getObject(bucket, key);
        const target = await this.core.metadata.getVersion(bucket, key, versionId);
        const gone: VersionGone = { bucket, key, versionId, deletedMs: this.core.clock(), ...(options.bypassGovernance === true ? { bypassGovernance: true } : {}) };
        const hold = target === undefined ? null : lockHold(target.record, this.core.clock(), options.bypassGovernance === true);
        if (hold !== null) throw new ShardStoreError('Locked', `this version is protected by Object Lock (${hold})`);
        // The change is logged by every node the delete reaches, holding the version or not.
        const changeRows = options.change === undefined ? [] : await this.core.metadata.changes.rowsFor(bucket, key, options.change);
        if (target === undefined) {
          // Not held here (this node missed the write, or a repair has yet to bring it): the tombstone
          // still keeps a later commit of it from bringing it back. `null` itself is no version's id.
          if (versionId !== 'null' && (await this.core.metadata.getVersionGone(bucket, key, versionId)) === undefined) await this.core.metadata.putVersionGone(gone, changeRows);
          else await this.core.metadata.changes.write(changeRows);
          return null;
        }
        const isCurrent = current?.record.versionId === versionId;
        const promote = isCurrent ? (await this.core.metadata.keyVersions(bucket, key)).find((v) => v.record.versionId !== versionId) : undefined;
        // The tombstone whatever the target's `versioning`: a pre-versioning null version deleted by id
        // (DELETE ?versionId=null, a lifecycle expiry) would otherwise come back from a holder that was
        // away, as the audit copies what it finds. Nodes that did not hold it write one too, and the
        // collector drops every tombstone after its grace (gc-worker.ts), versioned or not.
        await this.core.metadata.deleteVersion(target, isCurrent, promote, gone, changeRows);
        this.core.space.release(target.shardSizeBytes);
        await this.core.removeFile(target.file);
        return target.record;
      }),
    );
  }

  /**
   * Forgets the node's copy of a key if it is still `versionId`: rebalance calls this once the new owners
   * hold the version, garbage collection once a tombstone is past its grace. Returns whether it dropped it.
   */
  async dropVersion(bucket: string, key: string, versionId: string): Promise<boolean> {
    return this.core.keyLocks.run(lockKey(bucket, key), async () => {
      const current = await this.core.metadata.getObject(bucket, key);
      if (current === undefined || current.record.versionId !== versionId) return false;
      // Noncurrent versions still here would lose their placement-index row with the key's: they go first.
      if ((await this.core.metadata.keyVersionsPage(bucket, key, null, 2)).some((v) => v.record.versionId !== versionId)) return false;
      const ref = storedRef(current);
      const wasQuarantined = ref !== null && (await this.core.metadata.isQuarantined(ref));
      await this.core.metadata.dropObject(current);
      if (wasQuarantined) this.core.quarantineCount = Math.max(0, this.core.quarantineCount - 1);
      this.core.space.release(current.shardSizeBytes);
      await this.core.removeFile(current.file);
      return true;
    });
  }

  /**
   * Forgets this node's copy of a noncurrent version (rebalance, once the key's new set holds it): no
   * tombstone, no Object Lock check, since the version lives on elsewhere. False when the version is
   * not held here or is the key's current one.
   */
  async dropNoncurrentVersion(bucket: string, key: string, versionId: string): Promise<boolean> {
    return this.core.track(
      this.core.keyLocks.run(lockKey(bucket, key), async () => {
        const current = await this.core.metadata.getObject(bucket, key);
        const target = await this.core.metadata.getVersion(bucket, key, versionId);
        if (target === undefined || current?.record.versionId === versionId) return false;
        const ref = storedRef(target);
        const wasQuarantined = ref !== null && (await this.core.metadata.isQuarantined(ref));
        await this.core.metadata.dropNoncurrent(target);
        if (wasQuarantined) this.core.quarantineCount = Math.max(0, this.core.quarantineCount - 1);
        this.core.space.release(target.shardSizeBytes);
        await this.core.removeFile(target.file);
        return true;
      }),
    );
  }

  /** Drops a quarantine row whose version this node no longer holds (a newer write replaced it). */
  async forgetQuarantined(ref: ShardRef): Promise<void> {
    if (await this.core.metadata.clearQuarantine(ref)) this.core.quarantineCount = Math.max(0, this.core.quarantineCount - 1);
  }
}

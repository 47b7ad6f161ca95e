import { majority, UPLOADS_BUCKET, type ChangeNote, type ObjectRecord } from '../../rpc/index.js';
import { newToken } from '../../common/index.js';
import type { BodyEncryption } from '../encryption/index.js';
import type { ChecksumValue } from '../s3/checksums/index.js';
import { acquireKeyLease, acquireSharedLease, LEASE_RENEW_AFTER_MS, releaseSharedLease, type ExclusiveLease } from './key-lease.js';
import type { RecordWriteDeps, WritePathDeps, WriteStage } from './path-deps.js';
import { withTimeout, type RequestScope } from './request-scope.js';
import { retrySlowCommit } from './read-retry.js';
import { abortShards, commitShards, prepareShards, type CommitCarried, type PreparedShards, type ShardHolder, type WriteTarget } from './shard-prepare-commit.js';
import { forgetGoneBucket, stampOf, type BucketStamp } from './version-writer.js';
import { indexFor, KeyIntent } from './bucket-index.js';
import { versionNote, withReplicationStatus, type PendingChange } from './change-notes.js';

/** What a stored version carries besides its bytes. */
export interface VersionAttributes {
  contentType: string;
  userMetadata: Record<string, string>;
  headers: Record<string, string>;
  tags: Record<string, string>;
  /** The writer's canonical id, when it is not the bucket's owner. */
  owner?: string;
  /** The ACL the write sets (x-amz-acl, x-amz-grant-*); absent: private. */
  grants?: { grantee: string; permission: string }[];
  /** Object Lock retention (x-amz-object-lock-* or the bucket's default); absent: none. */
  retention?: NonNullable<ObjectRecord['retention']>;
  /** Object Lock legal hold (x-amz-object-lock-legal-hold); absent: never set. */
  legalHold?: boolean;
  /** REPLICA: the version is another cluster's replica (docs/replication.md). */
  replicationStatus?: 'REPLICA';
  /** A replica's own version id, committed under instead of one taken at commit (the clock observed it). */
  versionId?: string;
}

/** What a body's checks produce once it has been read to the end. */
export interface VerifiedBody {
  md5Hex: string;
  checksums: ChecksumValue[];
}

/** How a version's body is received. */
export interface ReceiveOptions {
  /**
   * Hold the key's exclusive lease (key-lease.ts) from holdKey() until the commit is acknowledged, so a
   * conditional write's last check and its commit are atomic against every other write of the key;
   * without it the write holds a shared lease from its prepare to its commit.
   */
  exclusive?: boolean | undefined;
  /** Encrypts the body before it is erasure-coded: the shards hold only its packages (server-side encryption). */
  encryption?: BodyEncryption | undefined;
  /** The body size when declared (Content-Length): sizes a short object's only stripe exactly. */
  expectedSizeBytes?: number | undefined;
}

/**
 * A version whose body is durable on a write quorum and not yet visible. A writer drives its stages in
 * order: `receive` (the body encoded and its shards prepared), the body's own checks (`guard`ed),
 * `holdKey` (the key's lease), any condition on the key (`guard`ed), then `commit`. A failed stage
 * abandons the version: its lease is given back and its shards aborted.
 */
export class PendingVersion {
  /** The body's size as the client sent it (before any encryption). */
  readonly sizeBytes: number;
  private readonly ctx: RequestScope<WritePathDeps>;
  private readonly target: WriteTarget;
  private readonly prepared: PreparedShards;
  private readonly stamp: BucketStamp;
  private readonly encryption: BodyEncryption | undefined;
  private readonly exclusive: boolean;
  private stageStartMs: number;
  private lease: ExclusiveLease | undefined;
  /** The write's intent on the bucket's index; undefined when the bucket keeps none. */
  private intent: KeyIntent | undefined;
  private held = false;

  private constructor(ctx: RequestScope<WritePathDeps>, target: WriteTarget, prepared: PreparedShards, stamp: BucketStamp, options: ReceiveOptions, startedMs: number, intent: KeyIntent | undefined) {
    this.ctx = ctx;
    this.target = target;
    this.prepared = prepared;
    this.stamp = stamp;
    this.encryption = options.encryption;
    this.exclusive = options.exclusive === true;
    this.sizeBytes = options.encryption === undefined ? prepared.sizeBytes : options.encryption.plainBytes();
    this.stageStartMs = startedMs;
    this.intent = intent;
    this.stageDone('prepare');
  }

  /** Stage one: encodes `body` (encrypted first when asked) and prepares its shards on a write quorum of bucket/key's nodes. */
  static async receive(ctx: RequestScope<WritePathDeps>, bucket: string, key: string, body: AsyncIterable<Uint8Array>, options: ReceiveOptions = {}): Promise<PendingVersion> {
    const { services } = ctx;
    const bucketRecord = bucket === UPLOADS_BUCKET ? undefined : await services.buckets.require(bucket, ctx.signal);
    const stamp = bucketRecord === undefined ? {} : stampOf(bucketRecord);
    const startedMs = performance.now();
    const target: WriteTarget = {
      bucket,
      key,
      // The id the shards are prepared under; the version's own id is taken at commit.
      versionId: services.clock.next(),
      nodes: services.cluster.nodesFor(bucket, key),
      erasure: services.erasure,
      codec: services.codec,
      ...(options.exclusive === true ? {} : { leaseToken: newToken() }),
    };
    const { encryption, expectedSizeBytes: expected } = options;
    // The index's intent is written while the body streams: it must be durable before the commit.
    const [prepared, intent] = await Promise.allSettled([
      prepareShards(target, encryption === undefined ? body : encryption.encrypt(body, expected), {
        signal: ctx.signal,
        stallTimeoutMs: services.stallTimeoutMs,
        expectedSizeBytes: encryption === undefined || expected === undefined ? expected : encryption.storedSize(expected),
        stripePool: services.stripePool,
      }),
      indexFor(ctx, bucket, key, bucketRecord).then((index) => KeyIntent.announce(ctx, index, key, target.versionId, ctx.signal, { carriedBy: target.nodes })),
    ]);
    if (prepared.status === 'fulfilled' && intent.status === 'fulfilled') return new PendingVersion(ctx, target, prepared.value, stamp, options, startedMs, intent.value);
    // Nothing will commit: the intent is ended, the prepared shards aborted, and the shared lease the
    // nodes granted with the prepares given back, or it would hold back conditional writes of the key
    // for the lease's whole lifetime.
    if (intent.status === 'fulfilled') intent.value?.abandon();
    if (prepared.status === 'fulfilled') await abortShards(target, prepared.value.holders);
    if (target.leaseToken !== undefined) await releaseSharedLease(ctx, bucket, key, target.leaseToken);
    throw prepared.status === 'rejected' ? prepared.reason : (intent as PromiseRejectedResult).reason;
  }

  /** Awaits a check the writer runs between stages; if it fails, the version is abandoned and the failure thrown. */
  async guard<T>(check: Promise<T>): Promise<T> {
    try {
      return await check;
    } catch (err) {
      await this.abandon();
      throw err;
    }
  }

  /**
   * Takes the key's lease for the commit (exclusive, or the shared one made sure of) and answers the
   * newest record the nodes granting an exclusive lease held, which a conditional write's check must
   * count with what it reads. Abandons the version if the lease cannot be had.
   */
  async holdKey(): Promise<ObjectRecord | undefined> {
    this.held = true;
    try {
      if (this.exclusive) this.lease = await acquireKeyLease(this.ctx, this.target.bucket, this.target.key);
      else await holdSharedLease(this.ctx, this.target, this.prepared.holders);
    } catch (err) {
      await this.abandon();
      throw err;
    }
    return this.lease?.current;
  }

  /** Gives back the key's lease and aborts the prepared shards: a body or condition failed its check, nothing may stay prepared. */
  async abandon(): Promise<void> {
    await this.lease?.release();
    const { bucket, key, leaseToken } = this.target;
    if (leaseToken !== undefined) await releaseSharedLease(this.ctx, bucket, key, leaseToken);
    await abortShards(this.target, this.prepared.holders);
    this.intent?.abandon();
  }

  /**
   * Last stage: commits the version's record on a write quorum under a version id taken now, with
   * every shard durable and every check passed (under the lease when exclusive): the version's place in
   * the key's history is when it commits, so of overlapping writes the one that completes last is the
   * newest. The shards keep the id they were prepared under. `change`: the event the write makes, when
   * the bucket's notification configurations or replication rules select it; its note commits with the
   * version on every node (a replication rule's makes the version PENDING replication).
   */
  async commit(attributes: VersionAttributes, verified: VerifiedBody, change?: PendingChange): Promise<ObjectRecord> {
    if (!this.held) throw new Error('a version is committed only once its key is held');
    this.stageDone('checks');
    const { ctx, target, prepared } = this;
    const record = withReplicationStatus(this.record(attributes, verified), change);
    const note = versionNote(change, record);
    // Shards left prepared by a failed commit are garbage for the collector, like any aborted write. A
    // round lost only to slow nodes is sent again (commits are idempotent): a busy machine slows a PUT
    // whose nodes all hold their shard, it does not refuse it.
    try {
      // A write that began before every gateway saw its bucket's index build announce itself now: the
      // build waits out the bucket-record cache's lifetime, not the time a body takes to arrive.
      this.intent ??= await KeyIntent.announce(ctx, await indexFor(ctx, target.bucket, target.key, undefined), target.key, target.versionId, withTimeout(undefined, ctx.services.metadataTimeoutMs), {
        carriedBy: target.nodes,
      });
      await this.intent?.keepFresh();
      const carried = carriedWith(this.intent?.carried(), note);
      await retrySlowCommit(ctx, (signal) => commitShards(target, prepared.holders, record, signal, prepared.stragglers, carried));
      this.stageDone('commit');
      this.intent?.settle(record);
    } catch (err) {
      // Nodes the commit reached gave the shared lease back themselves; the others are told.
      if (target.leaseToken !== undefined) await releaseSharedLease(ctx, target.bucket, target.key, target.leaseToken);
      throw forgetGoneBucket(ctx, err);
    } finally {
      await this.lease?.release(record.versionId);
    }
    // Nodes whose prepare answered too late for the commit hold a shard of this version and the shared
    // lease: they commit it too, without the client waiting, which gives the lease back (a conditional
    // write of the key need not wait for it to expire) and leaves their shard in place for reads.
    if (target.leaseToken !== undefined) commitLate(record, prepared.stragglers, target.leaseToken, ctx.services.metadataTimeoutMs, note);
    return record;
  }

  private record(attributes: VersionAttributes, verified: VerifiedBody): ObjectRecord {
    const { services } = this.ctx;
    const { encryption } = this;
    const { tags, versionId, ...rest } = attributes;
    return {
      bucket: this.target.bucket,
      key: this.target.key,
      versionId: versionId ?? services.clock.next(),
      dataId: this.target.versionId,
      deleted: false,
      sizeBytes: this.sizeBytes,
      etag: `"${encryption === undefined ? verified.md5Hex : encryption.etagOf(verified.md5Hex)}"`,
      lastModifiedMs: services.clock.nowMs(),
      ...rest,
      ...(Object.keys(tags).length > 0 ? { tags } : {}),
      checksums: Object.fromEntries(verified.checksums.map((c) => [c.algorithm, c.base64])),
      erasure: services.erasure,
      ...this.stamp,
      ...(encryption === undefined ? {} : { encryption: encryption.field, storedSizeBytes: this.prepared.sizeBytes }),
    };
  }

  private stageDone(stage: WriteStage): void {
    const observe = this.ctx.services.observeWriteStage;
    if (observe === undefined) return;
    const nowMs = performance.now();
    observe(stage, (nowMs - this.stageStartMs) / 1000);
    this.stageStartMs = nowMs;
  }
}

/** What the commit carries besides the record; nothing to allocate for a write with neither (the usual PUT). */
function carriedWith(indexIntent: CommitCarried['indexIntent'], note: ChangeNote | undefined): CommitCarried | undefined {
  if (note === undefined) return indexIntent === undefined ? undefined : { indexIntent };
  return indexIntent === undefined ? { change: note } : { indexIntent, change: note };
}

function commitLate(record: ObjectRecord, stragglers: readonly Promise<ShardHolder | undefined>[], leaseToken: string, timeoutMs: number, note: ChangeNote | undefined): void {
  for (const straggler of stragglers) {
    void straggler
      .then((holder) => {
        if (holder === undefined) return undefined;
        const { shardIndex } = holder;
        // The change's note goes with every commit of the version, a late one too: each node logs what it applies.
        const request = note === undefined ? { record, shardIndex, leaseToken } : { record, shardIndex, leaseToken, change: note };
        return holder.node.commit(request, { signal: AbortSignal.timeout(timeoutMs) });
      })
      .catch(() => undefined);
  }
}

/**
 * Makes sure a plain write holds its key's shared lease on a majority of the key's set before its
 * version id is taken: granted with the prepares (each node grants it once its shard is durable),
 * asked for now otherwise (nodes that refused while a conditional write held the key, or grants so
 * old, after a slow node held the prepares' tail, that they must be renewed; the same token renews
 * them). The clock observes every fence the nodes reported, so the id follows every conditional
 * write that held the key before.
 */
async function holdSharedLease(ctx: RequestScope<RecordWriteDeps>, target: WriteTarget, holders: readonly ShardHolder[]): Promise<void> {
  if (target.leaseToken === undefined) return;
  const needed = majority(target.nodes.length);
  const renewBeforeMs = performance.now() - LEASE_RENEW_AFTER_MS;
  let granted = 0;
  for (const holder of holders) {
    if (holder.lease?.fence !== undefined) ctx.services.clock.observe(holder.lease.fence);
    if (holder.lease?.granted === true && (holder.answeredMs ?? 0) > renewBeforeMs) granted += 1;
  }
  if (granted >= needed) return;
  await acquireSharedLease(ctx, target.bucket, target.key, target.leaseToken);
}

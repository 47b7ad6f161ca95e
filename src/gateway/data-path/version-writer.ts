import { decideQuorum, EncodedCommit, fanOut, majority, UPLOADS_BUCKET, writeQuorum, type BucketRecord, type NodeClient, type NodeFailure, type ObjectRecord } from '../../rpc/index.js';
import { newToken } from '../../common/index.js';
import { BodyDigest } from '../digest/index.js';
import type { BodyEncryption } from '../encryption/index.js';
import type { ChecksumAlgorithm, ChecksumValue } from '../s3/checksums/index.js';
import { LOCKED_MESSAGE, quorumError, S3Error } from '../s3/index.js';
import { acquireKeyLease, acquireSharedLease, LEASE_RENEW_AFTER_MS, releaseSharedLease, type ExclusiveLease } from './key-lease.js';
import { withTimeout, type RequestScope, type WriteStage } from './request-scope.js';
import { retrySlowCommit } from './read-retry.js';
import { abortShards, commitShards, prepareShards, type PreparedShards, type ShardHolder, type WriteTarget } from './shard-writer.js';

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
}

/** Options of a version write. */
export interface WriteVersionOptions {
  /** Checksum to compute and store when the client sends none (a multipart upload's algorithm). */
  checksumAlgorithm?: ChecksumAlgorithm | undefined;
  /**
   * Runs after the data is durable on a write quorum and before the version becomes visible: the
   * last moment to re-check a conditional write. `seen`: the newest record the nodes granting the
   * key's lease held, which the check must count with what it reads.
   */
  beforeCommit?: ((seen?: ObjectRecord) => Promise<void>) | undefined;
  /**
   * Hold the key's exclusive lease (key-lease.ts) from before `beforeCommit` until the commit is
   * acknowledged, so a conditional write's last check and its commit are atomic against every other
   * write of the key; without it the write holds a shared lease from its prepare to its commit.
   */
  exclusive?: boolean | undefined;
  /** Encrypts the body before it is erasure-coded: the shards hold only its packages (server-side encryption). */
  encryption?: BodyEncryption | undefined;
}

/** What a body's checks produce once it has been read to the end. */
export interface VerifiedBody {
  md5Hex: string;
  checksums: ChecksumValue[];
}

/**
 * Writes a new version of bucket/key from `body`: prepares its shards on a write quorum, runs `finish`
 * (the body's last checks) and `beforeCommit`, then commits the record under a version id taken at
 * that moment; aborts the shards if any fails.
 */
export async function storeVersion(
  ctx: RequestScope,
  bucket: string,
  key: string,
  attributes: VersionAttributes,
  body: AsyncIterable<Uint8Array>,
  finish: (sizeBytes: number) => Promise<VerifiedBody>,
  options: WriteVersionOptions & { expectedSizeBytes?: number | undefined },
): Promise<ObjectRecord> {
  const { services } = ctx;
  const stamp = await bucketStamp(ctx, bucket);
  const exclusive = options.exclusive === true;
  const target: WriteTarget = {
    bucket,
    key,
    // The id the shards are prepared under; the version's own id is taken at commit (below).
    versionId: services.clock.next(),
    nodes: services.cluster.nodesFor(bucket, key),
    erasure: services.erasure,
    codec: services.codec,
    ...(exclusive ? {} : { leaseToken: newToken() }),
  };
  const { encryption } = options;
  const expected = options.expectedSizeBytes;
  const leaseToken = target.leaseToken;
  const observe = services.observeWriteStage;
  let stageStartMs = performance.now();
  const stageDone = (stage: WriteStage): void => {
    if (observe === undefined) return;
    const nowMs = performance.now();
    observe(stage, (nowMs - stageStartMs) / 1000);
    stageStartMs = nowMs;
  };
  let prepared: PreparedShards;
  try {
    prepared = await prepareShards(target, encryption === undefined ? body : encryption.encrypt(body, expected), {
      signal: ctx.signal,
      stallTimeoutMs: services.stallTimeoutMs,
      expectedSizeBytes: encryption === undefined || expected === undefined ? expected : encryption.storedSize(expected),
      stripePool: services.stripePool,
    });
  } catch (err) {
    // The prepares failed: give back the shared lease the nodes granted with them, or it would hold
    // back conditional writes of the key for the lease's whole lifetime.
    if (leaseToken !== undefined) await releaseSharedLease(ctx, bucket, key, leaseToken);
    throw err;
  }
  stageDone('prepare');
  const { sizeBytes: storedSizeBytes, holders, stragglers } = prepared;
  const sizeBytes = encryption === undefined ? storedSizeBytes : encryption.plainBytes();
  let verified: VerifiedBody;
  let lease: ExclusiveLease | undefined;
  try {
    verified = await finish(sizeBytes);
    if (exclusive) lease = await acquireKeyLease(ctx, bucket, key);
    else await holdSharedLease(ctx, target, holders);
    await options.beforeCommit?.(lease?.current);
    stageDone('checks');
  } catch (err) {
    // A body that failed its last checks, or a condition that no longer holds: nothing may stay prepared.
    await lease?.release();
    if (target.leaseToken !== undefined) await releaseSharedLease(ctx, bucket, key, target.leaseToken);
    await abortShards(target, holders);
    throw err;
  }
  const { tags, ...rest } = attributes;
  const record: ObjectRecord = {
    bucket,
    key,
    // Taken now, with every shard durable and every check passed (under the lease when exclusive): the
    // version's place in the key's history is when it commits, so of overlapping writes the one that
    // completes last is the newest. The shards keep the id they were prepared under.
    versionId: services.clock.next(),
    dataId: target.versionId,
    deleted: false,
    sizeBytes,
    etag: `"${encryption === undefined ? verified.md5Hex : encryption.etagOf(verified.md5Hex)}"`,
    lastModifiedMs: services.clock.nowMs(),
    ...rest,
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    checksums: Object.fromEntries(verified.checksums.map((c) => [c.algorithm, c.base64])),
    erasure: services.erasure,
    ...stamp,
    ...(encryption === undefined ? {} : { encryption: encryption.field, storedSizeBytes }),
  };
  // Shards left prepared by a failed commit are garbage for the collector, like any aborted write. A
  // round lost only to slow nodes is sent again (commits are idempotent): a busy machine slows a PUT
  // whose nodes all hold their shard, it does not refuse it.
  try {
    await retrySlowCommit(ctx, (signal) => commitShards(target, holders, record, signal, stragglers));
    stageDone('commit');
  } catch (err) {
    // Nodes the commit reached gave the shared lease back themselves; the others are told.
    if (target.leaseToken !== undefined) await releaseSharedLease(ctx, bucket, key, target.leaseToken);
    throw forgetGoneBucket(ctx, err);
  } finally {
    await lease?.release(record.versionId);
  }
  // Nodes whose prepare answered too late for the commit hold a shard of this version and the shared
  // lease: they commit it too, without the client waiting, which gives the lease back (a conditional
  // write of the key need not wait for it to expire) and leaves their shard in place for reads.
  if (target.leaseToken !== undefined) commitLate(record, stragglers, target.leaseToken, services.metadataTimeoutMs);
  return record;
}

function commitLate(record: ObjectRecord, stragglers: readonly Promise<ShardHolder | undefined>[], leaseToken: string, timeoutMs: number): void {
  for (const straggler of stragglers) {
    void straggler
      .then((holder) => holder?.node.commit({ record, shardIndex: holder.shardIndex, leaseToken }, { signal: AbortSignal.timeout(timeoutMs) }))
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
async function holdSharedLease(ctx: RequestScope, target: WriteTarget, holders: readonly ShardHolder[]): Promise<void> {
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

/**
 * Streams bytes that are already in the store (a copy source) or a form's file into a new version,
 * computing its MD5 and, when asked, a flexible checksum on the way: never more than a stripe is held.
 * `verify` sees the digests once the source has ended and refuses the write by throwing (a form's
 * Content-MD5 or checksum field that does not match).
 */
export async function writeStream(
  ctx: RequestScope,
  bucket: string,
  key: string,
  attributes: VersionAttributes,
  source: AsyncIterable<Uint8Array>,
  options: WriteVersionOptions & { verify?: ((body: VerifiedBody) => void) | undefined } = {},
): Promise<ObjectRecord> {
  const algorithm = options.checksumAlgorithm;
  const digest = new BodyDigest({ sha256: false, checksum: algorithm }, ctx.services.digestPool);
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const piece of source) {
      if (!digest.update(piece)) await digest.ready();
      yield piece;
    }
  }
  try {
    return await storeVersion(ctx, bucket, key, attributes, hashed(), async () => {
      const digests = await digest.digests();
      const verified: VerifiedBody = {
        md5Hex: Buffer.from(digests.md5).toString('hex'),
        checksums: algorithm === undefined || digests.checksum === undefined ? [] : [{ algorithm, base64: Buffer.from(digests.checksum).toString('base64') }],
      };
      options.verify?.(verified);
      return verified;
    }, options);
  } finally {
    digest.abandon();
  }
}

/**
 * Commits a record-only version (delete marker, multipart manifest, upload marker) on the key's nodes;
 * succeeds on a write quorum.
 */
export async function commitRecord(ctx: RequestScope, record: ObjectRecord, options: { leaseToken?: string | undefined } = {}): Promise<void> {
  const { services } = ctx;
  const nodes = services.cluster.nodesFor(record.bucket, record.key);
  // Not the client's: a commit some nodes may have applied is seen through to its quorum (or its
  // failure) even if the client leaves, as a body's commit is. A completion cut off between its
  // manifest and its closing marker left the object visible and the upload open, and a part uploaded
  // again then took the object's bytes; cut-off deletes left markers on fewer than a write quorum.
  // A round lost only to slow nodes is sent again with a stretched deadline, as reads are: a busy
  // machine must not refuse a delete (which no SDK retries alone inside a DeleteObjects batch).
  // Serialised and hashed once for the whole set: a manifest of thousands of parts is megabytes.
  const encoded = new EncodedCommit({ record, shardIndex: null, ...(options.leaseToken === undefined ? {} : { leaseToken: options.leaseToken }) });
  await retrySlowCommit(ctx, async (signal) => {
    const outcomes = await fanOut(nodes, (node) => node.commit(encoded, { signal }));
    const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
    if (!decision.met) throw forgetGoneBucket(ctx, quorumError('record write', decision.failures, record.bucket));
  });
}

/** `err`, after dropping the cached record of a bucket a commit found gone: the next request reads it anew. */
function forgetGoneBucket<E>(ctx: RequestScope, err: E): E {
  const bucket = err instanceof S3Error && err.code === 'NoSuchBucket' ? err.fields['BucketName'] : undefined;
  if (bucket !== undefined) ctx.services.buckets.forget(bucket);
  return err;
}

/**
 * The versioning state of a bucket (from the cached bucket record), which every version written to it
 * carries; undefined while versioning was never enabled, and for the internal uploads bucket.
 */
export async function bucketVersioning(ctx: RequestScope, bucket: string): Promise<BucketRecord['versioning']> {
  return (await bucketStamp(ctx, bucket)).versioning;
}

/** What every version written into a bucket takes from the bucket's record (see bucketStamp). */
export type BucketStamp = Pick<ObjectRecord, 'versioning' | 'bucketCreatedMs'>;

/**
 * What a version written into `bucket` carries from the (cached) bucket record: the versioning state,
 * and the incarnation, which the nodes check so that a write never lands in a bucket deleted since, or
 * in another bucket created under the same name (bucket-incarnations.md). Nothing for the uploads bucket.
 */
export async function bucketStamp(ctx: RequestScope, bucket: string): Promise<BucketStamp> {
  if (bucket === UPLOADS_BUCKET) return {};
  return stampOf(await ctx.services.buckets.require(bucket, ctx.signal));
}

/** What a version written into the bucket of `record` carries from it (see bucketStamp). */
export function stampOf(record: BucketRecord): BucketStamp {
  return { ...(record.versioning === undefined ? {} : { versioning: record.versioning }), bucketCreatedMs: record.createdMs };
}

/** A delete marker for bucket/key: hides every older version; S3 answers 204 whether or not the key existed. */
export function deleteMarker(ctx: RequestScope, bucket: string, key: string, stamp: BucketStamp = {}): ObjectRecord {
  return {
    bucket,
    key,
    versionId: ctx.services.clock.next(),
    deleted: true,
    sizeBytes: 0,
    etag: '""',
    lastModifiedMs: ctx.services.clock.nowMs(),
    contentType: '',
    userMetadata: {},
    headers: {},
    checksums: {},
    erasure: ctx.services.erasure,
    ...stamp,
  };
}

/** Writes a delete marker to the key's nodes (a versioned one under bucket versioning) and answers it. */
export async function deleteKey(ctx: RequestScope, bucket: string, key: string): Promise<ObjectRecord> {
  const stamp = await bucketStamp(ctx, bucket);
  return commitPlainRecord(ctx, bucket, key, () => deleteMarker(ctx, bucket, key, stamp));
}

/**
 * Commits a record-only plain write of bucket/key (a delete marker, a multipart completion) under the
 * key's shared lease, as storeVersion does for a body: `build` takes the version id once the lease is
 * held, so the version follows every conditional write that held the key, and its commit gives the
 * lease back (a failed one gives it back here).
 */
export async function commitPlainRecord(ctx: RequestScope, bucket: string, key: string, build: () => ObjectRecord): Promise<ObjectRecord> {
  const leaseToken = newToken();
  await acquireSharedLease(ctx, bucket, key, leaseToken);
  try {
    const record = build();
    await commitRecord(ctx, record, { leaseToken });
    return record;
  } catch (err) {
    await releaseSharedLease(ctx, bucket, key, leaseToken);
    throw err;
  }
}

/**
 * Removes one version (or delete marker) of a key for good on every node of its set; a write quorum
 * must acknowledge. Answers the record removed, or null when no node held it.
 *
 * While a ring change moves the key, the members of the previous ring's set that left it get the
 * delete too, in the same round: until the rebalance moves the key they hold its versions, and a copy
 * they keep could come back. The answer and its quorum are the current set's alone: a read needs a
 * read quorum of the current set, which meets the delete's tombstones, so a previous member that fails
 * (down, slow, or leaving the cluster) does not fail the delete. Its failure is logged, and the copy it
 * keeps is left to the rebalance, which takes the new set's tombstones as the version's end
 * (rebalance-worker.ts). Object Lock is the exception: a previous member refusing for
 * it refuses the delete, as a current member's refusal does when it costs the quorum. It holds a
 * locked copy the current set may not have yet, which the gateway's own check (looking in both sets)
 * would have refused as well.
 */
export async function deleteVersion(
  ctx: RequestScope,
  bucket: string,
  key: string,
  versionId: string,
  options: { bypassGovernance?: boolean } = {},
): Promise<ObjectRecord | null> {
  const { services } = ctx;
  const { nodes, previous = [] } = services.cluster.readSets(bucket, key);
  const leaving = previous.filter((node) => !nodes.includes(node));
  // Seen through if the client leaves, as commitRecord's writes are.
  const signal = withTimeout(undefined, services.metadataTimeoutMs);
  // Nodes refuse a version under Object Lock themselves; the bypass is passed only when the caller checked it is allowed.
  const bypass = options.bypassGovernance === true ? { bypassGovernance: true } : {};
  const remove = (node: NodeClient): Promise<ObjectRecord | null> => node.deleteVersion({ bucket, key, versionId, ...bypass }, { signal });
  const [outcomes, leavingOutcomes] = await Promise.all([fanOut(nodes, remove), fanOut(leaving, remove)]);
  const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
  const leavingDecision = decideQuorum(leavingOutcomes, 0);
  // Nodes answer Conflict only for a version under Object Lock: the caller's check saw none (a bucket
  // record cached from before the lock was enabled), the nodes' own check holds.
  const lockRefused = (failures: readonly NodeFailure[]): boolean => failures.some((f) => f.code === 'Conflict');
  if (lockRefused(leavingDecision.failures) || (!decision.met && lockRefused(decision.failures))) {
    throw new S3Error('AccessDenied', { message: LOCKED_MESSAGE });
  }
  if (!decision.met) throw quorumError('version delete', decision.failures);
  if (leavingDecision.failures.length > 0) {
    services.logger.warn({ bucket, key, versionId, failures: leavingDecision.failures }, 'a delete by id did not reach every member of the previous ring\'s set');
  }
  return [...decision.successes, ...leavingDecision.successes].map(({ value }) => value).find((record) => record !== null) ?? null;
}

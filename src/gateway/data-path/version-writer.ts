import { decideQuorum, EncodedCommit, fanOut, UPLOADS_BUCKET, writeQuorum, type BucketRecord, type NodeClient, type NodeFailure, type ObjectRecord } from '../../rpc/index.js';
import { newToken } from '../../common/index.js';
import { LOCKED_MESSAGE, quorumError, S3Error } from '../s3/index.js';
import { acquireSharedLease, releaseSharedLease } from './key-lease.js';
import type { RecordWriteDeps } from './path-deps.js';
import { withTimeout, type RequestScope } from './request-scope.js';
import { retrySlowCommit } from './read-retry.js';
import { indexFor, KeyIntent, type BucketIndexDeps } from './bucket-index.js';
import { noteOf, versionNote, withReplicationStatus, type PendingChange } from './change-notes.js';

/** How a record-only version commits: under a shared lease's token, and with the change it makes when the bucket's notification configurations select it. */
export interface RecordCommitOptions {
  leaseToken?: string | undefined;
  /** The event the version is; its note commits with the version on every node. */
  change?: PendingChange | undefined;
}

/**
 * Commits a record-only version (delete marker, multipart manifest, upload marker) on the key's nodes;
 * succeeds on a write quorum. Answers the record as committed (PENDING replication when the change has
 * a replication destination).
 */
export async function commitRecord(ctx: RequestScope<Omit<RecordWriteDeps, 'logger'>>, given: ObjectRecord, options: RecordCommitOptions = {}): Promise<ObjectRecord> {
  const { services } = ctx;
  const record = withReplicationStatus(given, options.change);
  const nodes = services.cluster.nodesFor(record.bucket, record.key);
  const bucket = record.bucket === UPLOADS_BUCKET ? undefined : await services.buckets.require(record.bucket, ctx.signal);
  // An indexed bucket's index hears of the write before it can commit (bucket-index.ts).
  const intent = await KeyIntent.announce(ctx, await indexFor(ctx, record.bucket, record.key, bucket), record.key, record.versionId, withTimeout(undefined, services.metadataTimeoutMs), { carriedBy: nodes });
  const indexIntent = intent?.carried();
  const note = versionNote(options.change, record);
  // Not the client's: a commit some nodes may have applied is seen through to its quorum (or its
  // failure) even if the client leaves, as a body's commit is. A completion cut off between its
  // manifest and its closing marker left the object visible and the upload open, and a part uploaded
  // again then took the object's bytes; cut-off deletes left markers on fewer than a write quorum.
  // A round lost only to slow nodes is sent again with a stretched deadline, as reads are: a busy
  // machine must not refuse a delete (which no SDK retries alone inside a DeleteObjects batch).
  // Serialised and hashed once for the whole set: a manifest of thousands of parts is megabytes.
  const encoded = new EncodedCommit({
    record,
    shardIndex: null,
    ...(options.leaseToken === undefined ? {} : { leaseToken: options.leaseToken }),
    ...(indexIntent === undefined ? {} : { indexIntent }),
    ...(note === undefined ? {} : { change: note }),
  });
  await retrySlowCommit(ctx, async (signal) => {
    const outcomes = await fanOut(nodes, (node) => node.commit(encoded, { signal }));
    const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
    if (!decision.met) throw forgetGoneBucket(ctx, quorumError('record write', decision.failures, record.bucket));
  });
  intent?.settle(record);
  return record;
}

/** `err`, after dropping the cached record of a bucket a commit found gone: the next request reads it anew. */
export function forgetGoneBucket<E>(ctx: RequestScope<Pick<RecordWriteDeps, 'buckets'>>, err: E): E {
  const bucket = err instanceof S3Error && err.code === 'NoSuchBucket' ? err.fields['BucketName'] : undefined;
  if (bucket !== undefined) ctx.services.buckets.forget(bucket);
  return err;
}

/** What every version written into a bucket takes from the bucket's record (see bucketStamp). */
export type BucketStamp = Pick<ObjectRecord, 'versioning' | 'bucketCreatedMs'>;

/**
 * What a version written into `bucket` carries from the (cached) bucket record: the versioning state,
 * and the incarnation, which the nodes check so that a write never lands in a bucket deleted since, or
 * in another bucket created under the same name (bucket-incarnations.md). Nothing for the uploads bucket.
 */
export async function bucketStamp(ctx: RequestScope<Pick<RecordWriteDeps, 'buckets'>>, bucket: string): Promise<BucketStamp> {
  if (bucket === UPLOADS_BUCKET) return {};
  return stampOf(await ctx.services.buckets.require(bucket, ctx.signal));
}

/** What a version written into the bucket of `record` carries from it (see bucketStamp). */
export function stampOf(record: BucketRecord): BucketStamp {
  return { ...(record.versioning === undefined ? {} : { versioning: record.versioning }), bucketCreatedMs: record.createdMs };
}

/** A delete marker for bucket/key: hides every older version; S3 answers 204 whether or not the key existed. */
export function deleteMarker(ctx: RequestScope<Pick<RecordWriteDeps, 'clock' | 'erasure'>>, bucket: string, key: string, stamp: BucketStamp = {}): ObjectRecord {
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

/** What a replica's delete marker is written with: REPLICA, and the source's version id when it names one. */
export type ReplicaMarker = Partial<Pick<ObjectRecord, 'versionId'>> & { replicationStatus: 'REPLICA' };

/**
 * Writes a delete marker to the key's nodes (a versioned one under bucket versioning) and answers it;
 * `change`: the event it is, when the bucket's notification configurations or replication rules select
 * it; `replica`: the marker is another cluster's replica. `exclusiveLeaseHeld`: the caller holds the
 * key's exclusive lease (a conditional delete), so the marker commits under it rather than a shared one.
 */
export async function deleteKey(ctx: RequestScope<RecordWriteDeps>, bucket: string, key: string, change?: PendingChange, replica?: ReplicaMarker, exclusiveLeaseHeld = false): Promise<ObjectRecord> {
  const stamp = await bucketStamp(ctx, bucket);
  const build = (): ObjectRecord => ({ ...deleteMarker(ctx, bucket, key, stamp), ...replica });
  if (exclusiveLeaseHeld) return commitRecord(ctx, build(), { change });
  return commitPlainRecord(ctx, bucket, key, build, change);
}

/**
 * Commits a record-only plain write of bucket/key (a delete marker, a multipart completion) under the
 * key's shared lease, as PendingVersion does for a body: `build` takes the version id once the lease is
 * held, so the version follows every conditional write that held the key, and its commit gives the
 * lease back (a failed one gives it back here).
 */
export async function commitPlainRecord(ctx: RequestScope<RecordWriteDeps>, bucket: string, key: string, build: () => ObjectRecord, change?: PendingChange): Promise<ObjectRecord> {
  const leaseToken = newToken();
  await acquireSharedLease(ctx, bucket, key, leaseToken);
  try {
    return await commitRecord(ctx, build(), { leaseToken, change });
  } catch (err) {
    await releaseSharedLease(ctx, bucket, key, leaseToken);
    throw err;
  }
}

/** How a version is deleted by its id. */
export interface VersionDeleteOptions {
  /** The requester may and asked to bypass GOVERNANCE retention. */
  bypassGovernance?: boolean;
  /** The event the delete is, when the bucket's notification configurations select it; its note goes with the delete. */
  change?: PendingChange | undefined;
  /** The version id the client named, as the change's note shows it (absent when the bucket was never versioned). */
  shownVersionId?: string | undefined;
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
  ctx: RequestScope<BucketIndexDeps & Pick<RecordWriteDeps, 'logger'>>,
  bucket: string,
  key: string,
  versionId: string,
  options: VersionDeleteOptions = {},
): Promise<ObjectRecord | null> {
  const { services } = ctx;
  const { nodes, previous = [] } = services.cluster.readSets(bucket, key);
  const leaving = previous.filter((node) => !nodes.includes(node));
  // Seen through if the client leaves, as commitRecord's writes are.
  const signal = withTimeout(undefined, services.metadataTimeoutMs);
  // Nodes refuse a version under Object Lock themselves; the bypass is passed only when the caller checked it is allowed.
  const bypass = options.bypassGovernance === true ? { bypassGovernance: true } : {};
  const bucketRecord = bucket === UPLOADS_BUCKET ? undefined : await services.buckets.require(bucket, signal);
  // The delete's own place among the key's changes: the index's intent and the change's note are ordered by it.
  const deleteId = services.clock.next();
  const intent = await KeyIntent.announce(ctx, await indexFor(ctx, bucket, key, bucketRecord), key, deleteId, signal);
  const remove = (node: NodeClient): Promise<ObjectRecord | null> => node.deleteVersion({ bucket, key, versionId, ...bypass }, { signal });
  // The note goes to the current set only, as a commit's does: the members leaving it give the key up.
  const note = options.change === undefined ? undefined : noteOf(options.change, { timeMs: services.clock.nowMs(), orderId: deleteId, versionId: options.shownVersionId });
  const removeNoted = note === undefined ? remove : (node: NodeClient): Promise<ObjectRecord | null> => node.deleteVersion({ bucket, key, versionId, ...bypass, change: note }, { signal });
  const [outcomes, leavingOutcomes] = await Promise.all([fanOut(nodes, removeNoted), fanOut(leaving, remove)]);
  const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
  const leavingDecision = decideQuorum(leavingOutcomes, 0);
  // Nodes answer Conflict only for a version under Object Lock: the caller's check saw none (a bucket
  // record cached from before the lock was enabled), the nodes' own check holds.
  const lockRefused = (failures: readonly NodeFailure[]): boolean => failures.some((f) => f.code === 'Conflict');
  // A delete no node applied changed nothing; one that some applied leaves its intent for readers to settle.
  if (decision.successes.length === 0 && leavingDecision.successes.length === 0) intent?.abandon();
  if (lockRefused(leavingDecision.failures) || (!decision.met && lockRefused(decision.failures))) {
    throw new S3Error('AccessDenied', { message: LOCKED_MESSAGE });
  }
  if (!decision.met) throw quorumError('version delete', decision.failures);
  const removed = [...decision.successes, ...leavingDecision.successes].map(({ value }) => value).find((record) => record !== null) ?? null;
  intent?.settleGone(versionId, removed);
  if (leavingDecision.failures.length > 0) {
    services.logger.warn({ bucket, key, versionId, failures: leavingDecision.failures }, 'a delete by id did not reach every member of the previous ring\'s set');
  }
  return removed;
}

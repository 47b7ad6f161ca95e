import { acquireKeyLease, deleteKey, deleteVersion, metadataSignal, resolveNamedVersion, type RecordWriteDeps } from '../../data-path/index.js';
import type { AccessDeps, RequestContext } from '../../http/index.js';
import { s3VersionId, type DeleteConditions } from '../../s3/index.js';
import { checkDeletePreconditions } from '../shared/preconditions.js';
import { governanceBypass, requireUnlocked } from '../shared/object-lock-fields.js';
import { changeOf } from '../shared/change-origin.js';
import type { ReplicaWrite } from '../shared/replica-request.js';

/** What a delete did, as DeleteObject's headers and DeleteObjects' entries report it. */
export interface DeleteOutcome {
  /** The version removed or the marker written was a delete marker. */
  deleteMarker: boolean;
  /** The version id to report: the one removed, or the new marker's; undefined when S3 reports none. */
  versionId: string | undefined;
}

/**
 * Deletes as S3 does. Without a versionId: a delete marker (a versioned one under bucket versioning,
 * the null one while suspended, a plain tombstone without versioning). With one (`null` included): that
 * version, or marker, is removed for good, and deleting one that does not exist still succeeds. In a
 * bucket with Object Lock a version under a legal hold or unexpired retention is refused (AccessDenied;
 * GOVERNANCE yields to an allowed bypass); a delete marker is written whatever the lock, as in S3.
 * S3's event: a delete marker made (DeleteMarkerCreated) in a bucket that has had versioning, else a
 * removal (Delete), for the bucket's notification configurations that select it. `replica`: a delete
 * marker sent as another cluster's replica (replicaOf), without a versionId.
 *
 * `conditions`: a conditional delete. Its check and the delete run under the key's exclusive lease,
 * the one conditional writes take, so no write of the key through any gateway lands between them:
 * a delete whose If-Match held removes exactly the version it checked, and one that failed changed nothing.
 */
export async function deleteObjectVersion(
  ctx: RequestContext<RecordWriteDeps & AccessDeps>,
  bucket: string,
  key: string,
  versionId: string | undefined,
  replica?: ReplicaWrite,
  conditions?: DeleteConditions,
): Promise<DeleteOutcome> {
  if (conditions === undefined) return deleteUnconditionally(ctx, bucket, key, versionId, replica, false);
  const lease = await acquireKeyLease(ctx, bucket, key);
  let fence: string | undefined;
  try {
    await checkDeletePreconditions(ctx, bucket, key, conditions, lease.current);
    const outcome = await deleteUnconditionally(ctx, bucket, key, versionId, replica, true);
    fence = outcome.markerId;
    return outcome;
  } finally {
    // A marker written under the lease fences the key: plain writes granted after it take later ids.
    await lease.release(fence);
  }
}

async function deleteUnconditionally(
  ctx: RequestContext<RecordWriteDeps & AccessDeps>,
  bucket: string,
  key: string,
  versionId: string | undefined,
  replica: ReplicaWrite | undefined,
  leaseHeld: boolean,
): Promise<DeleteOutcome & { markerId?: string }> {
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  const { versioning } = bucketRecord;
  if (versionId === undefined || (versionId === 'null' && versioning === undefined)) {
    // Without versioning the null version is the key's only one: a tombstone removes it as a plain delete does.
    const eventName = versioning === undefined ? 's3:ObjectRemoved:Delete' : 's3:ObjectRemoved:DeleteMarkerCreated';
    // A replica's marker never replicates again (loop prevention), and is committed under the source's id when it names one.
    const change = changeOf(ctx, bucketRecord, eventName, key, { replicates: replica === undefined });
    const replicaMarker = replica === undefined ? undefined : { replicationStatus: 'REPLICA' as const, ...(replica.versionId === undefined ? {} : { versionId: replica.versionId }) };
    const marker = await deleteKey(ctx, bucket, key, change, replicaMarker, leaseHeld);
    const markerId = marker.versionId;
    if (versionId !== undefined) return { deleteMarker: false, versionId, markerId };
    return versioning === undefined ? { deleteMarker: false, versionId: undefined, markerId } : { deleteMarker: true, versionId: s3VersionId(marker), markerId };
  }
  const locking = bucketRecord.objectLock !== undefined;
  let internalId: string | undefined = versionId;
  let bypassGovernance = false;
  if (versionId === 'null' || locking) {
    const found = await resolveNamedVersion(ctx.services.cluster.readSets(bucket, key), bucket, key, versionId, ctx.services.erasure, metadataSignal(ctx));
    // A version no read quorum holds is still removed wherever a stray copy of it remains.
    internalId = found?.record.versionId ?? (versionId === 'null' ? undefined : versionId);
    if (found !== null && locking) {
      bypassGovernance = governanceBypass(ctx, bucketRecord, key);
      requireUnlocked(found.record, bypassGovernance);
    }
  }
  const change = internalId === undefined ? undefined : changeOf(ctx, bucketRecord, 's3:ObjectRemoved:Delete', key);
  const shownVersionId = versioning === undefined ? undefined : versionId;
  const removed = internalId === undefined ? null : await deleteVersion(ctx, bucket, key, internalId, { bypassGovernance, change, shownVersionId });
  return { deleteMarker: removed?.deleted === true, versionId };
}

import { isVersionId, parseVersionId } from '../../../common/index.js';
import type { BucketRecord, ObjectRecord } from '../../../rpc/index.js';
import { metadataSignal, resolveNamedVersion, type RecordWriteDeps } from '../../data-path/index.js';
import { header, requireKeyAccess, type AccessDeps, type RequestContext } from '../../http/index.js';
import { S3Error } from '../../s3/index.js';

/**
 * A write another cluster sends as a replica of its own version (docs/replication.md): PutObject,
 * CreateMultipartUpload or DeleteObject with `x-tessera-replica: true`, and perhaps the source's
 * version id in `x-tessera-replica-version-id`, which the version (or marker) is committed under.
 */
export interface ReplicaWrite {
  /** The version id to commit under; absent: a fresh one, as for any write. */
  versionId?: string | undefined;
}

/** How far ahead of this gateway's wall clock a replica's version id may be: SigV4's allowed skew. */
const MAX_REPLICA_AHEAD_MS = 15 * 60_000;

/**
 * The replica a write request says it is, or undefined for an ordinary write. Honoured only for a
 * requester allowed `action` on the key (s3:ReplicateObject, s3:ReplicateDelete: the bucket's owner,
 * the administrator, or a bucket policy): AccessDenied otherwise. A version id must have the gateway's
 * own syntax and be no further ahead of this gateway's clock than a request's signature may be (the
 * clock observes it, and must not be carried into the future); InvalidArgument otherwise.
 */
export function replicaOf(ctx: RequestContext<AccessDeps & Pick<RecordWriteDeps, 'clock'>>, bucket: BucketRecord, key: string, action: 's3:ReplicateObject' | 's3:ReplicateDelete'): ReplicaWrite | undefined {
  const flag = header(ctx, 'x-tessera-replica');
  const versionId = header(ctx, 'x-tessera-replica-version-id');
  if (flag === undefined) {
    if (versionId === undefined) return undefined;
    throw invalid('x-tessera-replica-version-id', versionId, 'x-tessera-replica-version-id is only taken with x-tessera-replica: true.');
  }
  if (flag.trim().toLowerCase() !== 'true') throw invalid('x-tessera-replica', flag, 'x-tessera-replica must be true.');
  requireKeyAccess(ctx, bucket, key, action);
  if (versionId === undefined) return {};
  if (!isVersionId(versionId) || parseVersionId(versionId).physicalMs > ctx.services.clock.nowMs() + MAX_REPLICA_AHEAD_MS) {
    throw invalid('x-tessera-replica-version-id', versionId, 'Invalid replica version id.');
  }
  ctx.services.clock.observe(versionId);
  return { versionId };
}

/**
 * The version `replica` names when the key holds it already (a delivery retried after its answer was
 * lost): the request answers with it and writes nothing. Null when it does not, or names none.
 */
export async function existingReplica(ctx: RequestContext<RecordWriteDeps>, bucket: string, key: string, replica: ReplicaWrite | undefined): Promise<ObjectRecord | null> {
  if (replica?.versionId === undefined) return null;
  const { services } = ctx;
  const found = await resolveNamedVersion(services.cluster.readSets(bucket, key), bucket, key, replica.versionId, services.erasure, metadataSignal(ctx));
  return found?.record ?? null;
}

function invalid(name: string, value: string, message: string): S3Error {
  // The value is echoed as S3 echoes arguments, bounded: it is the client's text.
  return new S3Error('InvalidArgument', { message, fields: { ArgumentName: name, ArgumentValue: value.slice(0, 256) } });
}

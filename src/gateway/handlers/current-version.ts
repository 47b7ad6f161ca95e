import { metadataSignal, resolveVersion, type ResolveOptions, type ResolvedVersion } from '../data-path/index.js';
import type { BucketRecord } from '../../rpc/index.js';
import { requireObjectAccess, type RequestContext } from '../http/index.js';
import { S3Error } from '../s3/index.js';

/**
 * Refuses a `versionId` other than `null`: buckets are unversioned, so `null` (S3's id for the only
 * version) names the current object and any other id names a version that does not exist.
 */
export function requireNullVersion(ctx: RequestContext): boolean {
  const versionId = ctx.target.query.get('versionId');
  if (versionId === undefined) return false;
  if (versionId !== 'null') throw new S3Error('NoSuchVersion', { fields: { Key: ctx.target.key ?? '', VersionId: versionId } });
  return true;
}

/**
 * The key's current version, or NoSuchKey. When it is the request's own object, the access decision's
 * object check runs here, on the version's ACL (`bucket`: the bucket's record, read if not given).
 */
export async function requireCurrentVersion(
  ctx: RequestContext,
  bucket: string,
  key: string,
  options: ResolveOptions & { bucket?: BucketRecord } = {},
): Promise<ResolvedVersion> {
  const { services } = ctx;
  const version = await resolveVersion(services.cluster.readSets(bucket, key), bucket, key, services.erasure, metadataSignal(ctx), options);
  if (version === null) throw new S3Error('NoSuchKey', { fields: { Key: key } });
  const permission = ctx.access.objectPermission;
  if (permission !== undefined && bucket === ctx.target.bucket && key === ctx.target.key) {
    const bucketRecord = options.bucket ?? (await services.buckets.require(bucket, metadataSignal(ctx)));
    requireObjectAccess(ctx, bucketRecord, version.record, permission);
  }
  return version;
}

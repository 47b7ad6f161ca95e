import { ReadDeadline, resolveNamedVersion, resolveVersion, retrySlowRead, type LookupDeps, type ResolvedVersion, type ResolveOptions } from '../../data-path/index.js';
import type { BucketRecord, ObjectRecord } from '../../../rpc/index.js';
import { ACTIONS } from '../../access/index.js';
import { refuseUnlistedMiss, requireObjectAccess, type AccessDeps, type RequestContext } from '../../http/index.js';
import { S3Error, s3VersionId } from '../../s3/index.js';

/**
 * Whether an answer about `record` carries its version id: when the request named a version or the
 * version was written under versioning, as S3 does.
 */
export function sendsVersionId(namedVersionId: string | undefined, record: ObjectRecord): boolean {
  return namedVersionId !== undefined || record.versioning !== undefined;
}

/** A version id header on an answer about `record` (`x-amz-version-id`, or a copy's `x-amz-copy-source-version-id`), if it carries one. */
export function setVersionHeader(ctx: RequestContext<unknown>, namedVersionId: string | undefined, record: ObjectRecord, name = 'x-amz-version-id'): void {
  if (sendsVersionId(namedVersionId, record)) ctx.reply.header(name, s3VersionId(record));
}

/**
 * `x-amz-version-id` on the answer to a write (PutObject, POST, CopyObject, CompleteMultipartUpload):
 * only for a version written under Enabled versioning. A write to a suspended bucket makes the null
 * version, and S3 answers it without the header (the PutObject reference's "versioning suspended"
 * example); GET, HEAD and listings still name it `null`.
 */
export function setWrittenVersionHeader(ctx: RequestContext<unknown>, record: { versionId: string; versioning?: ObjectRecord['versioning'] }): void {
  if (record.versioning === 'Enabled') ctx.reply.header('x-amz-version-id', record.versionId);
}

/** The key's current version, or NoSuchKey (with `x-amz-delete-marker` when a delete marker is the latest version). */
export async function requireCurrentVersion(
  ctx: RequestContext<LookupDeps & AccessDeps>,
  bucket: string,
  key: string,
  options: ResolveOptions & { bucket?: BucketRecord } = {},
): Promise<ResolvedVersion> {
  return requireVersion(ctx, bucket, key, undefined, options);
}

/**
 * The version a request names (`versionId` undefined: the current one), as S3 answers it: NoSuchKey
 * when the latest version is a delete marker or there is none, NoSuchVersion for an id the key does
 * not have, and 405 MethodNotAllowed for a delete marker named by its id; the marker cases carry
 * `x-amz-delete-marker: true` and the marker's version id. When it is the request's own object, the
 * access decision's object check runs here, on the version's ACL (`bucket`: the bucket's record, read
 * if not given). A read of an object (GET, HEAD and the object's sub-resources) or of a copy's source
 * (`source`) is told NoSuchKey only if it may list the bucket (refuseUnlistedMiss).
 */
export async function requireVersion(
  ctx: RequestContext<LookupDeps & AccessDeps>,
  bucket: string,
  key: string,
  versionId: string | undefined,
  options: ResolveOptions & { bucket?: BucketRecord; source?: boolean } = {},
): Promise<ResolvedVersion> {
  const own = bucket === ctx.target.bucket && key === ctx.target.key;
  let version: ResolvedVersion;
  try {
    version = await findVersion(ctx, bucket, key, versionId, options);
  } catch (err) {
    // Otherwise a 404 for a missing key against the 403 a present one gets tells anyone which keys exist.
    const readsObject = options.source === true || (own && ACTIONS[ctx.access.action].on === 'object');
    if (readsObject && err instanceof S3Error && err.code === 'NoSuchKey') await refuseUnlistedMiss(ctx, bucket);
    throw err;
  }
  const permission = ctx.access.objectPermission;
  if (permission !== undefined && own) {
    const bucketRecord = options.bucket ?? (await ctx.services.buckets.require(bucket, ctx.signal));
    requireObjectAccess(ctx, bucketRecord, version.record, permission);
  }
  return version;
}

async function findVersion(ctx: RequestContext<LookupDeps>, bucket: string, key: string, versionId: string | undefined, options: ResolveOptions): Promise<ResolvedVersion> {
  const { services } = ctx;
  const sets = services.cluster.readSets(bucket, key);
  // A lookup that lost its quorum only to slow nodes is asked again (within the request's deadline):
  // every node may be up on a machine too busy to answer within one round's timeout.
  if (versionId === undefined) {
    const version = await retrySlowRead(ctx, (signal) =>
      resolveVersion(sets, bucket, key, services.erasure, signal, { ...options, withDeleteMarkers: true }),
    );
    if (version === null) throw new S3Error('NoSuchKey', { fields: { Key: key } });
    if (version.record.deleted) throw new S3Error('NoSuchKey', { fields: { Key: key }, headers: markerHeaders(version) });
    return version;
  }
  const version = await retrySlowRead(ctx, (signal) => resolveNamedVersion(sets, bucket, key, versionId, services.erasure, signal));
  if (version === null) throw new S3Error('NoSuchVersion', { fields: { Key: key, VersionId: versionId } });
  // Outside versioning a tombstone is no version at all: the key is simply gone.
  if (version.record.deleted && version.record.versioning === undefined) throw new S3Error('NoSuchKey', { fields: { Key: key } });
  if (version.record.deleted) {
    throw new S3Error('MethodNotAllowed', { fields: { Method: ctx.request.method, ResourceType: 'DeleteMarker' }, headers: { ...markerHeaders(version), allow: 'DELETE' } });
  }
  return version;
}

/**
 * How many times a read looks its key up again when the version it found cannot be read yet: with the
 * growing pauses, a few seconds of racing writers, while shards that are really gone fail soon.
 */
const READ_ATTEMPTS = 10;

/**
 * Looks a version up (`lookup`, told which attempt this is) and starts reading it (`open`: the request's
 * checks against the version, then the first bytes). A read racing a write of the same key can pick a
 * version that fewer than k nodes hold right then (a newer one committing, or this one just superseded):
 * it looks again and reads what is current, rather than fail a request while every node is up. Only a
 * ServiceUnavailable from `open` is retried, with a growing pause, up to READ_ATTEMPTS times within the
 * request's read deadline (a loaded machine can lose several races in a row); every other answer goes to the client as it is.
 * GET, HEAD, CopyObject and UploadPartCopy read through here.
 */
export async function readVersion<T>(
  ctx: RequestContext<unknown>,
  lookup: (attempt: number) => Promise<ResolvedVersion>,
  open: (version: ResolvedVersion) => Promise<T>,
): Promise<{ version: ResolvedVersion; opened: T }> {
  const deadline = ReadDeadline.of(ctx);
  for (let attempt = 1; ; attempt += 1) {
    const version = await lookup(attempt);
    try {
      return { version, opened: await open(version) };
    } catch (err) {
      const raced = err instanceof S3Error && err.code === 'ServiceUnavailable';
      if (!raced || attempt >= READ_ATTEMPTS || !(await deadline.pause(attempt, ctx.signal))) throw err;
    }
  }
}

function markerHeaders(version: ResolvedVersion): Record<string, string> {
  return { 'x-amz-delete-marker': 'true', 'x-amz-version-id': s3VersionId(version.record) };
}

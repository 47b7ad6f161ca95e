import { isNewerRecord, type ObjectRecord } from '../../../rpc/index.js';
import { metadataSignal, resolveVersion, type LookupDeps } from '../../data-path/index.js';
import { header, requireKeyAccess, requireObjectAccess, type AccessDeps, type RequestContext } from '../../http/index.js';
import { sendsVersionId } from './current-version.js';
import { etagListMatches, failedCondition, failedDeleteCondition, S3Error, s3VersionId, type DeleteConditions } from '../../s3/index.js';

/**
 * GET and HEAD conditions: 412 PreconditionFailed for If-Match / If-Unmodified-Since, 304 Not Modified
 * (with the ETag and Last-Modified a cache needs) for If-None-Match / If-Modified-Since.
 */
export function checkReadConditions(ctx: RequestContext<unknown>, record: ObjectRecord): void {
  const failed = failedCondition(
    {
      ifMatch: header(ctx, 'if-match'),
      ifNoneMatch: header(ctx, 'if-none-match'),
      ifModifiedSince: header(ctx, 'if-modified-since'),
      ifUnmodifiedSince: header(ctx, 'if-unmodified-since'),
    },
    record,
    // A read's If-Modified-Since counts even when later than now: see failedCondition.
    undefined,
  );
  if (failed === undefined) return;
  if (failed.notModified) throw new S3Error('NotModified', { headers: notModifiedHeaders(ctx, record) });
  throw new S3Error('PreconditionFailed', { fields: { Condition: failed.name } });
}

/**
 * What a 304 carries: the validators, and the headers a 200 would have sent that a cache keeps
 * (RFC 9110 15.4.5: Cache-Control and Expires), with the version id S3 sends with them.
 */
function notModifiedHeaders(ctx: RequestContext<unknown>, record: ObjectRecord): Record<string, string> {
  const headers: Record<string, string> = { etag: record.etag, 'last-modified': new Date(record.lastModifiedMs).toUTCString() };
  for (const name of ['cache-control', 'expires'] as const) {
    const value = record.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  if (sendsVersionId(ctx.target.query.get('versionId'), record)) headers['x-amz-version-id'] = s3VersionId(record);
  return headers;
}

/**
 * CopyObject / UploadPartCopy source conditions: the same evaluation, but every failure is 412, and an
 * x-amz-copy-source-if-modified-since later than the gateway's clock is ignored, as S3 ignores it.
 */
export function checkCopySourceConditions(ctx: RequestContext<AccessDeps>, record: ObjectRecord): void {
  const failed = failedCondition(
    {
      ifMatch: header(ctx, 'x-amz-copy-source-if-match'),
      ifNoneMatch: header(ctx, 'x-amz-copy-source-if-none-match'),
      ifModifiedSince: header(ctx, 'x-amz-copy-source-if-modified-since'),
      ifUnmodifiedSince: header(ctx, 'x-amz-copy-source-if-unmodified-since'),
    },
    record,
    ctx.services.clock.nowMs(),
  );
  if (failed !== undefined) throw new S3Error('PreconditionFailed', { fields: { Condition: `x-amz-copy-source-${failed.name}` } });
}

/** A conditional write: `If-None-Match: *` (create only) or `If-Match: <etag>` (replace only that version). */
export interface WritePreconditions {
  ifMatch: string | undefined;
  ifNoneMatchAny: boolean;
}

/**
 * Reads the conditional-write headers of PutObject, CopyObject and CompleteMultipartUpload. S3 accepts
 * only `*` in If-None-Match and not both headers together: anything else is NotImplemented.
 */
export function writePreconditionsOf(ctx: RequestContext<unknown>): WritePreconditions | undefined {
  const ifMatch = header(ctx, 'if-match');
  const ifNoneMatch = header(ctx, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && (ifNoneMatch.trim() !== '*' || ifMatch !== undefined)) {
    throw new S3Error('NotImplemented', { fields: { Header: 'If-None-Match' } });
  }
  return { ifMatch, ifNoneMatchAny: ifNoneMatch !== undefined };
}

/**
 * Checks a conditional write against the key's current version: 412 when `If-None-Match: *` finds an
 * object or `If-Match` names another ETag; 404 NoSuchKey when `If-Match` finds none.
 *
 * Writers call this before reading the body and again just before the commit; the second check and
 * the commit run under the key's lease (data-path/key-lease.ts), so of two conditional writes racing
 * through any gateways one commits first and the other's check sees it: of two `If-None-Match: *`
 * creates exactly one succeeds.
 */
export async function checkWritePreconditions(ctx: RequestContext<LookupDeps & AccessDeps>, bucket: string, key: string, conditions: WritePreconditions, seen?: ObjectRecord): Promise<void> {
  const version = await currentForCheck(ctx, bucket, key, seen);
  if (conditions.ifNoneMatchAny && version !== null) {
    throw new S3Error('PreconditionFailed', { fields: { Condition: 'If-None-Match' } });
  }
  if (conditions.ifMatch !== undefined) {
    await requireReadableCurrent(ctx, bucket, key, version);
    if (version === null) throw new S3Error('NoSuchKey', { fields: { Key: key } });
    if (!etagListMatches(conditions.ifMatch, version.etag)) throw new S3Error('PreconditionFailed', { fields: { Condition: 'If-Match' } });
  }
}

/**
 * Checks a conditional delete against the key's current version (never a version named by id: S3
 * evaluates conditional deletes on the current one only): 412 PreconditionFailed when one fails, 404
 * NoSuchKey when If-Match finds no object. Called under the key's exclusive lease, as a conditional
 * write's last check is (`seen`: what the granting nodes hold), so no write of the key can land
 * between this check and the delete.
 */
export async function checkDeletePreconditions(ctx: RequestContext<LookupDeps & AccessDeps>, bucket: string, key: string, conditions: DeleteConditions, seen?: ObjectRecord): Promise<void> {
  const version = await currentForCheck(ctx, bucket, key, seen);
  // Every condition reads the object's ETag, size or time: the same read permission as If-Match on a PUT.
  await requireReadableCurrent(ctx, bucket, key, version);
  const failed = failedDeleteCondition(conditions, version);
  if (failed === 'NoSuchKey') throw new S3Error('NoSuchKey', { fields: { Key: key } });
  if (failed !== undefined) throw new S3Error('PreconditionFailed', { fields: { Condition: failed } });
}

/**
 * The key's current version as a conditional write or delete must see it: the newest of a read quorum
 * and of what the nodes granting the key's lease hold (`seen`: a plain write that committed on them just
 * before may not be on a read quorum yet, and counts all the same); null when none or a delete marker.
 */
async function currentForCheck(ctx: RequestContext<LookupDeps & AccessDeps>, bucket: string, key: string, seen: ObjectRecord | undefined): Promise<ObjectRecord | null> {
  const { services } = ctx;
  const resolved = await resolveVersion(services.cluster.readSets(bucket, key), bucket, key, services.erasure, metadataSignal(ctx), { withDeleteMarkers: true });
  const newest = seen !== undefined && (resolved === null || isNewerRecord(seen, resolved.record)) ? seen : (resolved?.record ?? null);
  // The write's id, taken after this check, must order after what the check saw even when another
  // gateway's clock runs ahead of this one's (a delete marker included).
  if (newest !== null) services.clock.observe(newest.versionId);
  return newest?.deleted === true ? null : newest;
}

/**
 * A condition on the current version reads the object's ETag, so S3 asks for s3:GetObject as well as the
 * operation's own permission: a writer that may not read would otherwise learn, by 412 or success,
 * whether a guessed ETag (the MD5 of a guessed body) is the object's. Of a missing key, only a requester
 * who could read it learns that it is missing (NoSuchKey is then the caller's to throw).
 */
async function requireReadableCurrent(ctx: RequestContext<LookupDeps & AccessDeps>, bucket: string, key: string, version: ObjectRecord | null): Promise<void> {
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  if (version === null) {
    requireKeyAccess(ctx, bucketRecord, key, 's3:GetObject');
    return;
  }
  requireObjectAccess(ctx, bucketRecord, version, 'READ', 's3:GetObject');
}

import { lockHold, type BucketRecord, type ObjectRecord, type ObjectRetention } from '../../../rpc/index.js';
import type { S3Action } from '../../access/index.js';
import { header, requireKeyAccess, type AccessDeps, type RequestContext } from '../../http/index.js';
import { defaultRetentionAt, formatRetainUntil, LOCKED_MESSAGE, MISSING_LOCK_CONFIGURATION, parseLockHeaders, S3Error } from '../../s3/index.js';

// What the write, read and delete paths of every resource share about Object Lock; the lock's own
// operations are object-lock.ts.

/** Whether the request carries a Content-MD5 or a flexible checksum (as a header or a trailer) for its body. */
export function hasBodyDigest(ctx: RequestContext<unknown>): boolean {
  return (
    header(ctx, 'content-md5') !== undefined ||
    Object.keys(ctx.request.headers).some((name) => name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-mode') ||
    (header(ctx, 'x-amz-trailer') ?? '').toLowerCase().includes('x-amz-checksum-')
  );
}

/** S3's refusal of a lock request that carries no Content-MD5 or checksum. */
export function requireBodyDigest(ctx: RequestContext<unknown>, message = 'Missing required header for this request: Content-MD5'): void {
  if (!hasBodyDigest(ctx)) throw new S3Error('InvalidRequest', { message });
}

/** The bucket's Object Lock configuration, or S3's InvalidRequest for a bucket without one. */
export function requireLockConfig(bucket: BucketRecord): NonNullable<BucketRecord['objectLock']> {
  if (bucket.objectLock === undefined) throw new S3Error('InvalidRequest', { message: MISSING_LOCK_CONFIGURATION });
  return bucket.objectLock;
}

/**
 * The Object Lock fields a new version of `bucket` gets from its write request (PutObject, CopyObject,
 * CreateMultipartUpload): the x-amz-object-lock-* headers, else the bucket's default retention, taken
 * from now. Lock headers on a bucket without Object Lock are S3's InvalidRequest; as in S3, retention
 * headers need s3:PutObjectRetention and a legal hold header s3:PutObjectLegalHold (AccessDenied).
 * `withBody`: the request uploads the object's bytes, which S3 then wants covered by Content-MD5 or a
 * checksum.
 */
export function objectLockFields(
  ctx: RequestContext<AccessDeps>,
  bucket: BucketRecord,
  options: { withBody: boolean; applyDefault?: boolean },
): { retention?: ObjectRetention; legalHold?: boolean } {
  const nowMs = Date.now();
  const asked = parseLockHeaders((name) => header(ctx, name), nowMs);
  if (asked.present && bucket.objectLock === undefined) throw new S3Error('InvalidRequest', { message: MISSING_LOCK_CONFIGURATION });
  const key = ctx.target.key ?? '';
  if (asked.retention !== undefined) requireKeyAccess(ctx, bucket, key, 's3:PutObjectRetention');
  if (asked.legalHold !== undefined) requireKeyAccess(ctx, bucket, key, 's3:PutObjectLegalHold');
  const retention = asked.retention ?? (options.applyDefault === false ? undefined : defaultRetentionAt(bucket.objectLock, nowMs));
  const fields: { retention?: ObjectRetention; legalHold?: boolean } = {};
  if (retention !== undefined) fields.retention = retention;
  if (asked.legalHold !== undefined) fields.legalHold = asked.legalHold;
  if (options.withBody && (fields.retention !== undefined || fields.legalHold !== undefined)) {
    requireBodyDigest(ctx, 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
  }
  return fields;
}

/**
 * The lock headers GET and HEAD answer with, as S3 does to a requester allowed to read them: mode and
 * retain-until date (s3:GetObjectRetention), and the legal hold once one was set (s3:GetObjectLegalHold).
 */
export function setLockHeaders(ctx: RequestContext<AccessDeps>, record: ObjectRecord, bucket: BucketRecord): void {
  if (record.retention !== undefined && allowed(ctx, bucket, record.key, 's3:GetObjectRetention')) {
    ctx.reply.header('x-amz-object-lock-mode', record.retention.mode);
    ctx.reply.header('x-amz-object-lock-retain-until-date', formatRetainUntil(record.retention.retainUntilMs));
  }
  if (record.legalHold !== undefined && allowed(ctx, bucket, record.key, 's3:GetObjectLegalHold')) ctx.reply.header('x-amz-object-lock-legal-hold', record.legalHold ? 'ON' : 'OFF');
}

/**
 * Whether the request bypasses GOVERNANCE retention: it asks with `x-amz-bypass-governance-retention:
 * true` and its principal may (the administrator, a policy allowing s3:BypassGovernanceRetention on
 * the key, or the bucket's owner). Asking without the permission bypasses nothing.
 */
export function governanceBypass(ctx: RequestContext<AccessDeps>, bucket: BucketRecord, key: string): boolean {
  if (header(ctx, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() !== 'true') return false;
  return allowed(ctx, bucket, key, 's3:BypassGovernanceRetention');
}

/** Whether the request's principal may perform `action` on the key (policies, then the bucket's owner). */
function allowed(ctx: RequestContext<AccessDeps>, bucket: BucketRecord, key: string, action: S3Action): boolean {
  try {
    requireKeyAccess(ctx, bucket, key, action);
    return true;
  } catch (err) {
    if (err instanceof S3Error && err.code === 'AccessDenied') return false;
    throw err;
  }
}

/** AccessDenied, as S3 answers it, when `record` may not be removed now (a legal hold, or retention not over). */
export function requireUnlocked(record: ObjectRecord, bypassGovernance: boolean): void {
  if (lockHold(record, Date.now(), bypassGovernance) !== null) throw new S3Error('AccessDenied', { message: LOCKED_MESSAGE });
}

/**
 * UploadPart of an object that will be locked (the upload asked for a lock, or the bucket has a default
 * retention): S3 wants each part covered by Content-MD5 or a checksum, as a locking PutObject is.
 */
export function requirePartDigest(ctx: RequestContext<unknown>, marker: Pick<ObjectRecord, 'retention' | 'legalHold'>, lock: BucketRecord['objectLock']): void {
  if (marker.retention !== undefined || marker.legalHold !== undefined || lock?.defaultRetention !== undefined) {
    requireBodyDigest(ctx, 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
  }
}

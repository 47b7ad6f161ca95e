import { DEFAULTS } from '../../../common/index.js';
import { currentExpiry, uploadAbortDate, type BucketRecord, type ObjectRecord } from '../../../rpc/index.js';
import type { LifecycleDates } from '../../data-path/index.js';
import type { RequestContext } from '../../http/index.js';
import { expirationHeader, headerSafe } from '../../s3/index.js';

/** The dates a bucket's lifecycle rules set, as the headers of object reads and multipart uploads announce them. */

function dayMs(ctx: RequestContext<LifecycleDates>): number {
  return ctx.services.lifecycleDayMs ?? DEFAULTS.lifecycleDaySeconds * 1000;
}

/** `x-amz-expiration` on GET and HEAD of a current version some rule of the bucket will expire. */
export function setExpirationHeader(ctx: RequestContext<LifecycleDates>, bucket: BucketRecord, record: ObjectRecord): void {
  if (bucket.lifecycle === undefined || record.deleted) return;
  const expiry = currentExpiry(bucket.lifecycle, record, record.lastModifiedMs, dayMs(ctx));
  if (expiry !== undefined) ctx.reply.header('x-amz-expiration', expirationHeader(expiry.atMs, expiry.ruleId));
}

/** `x-amz-abort-date` and `x-amz-abort-rule-id` on CreateMultipartUpload and ListParts when a rule will abort the upload. */
export function setAbortHeaders(ctx: RequestContext<LifecycleDates>, bucket: BucketRecord, key: string, initiatedMs: number): void {
  if (bucket.lifecycle === undefined) return;
  const abort = uploadAbortDate(bucket.lifecycle, key, initiatedMs, dayMs(ctx));
  if (abort === undefined) return;
  ctx.reply.header('x-amz-abort-date', new Date(abort.atMs).toUTCString());
  ctx.reply.header('x-amz-abort-rule-id', headerSafe(abort.ruleId));
}

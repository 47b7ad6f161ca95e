import type { BucketRecord } from '../../../rpc/index.js';
import type { BucketRecords } from '../../data-path/index.js';
import type { RequestContext } from '../../http/index.js';
import { S3Error } from '../../s3/index.js';

/** What a write adds to its bucket: object versions and logical bytes. */
export interface QuotaCharge {
  objects: number;
  bytes: number;
}

/**
 * Refuses a write that would take its bucket past its hard quota (docs/quotas.md) with QuotaExceeded,
 * before anything of it is committed. A write is charged in full (an overwrite is not netted against
 * the version it replaces: that would cost a lookup per write, and errs towards refusing). With
 * `reserve`, an admitted write is counted into this gateway's cached usage at once.
 */
export async function checkQuota(ctx: RequestContext<BucketRecords>, record: BucketRecord, charge: QuotaCharge, options: { reserve?: boolean } = {}): Promise<void> {
  const { quota } = record;
  if (quota === undefined || (quota.maxBytes === undefined && quota.maxObjects === undefined)) return;
  const usage = await ctx.services.buckets.usage.read(record.name);
  const overObjects = quota.maxObjects !== undefined && usage.objects + charge.objects > quota.maxObjects;
  const overBytes = quota.maxBytes !== undefined && usage.bytes + charge.bytes > quota.maxBytes;
  if (overObjects || overBytes) {
    throw new S3Error('QuotaExceeded', {
      message: overBytes ? 'The bucket quota would be exceeded by this write (bytes).' : 'The bucket quota would be exceeded by this write (objects).',
      fields: { BucketName: record.name },
    });
  }
  if (options.reserve === true) ctx.services.buckets.usage.reserve(record.name, charge.objects, charge.bytes);
}

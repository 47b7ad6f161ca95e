import type { BucketQuota, BucketRecord } from '../../rpc/index.js';
import type { BucketService } from './bucket-service.js';

/** One bucket's quota and usage: what `tessera admin bucket quota --json` prints and the admin API answers. */
export interface QuotaReport {
  bucket: string;
  quota: BucketQuota | null;
  usage: { objects: number; bytes: number; complete: boolean };
}

/**
 * Sets (`change` a quota), clears (`null`) or leaves (`undefined`) a bucket's hard quota, kept in its
 * bucket record so that every gateway follows it within its bucket cache lifetime, and reports it with
 * the usage the nodes count. The one implementation behind the CLI and the admin API.
 */
export async function bucketQuota(buckets: BucketService, bucket: string, change: BucketQuota | null | undefined, signal: AbortSignal): Promise<QuotaReport> {
  let record: BucketRecord;
  if (change === undefined) record = await buckets.require(bucket, signal);
  else {
    record = await buckets.update(
      bucket,
      (current) => {
        const { quota: _old, ...rest } = current;
        return change === null ? rest : { ...rest, quota: change };
      },
      signal,
    );
  }
  return { bucket, quota: record.quota ?? null, usage: await buckets.usage.read(bucket) };
}

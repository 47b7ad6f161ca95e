import { randomBytes } from 'node:crypto';
import type { BodyDigests, BucketRecords } from '../../data-path/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../../http/index.js';
import { parseLifecycleXml, renderLifecycle, S3Error } from '../../s3/index.js';

/** Largest lifecycle document accepted: 1,000 rules of a few hundred bytes each, as S3 allows. */
const MAX_LIFECYCLE_BYTES = 1024 * 1024;

/** GetBucketLifecycleConfiguration. */
export async function getBucketLifecycle(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.lifecycle === undefined) throw new S3Error('NoSuchLifecycleConfiguration', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/xml').send(renderLifecycle(record.lifecycle));
}

/** PutBucketLifecycleConfiguration: replaces the bucket's rules; a document S3 would refuse changes nothing. */
export async function putBucketLifecycle(ctx: RequestContext<BucketRecords & BodyDigests>): Promise<void> {
  const bucket = bucketOf(ctx);
  // S3 names a rule that has no ID with a random one.
  const rules = parseLifecycleXml((await readSmallBody(ctx, MAX_LIFECYCLE_BYTES)).toString('utf8'), () => randomBytes(24).toString('base64url'));
  await ctx.services.buckets.update(bucket, (record) => ({ ...record, lifecycle: rules }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.send();
}

/** DeleteBucketLifecycle: 204, also when there was none. */
export async function deleteBucketLifecycle(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.update(bucket, ({ lifecycle: _removed, ...record }) => record, ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

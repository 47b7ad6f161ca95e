import type { BodyDigests, BucketRecords } from '../../data-path/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../../http/index.js';
import { parseCorsXml, renderCors, S3Error } from '../../s3/index.js';

/** GetBucketCors. */
export async function getBucketCors(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.cors === undefined) throw new S3Error('NoSuchCORSConfiguration', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/xml').send(renderCors(record.cors));
}

/** PutBucketCors: replaces the bucket's rules. */
export async function putBucketCors(ctx: RequestContext<BucketRecords & BodyDigests>): Promise<void> {
  const bucket = bucketOf(ctx);
  const rules = parseCorsXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  await ctx.services.buckets.update(bucket, (record) => ({ ...record, cors: rules }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.send();
}

/** DeleteBucketCors: 204, also when there was none. */
export async function deleteBucketCors(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.update(bucket, ({ cors: _removed, ...record }) => record, ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

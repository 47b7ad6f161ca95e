import { MAX_POLICY_BYTES, parsePolicy, policyIsPublic } from '../access/index.js';
import { metadataSignal } from '../data-path/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../http/index.js';
import { renderXml, S3Error } from '../s3/index.js';

/** PutBucketPolicy: validated in full before it is stored; a malformed one is MalformedPolicy and changes nothing. */
export async function putBucketPolicy(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const text = (await readSmallBody(ctx, MAX_POLICY_BYTES + 1)).toString('utf8');
  parsePolicy(text, { bucket });
  await ctx.services.buckets.update(bucket, (record) => ({ ...record, policy: text }), metadataSignal(ctx));
  await ctx.reply.status(204).send();
}

/** GetBucketPolicy: the document as it was set; NoSuchBucketPolicy when there is none. */
export async function getBucketPolicy(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  if (record.policy === undefined) throw new S3Error('NoSuchBucketPolicy', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/json').send(record.policy);
}

/** DeleteBucketPolicy: 204, also when there was none. */
export async function deleteBucketPolicy(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.update(bucketOf(ctx), ({ policy: _removed, ...record }) => record, metadataSignal(ctx));
  await ctx.reply.status(204).send();
}

/** GetBucketPolicyStatus: IsPublic when a statement allows everyone without conditions. */
export async function getBucketPolicyStatus(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  if (record.policy === undefined) throw new S3Error('NoSuchBucketPolicy', { fields: { BucketName: bucket } });
  const isPublic = policyIsPublic(parsePolicy(record.policy, { bucket }));
  await ctx.reply.type('application/xml').send(renderXml('PolicyStatus', { IsPublic: isPublic }));
}

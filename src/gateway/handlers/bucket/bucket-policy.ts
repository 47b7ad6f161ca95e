import { MAX_POLICY_BYTES, parsePolicy, parsePublicAccessBlock, policyIsPublic, renderPublicAccessBlock } from '../../access/index.js';
import type { BodyDigests, BucketRecords } from '../../data-path/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../../http/index.js';
import { renderXml, S3Error } from '../../s3/index.js';

/**
 * The policy document of a PutBucketPolicy, read no further than one byte past the limit. A longer
 * body is a policy over S3's size limit, not bad XML: readSmallBody's MalformedXML (the only one it
 * throws, for a body past its limit) becomes the MalformedPolicy parsePolicy gives one byte over.
 */
async function policyText(ctx: RequestContext<BodyDigests>): Promise<string> {
  try {
    return (await readSmallBody(ctx, MAX_POLICY_BYTES + 1)).toString('utf8');
  } catch (err) {
    if (err instanceof S3Error && err.code === 'MalformedXML') throw new S3Error('MalformedPolicy', { message: 'Policy exceeds the maximum allowed document size.' });
    throw err;
  }
}

/** PutBucketPolicy: validated in full before it is stored; a malformed one is MalformedPolicy and changes nothing. */
export async function putBucketPolicy(ctx: RequestContext<BucketRecords & BodyDigests>): Promise<void> {
  const bucket = bucketOf(ctx);
  const text = await policyText(ctx);
  const policy = parsePolicy(text, { bucket });
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  // BlockPublicPolicy: a public policy (policyIsPublic) is refused.
  if (record.publicAccessBlock?.blockPublicPolicy === true && policyIsPublic(policy)) throw new S3Error('AccessDenied');
  await ctx.services.buckets.update(bucket, (record) => ({ ...record, policy: text }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

/** GetBucketPolicy: the document as it was set; NoSuchBucketPolicy when there is none. */
export async function getBucketPolicy(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.policy === undefined) throw new S3Error('NoSuchBucketPolicy', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/json').send(record.policy);
}

/** DeleteBucketPolicy: 204, also when there was none. */
export async function deleteBucketPolicy(ctx: RequestContext<BucketRecords>): Promise<void> {
  await ctx.services.buckets.update(bucketOf(ctx), ({ policy: _removed, ...record }) => record, ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

/** GetBucketPolicyStatus: IsPublic as S3 decides it (policyIsPublic: an Allow not confined to fixed principals or fixed source values). */
export async function getBucketPolicyStatus(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.policy === undefined) throw new S3Error('NoSuchBucketPolicy', { fields: { BucketName: bucket } });
  const isPublic = policyIsPublic(parsePolicy(record.policy, { bucket, stored: true }));
  await ctx.reply.type('application/xml').send(renderXml('PolicyStatus', { IsPublic: isPublic }));
}

/** PutPublicAccessBlock: the four switches, enforced from the next request on. */
export async function putPublicAccessBlock(ctx: RequestContext<BucketRecords & BodyDigests>): Promise<void> {
  const block = parsePublicAccessBlock((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  await ctx.services.buckets.update(bucketOf(ctx), (record) => ({ ...record, publicAccessBlock: block }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.send();
}

/** GetPublicAccessBlock: NoSuchPublicAccessBlockConfiguration when none is set. */
export async function getPublicAccessBlock(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.publicAccessBlock === undefined) throw new S3Error('NoSuchPublicAccessBlockConfiguration', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/xml').send(renderPublicAccessBlock(record.publicAccessBlock));
}

/** DeletePublicAccessBlock: 204, also when none was set. */
export async function deletePublicAccessBlock(ctx: RequestContext<BucketRecords>): Promise<void> {
  await ctx.services.buckets.update(bucketOf(ctx), ({ publicAccessBlock: _removed, ...record }) => record, ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

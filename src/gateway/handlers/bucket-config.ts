import { metadataSignal } from '../data-path/index.js';
import { ownerOnly, ownershipOf, parseOwnershipControls, renderOwnershipControls } from '../access/index.js';
import { bucketOf, bucketOwnerOf, readSmallBody, type RequestContext } from '../http/index.js';
import { FIXED_BUCKET_CONFIGURATIONS, renderXml, S3Error, UNCONFIGURED_BUCKET_SUBRESOURCES } from '../s3/index.js';

const XML = 'application/xml';

/** GetBucketVersioning: an empty configuration, S3's answer for a bucket that never had versioning. */
export async function getBucketVersioning(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  await ctx.reply.type(XML).send(renderXml('VersioningConfiguration', {}));
}

/** GET of a configuration Tessera never has (policy, encryption, lifecycle, ...): S3's "not configured" error. */
export async function getBucketUnconfigured(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  for (const [name, code] of Object.entries(UNCONFIGURED_BUCKET_SUBRESOURCES)) {
    if (ctx.target.query.has(name)) throw new S3Error(code, { fields: { BucketName: bucket } });
  }
  throw new S3Error('NotImplemented');
}

/** GET of a configuration whose answer never changes (request payment, logging, ...). */
export async function getBucketFixedConfiguration(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  const entry = Object.entries(FIXED_BUCKET_CONFIGURATIONS).find(([name]) => ctx.target.query.has(name));
  if (entry === undefined) throw new S3Error('NotImplemented');
  await ctx.reply.type(XML).send(renderXml(entry[1].root, entry[1].body));
}

/** GetBucketOwnershipControls: the bucket's object ownership. */
export async function getBucketOwnershipControls(ctx: RequestContext): Promise<void> {
  const bucket = await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  await ctx.reply.type(XML).send(renderOwnershipControls(ownershipOf(bucket)));
}

/**
 * PutBucketOwnershipControls. BucketOwnerEnforced disables ACLs, so S3 refuses it while the bucket's
 * ACL grants anything beyond the owner's control (InvalidBucketAclWithObjectOwnership).
 */
export async function putBucketOwnershipControls(ctx: RequestContext): Promise<void> {
  const name = bucketOf(ctx);
  const ownership = parseOwnershipControls((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  const bucket = await ctx.services.buckets.require(name, metadataSignal(ctx));
  if (ownership === 'BucketOwnerEnforced' && bucket.grants !== undefined && !ownerOnly(bucket.grants, bucketOwnerOf(ctx, bucket))) {
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  }
  await ctx.services.buckets.update(name, (record) => ({ ...record, ownership }), metadataSignal(ctx));
  await ctx.reply.send();
}

/** DeleteBucketOwnershipControls: back to ObjectWriter, S3's behaviour without the setting. */
export async function deleteBucketOwnershipControls(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.update(bucketOf(ctx), (record) => ({ ...record, ownership: 'ObjectWriter' }), metadataSignal(ctx));
  await ctx.reply.status(204).send();
}

import { metadataSignal } from '../data-path/index.js';
import { bucketOf, type RequestContext } from '../http/index.js';
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

/** GET of a configuration whose answer never changes (ownership controls, request payment, logging, ...). */
export async function getBucketFixedConfiguration(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  const entry = Object.entries(FIXED_BUCKET_CONFIGURATIONS).find(([name]) => ctx.target.query.has(name));
  if (entry === undefined) throw new S3Error('NotImplemented');
  await ctx.reply.type(XML).send(renderXml(entry[1].root, entry[1].body));
}

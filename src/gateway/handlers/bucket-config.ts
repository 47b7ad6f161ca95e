import { metadataSignal } from '../data-path/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../http/index.js';
import { FIXED_BUCKET_CONFIGURATIONS, parseVersioningXml, renderXml, S3Error, UNCONFIGURED_BUCKET_SUBRESOURCES } from '../s3/index.js';

const XML = 'application/xml';

/** GetBucketVersioning: the bucket's Status, or an empty configuration for a bucket that never had versioning. */
export async function getBucketVersioning(ctx: RequestContext): Promise<void> {
  const record = await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  const body = record.versioning === undefined ? {} : { Status: record.versioning };
  await ctx.reply.type(XML).send(renderXml('VersioningConfiguration', body));
}

/**
 * PutBucketVersioning: Enabled or Suspended. Once enabled, a bucket never returns to "never
 * versioned"; Suspended makes new writes the key's null version (s3/versioning.ts has the refusals).
 */
export async function putBucketVersioning(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const status = parseVersioningXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  await ctx.services.buckets.update(bucket, (record) => ({ ...record, versioning: status }), metadataSignal(ctx));
  await ctx.reply.send();
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

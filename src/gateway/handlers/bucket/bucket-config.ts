import { metadataSignal, type BodyDigests, type BucketRecords, type MetadataTimeout } from '../../data-path/index.js';
import { ownerOnly, ownershipOf, parseOwnershipControls, renderOwnershipControls } from '../../access/index.js';
import { bucketOf, bucketOwnerOf, readSmallBody, type AccessDeps, type RequestContext } from '../../http/index.js';
import { FIXED_BUCKET_CONFIGURATIONS, parseVersioningXml, renderXml, S3Error, UNCONFIGURED_BUCKET_SUBRESOURCES } from '../../s3/index.js';

const XML = 'application/xml';

/** GetBucketVersioning: the bucket's Status, or an empty configuration for a bucket that never had versioning. */
export async function getBucketVersioning(ctx: RequestContext<BucketRecords>): Promise<void> {
  const record = await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  const body = record.versioning === undefined ? {} : { Status: record.versioning };
  await ctx.reply.type(XML).send(renderXml('VersioningConfiguration', body));
}

/**
 * PutBucketVersioning: Enabled or Suspended. Once enabled, a bucket never returns to "never
 * versioned"; Suspended makes new writes the key's null version (s3/versioning.ts has the refusals).
 */
export async function putBucketVersioning(ctx: RequestContext<MetadataTimeout & BucketRecords & BodyDigests>): Promise<void> {
  const bucket = bucketOf(ctx);
  const status = parseVersioningXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  await ctx.services.buckets.update(bucket, (record) => {
    if (record.objectLock !== undefined && status !== 'Enabled') {
      throw new S3Error('InvalidBucketState', { message: 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.' });
    }
    // Replication reads every version by its id: S3 keeps a replicated bucket's versioning Enabled.
    if (record.replication !== undefined && status !== 'Enabled') {
      throw new S3Error('InvalidBucketState', { message: 'A replication configuration is present on this bucket, so the versioning state cannot be changed.' });
    }
    return { ...record, versioning: status };
  }, metadataSignal(ctx), ctx.access.bucketCreatedMs);
  await ctx.reply.send();
}

/** GET of a configuration Tessera never has (policy, encryption, lifecycle, ...): S3's "not configured" error. */
export async function getBucketUnconfigured(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.require(bucket, ctx.signal);
  for (const [name, code] of Object.entries(UNCONFIGURED_BUCKET_SUBRESOURCES)) {
    if (ctx.target.query.has(name)) throw new S3Error(code, { fields: { BucketName: bucket } });
  }
  throw new S3Error('NotImplemented');
}

/** GET of a configuration whose answer never changes (request payment, logging, ...). */
export async function getBucketFixedConfiguration(ctx: RequestContext<BucketRecords>): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  const entry = Object.entries(FIXED_BUCKET_CONFIGURATIONS).find(([name]) => ctx.target.query.has(name));
  if (entry === undefined) throw new S3Error('NotImplemented');
  await ctx.reply.type(XML).send(renderXml(entry[1].root, entry[1].body));
}

/** GetBucketOwnershipControls: the bucket's object ownership. */
export async function getBucketOwnershipControls(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  await ctx.reply.type(XML).send(renderOwnershipControls(ownershipOf(bucket)));
}

/**
 * PutBucketOwnershipControls. BucketOwnerEnforced disables ACLs, so S3 refuses it while the bucket's
 * ACL grants anything beyond the owner's control (InvalidBucketAclWithObjectOwnership).
 */
export async function putBucketOwnershipControls(ctx: RequestContext<BodyDigests & AccessDeps>): Promise<void> {
  const name = bucketOf(ctx);
  const ownership = parseOwnershipControls((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  const bucket = await ctx.services.buckets.require(name, ctx.signal);
  if (ownership === 'BucketOwnerEnforced' && bucket.grants !== undefined && !ownerOnly(bucket.grants, bucketOwnerOf(ctx, bucket))) {
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  }
  await ctx.services.buckets.update(name, (record) => ({ ...record, ownership }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.send();
}

/** DeleteBucketOwnershipControls: back to ObjectWriter, S3's behaviour without the setting. */
export async function deleteBucketOwnershipControls(ctx: RequestContext<BucketRecords>): Promise<void> {
  await ctx.services.buckets.update(bucketOf(ctx), (record) => ({ ...record, ownership: 'ObjectWriter' }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

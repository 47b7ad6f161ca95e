import type { BodyDigests, BucketRecords, EncryptionDeps } from '../../data-path/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../../http/index.js';
import { BUCKET_ENCRYPTION_ROOT, bucketEncryptionBody, parseBucketEncryptionXml, renderXml, S3Error } from '../../s3/index.js';

/** GetBucketEncryption: the bucket's default encryption, or S3's "not found" error when it has none. */
export async function getBucketEncryption(ctx: RequestContext<BucketRecords & EncryptionDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.encryption === undefined) throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', { fields: { BucketName: bucket } });
  const arn = record.kmsKeyName === undefined ? undefined : ctx.services.sealer.kmsKeyArn(record.kmsKeyName);
  await ctx.reply.type('application/xml').send(renderXml(BUCKET_ENCRYPTION_ROOT, bucketEncryptionBody(record.encryption, arn, record.bucketKeyEnabled === true)));
}

/**
 * PutBucketEncryption: new writes without SSE headers are sealed with SSE-S3 or SSE-KMS; objects already
 * stored stay as they are. A KMS key is stored by name; like S3, whether it exists is checked by the writes.
 */
export async function putBucketEncryption(ctx: RequestContext<BucketRecords & BodyDigests & EncryptionDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const asked = parseBucketEncryptionXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  const kmsKeyName = asked.kmsKeyId === undefined ? undefined : ctx.services.kms.keyNameOf(asked.kmsKeyId);
  // Refused before it is stored: a default no write could honour would fail every later PUT.
  ctx.services.sealer.masterKeyring();
  await ctx.services.buckets.update(
    bucket,
    ({ encryption: _e, kmsKeyName: _k, bucketKeyEnabled: _b, ...record }) => ({
      ...record,
      encryption: asked.algorithm,
      ...(kmsKeyName === undefined ? {} : { kmsKeyName }),
      ...(asked.bucketKeyEnabled === true ? { bucketKeyEnabled: true } : {}),
    }),
    ctx.signal,
    ctx.access.bucketCreatedMs,
  );
  await ctx.reply.send();
}

/** DeleteBucketEncryption: 204, also when there was none. */
export async function deleteBucketEncryption(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.update(bucket, ({ encryption: _e, kmsKeyName: _k, bucketKeyEnabled: _b, ...record }) => record, ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

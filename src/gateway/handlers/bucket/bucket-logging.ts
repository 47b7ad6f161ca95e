import type { BucketRecord } from '../../../rpc/index.js';
import type { BodyDigests, BucketRecords } from '../../data-path/index.js';
import { bucketOf, bucketOwnerOf, readSmallBody, type AccessDeps, type RequestContext } from '../../http/index.js';
import { MAX_LOGGING_BYTES, parseLoggingXml, renderLogging, S3Error } from '../../s3/index.js';

/** GetBucketLogging: the bucket's LoggingEnabled, or an empty BucketLoggingStatus when logging is off. */
export async function getBucketLogging(ctx: RequestContext<BucketRecords>): Promise<void> {
  const record = await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  await ctx.reply.type('application/xml').send(renderLogging(record.logging));
}

/**
 * PutBucketLogging: sets where the bucket's access log goes, or (an empty BucketLoggingStatus) turns
 * it off. The target is checked as S3 checks it (docs/access-logs.md): it exists, it has the source
 * bucket's owner, no default retention (log objects are written and never locked) and no SSE-KMS
 * default. The source bucket itself may be its own target.
 */
export async function putBucketLogging(ctx: RequestContext<BucketRecords & BodyDigests & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const logging = parseLoggingXml((await readSmallBody(ctx, MAX_LOGGING_BYTES)).toString('utf8'));
  if (logging !== undefined) {
    const source = await ctx.services.buckets.require(bucket, ctx.signal);
    const target = logging.targetBucket === bucket ? source : await targetRecord(ctx, logging.targetBucket);
    checkTarget(ctx, source, target);
  }
  await ctx.services.buckets.update(
    bucket,
    ({ logging: _previous, ...record }) => (logging === undefined ? record : { ...record, logging }),
    ctx.signal,
    ctx.access.bucketCreatedMs,
  );
  await ctx.reply.send();
}

async function targetRecord(ctx: RequestContext<BucketRecords>, name: string): Promise<BucketRecord> {
  try {
    return await ctx.services.buckets.require(name, ctx.signal);
  } catch (err) {
    if (err instanceof S3Error && (err.code === 'NoSuchBucket' || err.code === 'InvalidBucketName')) {
      throw new S3Error('InvalidTargetBucketForLogging', { fields: { TargetBucket: name }, cause: err });
    }
    throw err;
  }
}

function checkTarget(ctx: RequestContext<AccessDeps>, source: BucketRecord, target: BucketRecord): void {
  const refuse = (message: string): never => {
    throw new S3Error('InvalidTargetBucketForLogging', { message, fields: { TargetBucket: target.name } });
  };
  if (bucketOwnerOf(ctx, target) !== bucketOwnerOf(ctx, source)) refuse('The owner for the bucket to be logged and the target bucket must be the same.');
  if (target.objectLock?.defaultRetention !== undefined) refuse('The target bucket for logging must not have a default Object Lock retention period.');
  if (target.encryption === 'aws:kms') refuse('The target bucket for logging must not use SSE-KMS as its default encryption.');
}

import { randomUUID } from 'node:crypto';
import type { BodyDigests, BucketAdminDeps, BucketRecords } from '../../data-path/index.js';
import { parseDefinedTarget, parseReplicationArn } from '../../../events/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../../http/index.js';
import { MAX_REPLICATION_BYTES, parseReplicationXml, renderReplication, S3Error } from '../../s3/index.js';

type ReplicationDeps = BucketRecords & BodyDigests & Pick<BucketAdminDeps, 'users' | 'region'>;

/** S3's refusal of replication on a bucket whose versioning is not Enabled. */
function versioningRequired(): S3Error {
  return new S3Error('InvalidRequest', { message: "Versioning must be 'Enabled' on the bucket to apply a replication configuration" });
}

/** GetBucketReplication: the bucket's configuration, or S3's 404 when it has none. */
export async function getBucketReplication(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.replication === undefined) throw new S3Error('ReplicationConfigurationNotFoundError', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/xml').send(renderReplication(record.replication));
}

/**
 * PutBucketReplication: replaces the bucket's configuration. The bucket's versioning must be Enabled,
 * checked again in the update that stores it, so a suspension in between cannot slip past. Every
 * destination must name a defined s3 target whose bucket is the ARN's; a target added a moment ago is
 * found by reading the targets again (at most one read per interval, shared, as for notifications).
 */
export async function putBucketReplication(ctx: RequestContext<ReplicationDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const { region, users } = ctx.services;
  // S3 names a rule that has no ID with a random one.
  const configuration = parseReplicationXml((await readSmallBody(ctx, MAX_REPLICATION_BYTES)).toString('utf8'), region, () => randomUUID());
  const current = await ctx.services.buckets.require(bucket, ctx.signal);
  if (current.versioning !== 'Enabled') throw versioningRequired();
  const unknown = (): string[] =>
    [...new Set(configuration.rules.map((rule) => rule.destination.arn))].filter((arn) => {
      const named = parseReplicationArn(arn, region);
      const stored = named === undefined ? undefined : users.targetDefinition(named.name);
      if (named === undefined || stored === undefined) return true;
      try {
        const definition = parseDefinedTarget(stored);
        return definition.type !== 's3' || definition.bucket !== named.bucket;
      } catch {
        return true;
      }
    });
  let missing = unknown();
  if (missing.length > 0) {
    await users.refreshSoon();
    missing = unknown();
  }
  if (missing.length > 0) {
    // S3's answer for a destination bucket it cannot find; the ARN says which one.
    throw new S3Error('InvalidRequest', { message: 'Destination bucket must exist.', fields: { ArgumentName: 'Bucket', ArgumentValue: (missing[0] as string).slice(0, 2048) } });
  }
  await ctx.services.buckets.update(
    bucket,
    (record) => {
      if (record.versioning !== 'Enabled') throw versioningRequired();
      return { ...record, replication: configuration };
    },
    ctx.signal,
    ctx.access.bucketCreatedMs,
  );
  await ctx.reply.send();
}

/** DeleteBucketReplication: 204, also when there was none. */
export async function deleteBucketReplication(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.update(bucket, ({ replication: _removed, ...record }) => record, ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

import type { ObjectRecord } from '../../../rpc/index.js';
import type { BodyDigests, BucketRecords, LookupDeps, PendingChange, RecordWriteDeps, ResolvedVersion } from '../../data-path/index.js';
import { bucketOf, keyOf, readSmallBody, type AccessDeps, type RequestContext } from '../../http/index.js';
import { MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, parseTaggingXml, renderXml, S3Error, tagSetBody, versionIdParam } from '../../s3/index.js';
import { requireVersion, setVersionHeader } from '../shared/current-version.js';
import { updateInPlace } from './in-place-update.js';
import { changeOf } from '../shared/change-origin.js';

/**
 * Replaces the tags of the key's current version (or of the one `versionId` names) on its nodes, in
 * place: no data is rewritten and the ETag and Last-Modified stay, as in S3 (see updateInPlace). S3's
 * event: `eventName`, for the bucket's notification configurations and replication rules that select it.
 */
async function setObjectTags(
  ctx: RequestContext<RecordWriteDeps & AccessDeps>,
  bucket: string,
  key: string,
  versionId: string | undefined,
  tags: Record<string, string>,
  eventName: 's3:ObjectTagging:Put' | 's3:ObjectTagging:Delete',
): Promise<ObjectRecord> {
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  const read = async (): Promise<{ version: ResolvedVersion }> => ({ version: await requireVersion(ctx, bucket, key, versionId) });
  // A tag change replicates only for a version that was replicated itself (never a replica's).
  const changeFor = (record: ObjectRecord): PendingChange | undefined =>
    changeOf(ctx, bucketRecord, eventName, key, { tags, previousTags: record.tags, replicates: isReplicated(record) });
  const { version } = await updateInPlace(ctx, bucket, key, 'tag update', read, () => ({ tags }), changeFor);
  return version.record;
}

/** Whether a replication rule sent `record` to a destination: its tag changes follow it there. */
function isReplicated(record: ObjectRecord): boolean {
  return record.replicationStatus !== undefined && record.replicationStatus !== 'REPLICA';
}

/** GetObjectTagging. */
export async function getObjectTagging(ctx: RequestContext<LookupDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), keyOf(ctx));
  await ctx.services.buckets.require(bucket, ctx.signal);
  const { record } = await requireVersion(ctx, bucket, key, versionId);
  setVersionHeader(ctx, versionId, record);
  await ctx.reply.type('application/xml').send(renderXml('Tagging', tagSetBody(record.tags ?? {})));
}

/** PutObjectTagging: the document replaces the whole tag set. */
export async function putObjectTagging(ctx: RequestContext<RecordWriteDeps & BodyDigests & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), keyOf(ctx));
  const tags = parseTaggingXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'), MAX_OBJECT_TAGS);
  setVersionHeader(ctx, versionId, await setObjectTags(ctx, bucket, key, versionId, tags, 's3:ObjectTagging:Put'));
  await ctx.reply.send();
}

/** DeleteObjectTagging: 204, also when there were no tags. */
export async function deleteObjectTagging(ctx: RequestContext<RecordWriteDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), keyOf(ctx));
  setVersionHeader(ctx, versionId, await setObjectTags(ctx, bucket, key, versionId, {}, 's3:ObjectTagging:Delete'));
  await ctx.reply.status(204).send();
}

/** GetBucketTagging: NoSuchTagSet when the bucket has none. */
export async function getBucketTagging(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.tags === undefined) throw new S3Error('NoSuchTagSet', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/xml').send(renderXml('Tagging', tagSetBody(record.tags)));
}

/** PutBucketTagging: replaces the bucket's tags (up to 50). */
export async function putBucketTagging(ctx: RequestContext<BucketRecords & BodyDigests>): Promise<void> {
  const bucket = bucketOf(ctx);
  const tags = parseTaggingXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'), MAX_BUCKET_TAGS);
  await ctx.services.buckets.update(bucket, (record) => ({ ...record, tags }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

/** DeleteBucketTagging: 204. */
export async function deleteBucketTagging(ctx: RequestContext<BucketRecords>): Promise<void> {
  await ctx.services.buckets.update(bucketOf(ctx), ({ tags: _removed, ...record }) => record, ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

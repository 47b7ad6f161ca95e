import type { BucketRecord } from '../../../rpc/index.js';
import { metadataSignal, type BodyDigests, type BucketRecords, type LookupDeps, type MetadataTimeout, type RecordWriteDeps, type ResolvedVersion } from '../../data-path/index.js';
import { bucketOf, keyOf, readSmallBody, type AccessDeps, type RequestContext } from '../../http/index.js';
import {
  formatRetainUntil,
  LOCKED_MESSAGE,
  objectLockBody,
  parseLegalHoldXml,
  parseObjectLockXml,
  parseRetentionXml,
  renderXml,
  retentionChange,
  S3Error,
  versionIdParam,
} from '../../s3/index.js';
import { requireVersion } from '../shared/current-version.js';
import { updateInPlace } from './in-place-update.js';
import { governanceBypass, requireBodyDigest, requireLockConfig } from '../shared/object-lock-fields.js';

const XML = 'application/xml';

/** GetObjectLockConfiguration: ObjectLockConfigurationNotFoundError for a bucket without Object Lock. */
export async function getObjectLockConfiguration(ctx: RequestContext<BucketRecords>): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  if (record.objectLock === undefined) throw new S3Error('ObjectLockConfigurationNotFoundError', { fields: { BucketName: bucket } });
  await ctx.reply.type(XML).send(renderXml('ObjectLockConfiguration', objectLockBody(record.objectLock)));
}

/**
 * PutObjectLockConfiguration: sets (or clears) the default retention; on a bucket created without
 * Object Lock it turns it on, as S3 allows once versioning is Enabled, and for good.
 */
export async function putObjectLockConfiguration(ctx: RequestContext<MetadataTimeout & BucketRecords & BodyDigests>): Promise<void> {
  const bucket = bucketOf(ctx);
  requireBodyDigest(ctx);
  const config = parseObjectLockXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  await ctx.services.buckets.update(
    bucket,
    (record) => {
      if (record.objectLock === undefined && record.versioning !== 'Enabled') {
        throw new S3Error('InvalidBucketState', { message: "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration" });
      }
      return { ...record, versioning: 'Enabled', objectLock: config };
    },
    metadataSignal(ctx),
    ctx.access.bucketCreatedMs,
  );
  await ctx.reply.send();
}

/** The version a retention or legal-hold request names, in a bucket with Object Lock. */
async function lockedVersion(ctx: RequestContext<LookupDeps & AccessDeps>): Promise<{ bucket: BucketRecord; version: ResolvedVersion }> {
  const name = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), key);
  const bucket = await ctx.services.buckets.require(name, ctx.signal);
  requireLockConfig(bucket);
  return { bucket, version: await requireVersion(ctx, name, key, versionId, { bucket }) };
}

/** GetObjectRetention: NoSuchObjectLockConfiguration for a version without retention. */
export async function getObjectRetention(ctx: RequestContext<LookupDeps & AccessDeps>): Promise<void> {
  const { version } = await lockedVersion(ctx);
  const retention = version.record.retention;
  if (retention === undefined) throw new S3Error('NoSuchObjectLockConfiguration');
  await ctx.reply.type(XML).send(renderXml('Retention', { Mode: retention.mode, RetainUntilDate: formatRetainUntil(retention.retainUntilMs) }));
}

/**
 * PutObjectRetention: retention running in COMPLIANCE can only be extended; in GOVERNANCE it can be
 * extended by anyone allowed this call and shortened, removed or changed in mode only with the bypass.
 */
export async function putObjectRetention(ctx: RequestContext<RecordWriteDeps & BodyDigests & AccessDeps>): Promise<void> {
  const bucketName = bucketOf(ctx);
  const key = keyOf(ctx);
  await ctx.services.buckets.require(bucketName, ctx.signal).then(requireLockConfig);
  requireBodyDigest(ctx);
  const next = parseRetentionXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'), Date.now());
  // Checked and written under the key's lease: two changes checked alone could shorten COMPLIANCE retention.
  await updateInPlace(ctx, bucketName, key, 'Object Lock update', () => lockedVersion(ctx), ({ bucket, version }) => {
    const verdict = retentionChange(version.record.retention, next, Date.now());
    if (verdict === 'refused' || (verdict === 'needs-bypass' && !governanceBypass(ctx, bucket, key))) {
      throw new S3Error('AccessDenied', { message: LOCKED_MESSAGE });
    }
    return { retention: next };
  });
  await ctx.reply.send();
}

/** GetObjectLegalHold: NoSuchObjectLockConfiguration for a version whose legal hold was never set. */
export async function getObjectLegalHold(ctx: RequestContext<LookupDeps & AccessDeps>): Promise<void> {
  const { version } = await lockedVersion(ctx);
  const hold = version.record.legalHold;
  if (hold === undefined) throw new S3Error('NoSuchObjectLockConfiguration');
  await ctx.reply.type(XML).send(renderXml('LegalHold', { Status: hold ? 'ON' : 'OFF' }));
}

/** PutObjectLegalHold: ON or OFF, on any version, whatever its retention. */
export async function putObjectLegalHold(ctx: RequestContext<RecordWriteDeps & BodyDigests & AccessDeps>): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), ctx.signal).then(requireLockConfig);
  requireBodyDigest(ctx);
  const hold = parseLegalHoldXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  await updateInPlace(ctx, bucketOf(ctx), keyOf(ctx), 'Object Lock update', () => lockedVersion(ctx), () => ({ legalHold: hold }));
  await ctx.reply.send();
}

import { Readable } from 'node:stream';
import type { ObjectRecord } from '../../../rpc/index.js';
import { openStoredObject, type EncryptionDeps, type LifecycleDates, type ReadPathDeps, type RecordWriteDeps, type WritePathDeps } from '../../data-path/index.js';
import { bucketOf, header, keyOf, type AccessDeps, type RequestContext } from '../../http/index.js';
import { parseDeleteConditions, parseRange, S3Error, s3VersionId, storedMetadataHeaders, tagCount, versionIdParam } from '../../s3/index.js';
import { readVersion, requireVersion, setVersionHeader, setWrittenVersionHeader } from '../shared/current-version.js';
import { readSseOf, setSseHeaders, writeSseOf } from '../shared/object-encryption.js';
import { deleteObjectVersion } from './version-delete.js';
import { attributesOf } from '../shared/object-attributes.js';
import { setExpirationHeader } from '../shared/lifecycle-dates.js';
import { objectAclFields } from '../shared/request-acl.js';
import { objectLockFields, setLockHeaders } from '../shared/object-lock-fields.js';
import { selectedPart } from './object-parts.js';
import { checkReadConditions, checkWritePreconditions, writePreconditionsOf } from '../shared/preconditions.js';
import { requestBody, setChecksumHeaders, writeObject } from '../shared/upload-body.js';
import { changeOf } from '../shared/change-origin.js';
import { existingReplica, replicaOf } from '../shared/replica-request.js';

/** PutObject: erasure-codes the body across the key's nodes; acknowledged after a write quorum commits. */
export async function putObject(ctx: RequestContext<WritePathDeps & LifecycleDates & EncryptionDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const attributes = attributesOf(ctx);
  const preconditions = writePreconditionsOf(ctx);
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  const sse = await writeSseOf(ctx, bucketRecord);
  Object.assign(attributes, objectAclFields(ctx, bucketRecord), objectLockFields(ctx, bucketRecord, { withBody: true }));
  // Checked before the body is read, so a refused upload costs no transfer, and again before the commit.
  if (preconditions !== undefined) await checkWritePreconditions(ctx, bucket, key, preconditions);
  const replica = replicaOf(ctx, bucketRecord, key, 's3:ReplicateObject');
  if (replica !== undefined) {
    const existing = await existingReplica(ctx, bucket, key, replica);
    if (existing !== null) {
      // A retried delivery: the version is here already, and its body is not read.
      setWrittenVersionHeader(ctx, existing);
      await ctx.reply.header('etag', existing.etag).send();
      return;
    }
    Object.assign(attributes, { replicationStatus: 'REPLICA' }, replica.versionId === undefined ? {} : { versionId: replica.versionId });
  }
  const encryption = ctx.services.sealer.forBody(sse);
  // A replica's own changes never replicate again: two clusters replicating to each other stop there.
  const change = changeOf(ctx, bucketRecord, 's3:ObjectCreated:Put', key, { tags: attributes.tags, replicates: replica === undefined });
  const record = await writeObject(ctx, bucket, key, attributes, requestBody(ctx), { encryption, preconditions, change, bucketRecord });
  setChecksumHeaders(ctx, record, true);
  setSseHeaders(ctx, record.encryption, sse, true);
  setWrittenVersionHeader(ctx, record);
  setExpirationHeader(ctx, bucketRecord, record);
  await ctx.reply.header('etag', record.etag).send();
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** GetObject's `response-*` query parameters and the header each one overrides. */
const RESPONSE_OVERRIDES = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
] as const;

/**
 * S3 takes `response-*` overrides only on signed requests (an Authorization header or a presigned URL):
 * anyone could otherwise make a public object answer as, say, `text/html` from the store's own origin.
 */
function refuseAnonymousOverrides(ctx: RequestContext<unknown>): void {
  if (ctx.access.principal.kind !== 'anonymous') return;
  if (RESPONSE_OVERRIDES.some(([parameter]) => ctx.target.query.get(parameter) !== undefined)) {
    throw new S3Error('InvalidRequest', { message: 'Request specific response headers cannot be used for anonymous GET requests.' });
  }
}

function setObjectHeaders(ctx: RequestContext<unknown>, record: ObjectRecord, ranged: boolean): void {
  const { reply } = ctx;
  reply.header('etag', record.etag);
  reply.header('last-modified', httpDate(record.lastModifiedMs));
  reply.header('accept-ranges', 'bytes');
  for (const [name, value] of Object.entries(storedMetadataHeaders(record))) reply.header(name, value);
  const tags = tagCount(record.tags);
  if (tags > 0) reply.header('x-amz-tagging-count', tags);
  if (record.replicationStatus !== undefined) reply.header('x-amz-replication-status', record.replicationStatus);
  // A whole-object checksum describes the whole body: S3 sends none with a partial one.
  if (!ranged && header(ctx, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    const entries = Object.entries(record.checksums);
    for (const [algorithm, value] of entries) reply.header(`x-amz-checksum-${algorithm.toLowerCase()}`, value);
    if (entries.length > 0) reply.header('x-amz-checksum-type', record.checksumType ?? 'FULL_OBJECT');
  }
  for (const [parameter, name] of RESPONSE_OVERRIDES) {
    const value = ctx.target.query.get(parameter);
    if (value !== undefined) reply.header(name, value);
  }
}

/**
 * GetObject: resolve the newest version, then stream (a range of) it. A missing key is NoSuchKey only
 * to those who may list the bucket, AccessDenied to others, as in S3 (requireVersion).
 */
export async function getObject(ctx: RequestContext<LifecycleDates & ReadPathDeps & EncryptionDeps & AccessDeps>): Promise<void> {
  await sendObject(ctx, false);
}

/** HeadObject: GetObject's answer without the body. */
export async function headObject(ctx: RequestContext<LifecycleDates & ReadPathDeps & EncryptionDeps & AccessDeps>): Promise<void> {
  await sendObject(ctx, true);
}

async function sendObject(ctx: RequestContext<LifecycleDates & ReadPathDeps & EncryptionDeps & AccessDeps>, headOnly: boolean): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const { services } = ctx;
  refuseAnonymousOverrides(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), keyOf(ctx));
  const sse = readSseOf(ctx);
  // The bucket and the version are looked up together; a missing bucket still answers NoSuchBucket first.
  const bucketRecord = services.buckets.require(bucket, ctx.signal);
  const firstLookup = requireVersion(ctx, bucket, key, versionId, { withInlineShards: !headOnly });
  firstLookup.catch(() => undefined);
  const bucketEntry = await bucketRecord;
  const { version, opened } = await readVersion(
    ctx,
    (attempt) => (attempt === 1 ? firstLookup : requireVersion(ctx, bucket, key, versionId, { withInlineShards: true })),
    async (found) => {
      const { record } = found;
      services.sealer.checkAccess(record.encryption, sse);
      checkReadConditions(ctx, record);
      const part = selectedPart(ctx, record);
      const range = part?.range ?? parseRange(header(ctx, 'range'), record.sizeBytes);
      // The first bytes are in hand before any header is set: a read that cannot start is a clean S3 error.
      const chunks = headOnly
        ? undefined
        : await openStoredObject(services, found, range?.start ?? 0, range === undefined ? record.sizeBytes : range.end - range.start + 1, {
            codec: services.codec,
            signal: ctx.signal,
            stallTimeoutMs: services.stallTimeoutMs,
            logger: ctx.request.log,
            dataKeyOf: (field) => services.sealer.dataKey(field, sse),
          });
      return { part, range, chunks };
    },
  );
  const { part, range, chunks } = opened;
  const { record } = version;
  const length = range === undefined ? record.sizeBytes : range.end - range.start + 1;
  setObjectHeaders(ctx, record, range !== undefined);
  setLockHeaders(ctx, record, await bucketRecord);
  if (part?.partsCount !== undefined) ctx.reply.header('x-amz-mp-parts-count', part.partsCount);
  setSseHeaders(ctx, record.encryption, sse);
  if (versionId === undefined) setExpirationHeader(ctx, bucketEntry, record);
  setVersionHeader(ctx, versionId, record);
  if (range !== undefined && length > 0) {
    ctx.reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${record.sizeBytes}`);
  }
  ctx.reply.header('content-length', length);
  await ctx.reply.send(chunks === undefined ? undefined : Readable.from(chunks, { objectMode: false }));
}

/**
 * DeleteObject: S3 answers 204 whether or not the key existed. Without a versionId it writes a delete
 * marker (a versioned one when the bucket has versioning); with one it removes that version for good.
 * `If-Match`, `x-amz-if-match-last-modified-time` and `x-amz-if-match-size` make it conditional on the
 * key's current version (deleteObjectVersion).
 */
export async function deleteObject(ctx: RequestContext<RecordWriteDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), key);
  const conditions = parseDeleteConditions(
    { ifMatch: header(ctx, 'if-match'), lastModified: header(ctx, 'x-amz-if-match-last-modified-time'), size: header(ctx, 'x-amz-if-match-size') },
    { lastModified: 'x-amz-if-match-last-modified-time', size: 'x-amz-if-match-size' },
  );
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  const replica = replicaOf(ctx, bucketRecord, key, 's3:ReplicateDelete');
  if (replica !== undefined) {
    // S3 never replicates a delete by version id: a replica delete is a delete marker.
    if (versionId !== undefined) throw new S3Error('InvalidArgument', { message: 'A replica delete names no version.', fields: { ArgumentName: 'versionId', ArgumentValue: versionId } });
    const existing = await existingReplica(ctx, bucket, key, replica);
    if (existing !== null) {
      // A retried delivery: the marker is here already.
      if (existing.deleted) ctx.reply.header('x-amz-delete-marker', 'true');
      if (existing.versioning !== undefined) ctx.reply.header('x-amz-version-id', s3VersionId(existing));
      await ctx.reply.status(204).send();
      return;
    }
  }
  const outcome = await deleteObjectVersion(ctx, bucket, key, versionId, replica, conditions);
  if (outcome.deleteMarker) ctx.reply.header('x-amz-delete-marker', 'true');
  if (outcome.versionId !== undefined) ctx.reply.header('x-amz-version-id', outcome.versionId);
  await ctx.reply.status(204).send();
}

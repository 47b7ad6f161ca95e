import { randomBytes } from 'node:crypto';
import { UPLOADS_BUCKET, uploadMarkerKey, type ObjectRecord } from '../../../rpc/index.js';
import { commitRecord, deleteMarker, type EncryptionDeps, type LifecycleDates, type IndexWrites, type LookupDeps, type RecordWriteDeps, type WritePathDeps } from '../../data-path/index.js';
import { bucketOf, keyOf, type AccessDeps, type RequestContext } from '../../http/index.js';
import { renderXml } from '../../s3/index.js';
import { checkPartAlgorithm, uploadChecksumOf } from '../shared/multipart-checksums.js';
import { checkQuota } from '../shared/bucket-quota.js';
import { closingMarker } from './closing-marker.js';
import { attributesOf } from '../shared/object-attributes.js';
import { setAbortHeaders } from '../shared/lifecycle-dates.js';
import { readSseOf, setSseHeaders, writeSseOf } from '../shared/object-encryption.js';
import { objectAclFields } from '../shared/request-acl.js';
import { objectLockFields, requirePartDigest } from '../shared/object-lock-fields.js';
import { requestBody, setChecksumHeaders, writePart } from '../shared/upload-body.js';
import { partNumberOf, requireNotCompleting, requireUpload, uploadIdOf } from '../shared/upload-lookup.js';
import { replicaOf } from '../shared/replica-request.js';

/**
 * Multipart uploads. Each part is an erasure-coded version of its own under an internal bucket
 * (`.multipart`: a name S3 forbids, so no user bucket can collide with it), keyed
 * `<bucket>/<uploadId>/<partNumber>`. The upload itself is a record-only marker at
 * `<bucket>/<uploadId>`. Completion writes a manifest record on the object's key that lists the
 * parts' versions: no byte is copied. Completion and abort replace the marker with a closing marker:
 * a tombstone (the upload is gone for every reader) that keeps the upload's target key and how it
 * ended, and for a completion the manifest's version. From that the storage nodes' garbage collector
 * tells the parts of an aborted upload, and parts a completion left out, from parts a manifest uses.
 */
const XML = 'application/xml';

/**
 * A new upload id: the clock's version id (time first) plus randomness, so ids sort by initiation
 * time, the order S3 lists one key's uploads in and compares upload-id-marker against.
 */
function newUploadId(ctx: RequestContext<AccessDeps>): string {
  return `${ctx.services.clock.next()}${randomBytes(4).toString('hex')}`;
}

/** CreateMultipartUpload: records the upload, its checksum settings and the attributes the object will get. */
export async function createMultipartUpload(ctx: RequestContext<LookupDeps & IndexWrites & LifecycleDates & EncryptionDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const attributes = attributesOf(ctx);
  const checksum = uploadChecksumOf(ctx);
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  // The upload remembers that it is a replica; its completion is one (multipart-complete.ts).
  const replica = replicaOf(ctx, bucketRecord, key, 's3:ReplicateObject');
  Object.assign(attributes, objectAclFields(ctx, bucketRecord), replica === undefined ? {} : { replicationStatus: 'REPLICA' });
  // Only the requested lock is kept with the upload: a default retention runs from completion.
  const { legalHold, retention } = objectLockFields(ctx, bucketRecord, { withBody: false, applyDefault: false });
  const requestedLock = { ...(retention === undefined ? {} : { retention }), ...(legalHold === undefined ? {} : { legalHold }) };
  const sse = await writeSseOf(ctx, bucketRecord);
  // A bucket with no room for one more object refuses the upload before any part is sent.
  await checkQuota(ctx, bucketRecord, { objects: 1, bytes: 0 });
  // One data key for the whole upload, sealed in its marker; every part gets a nonce of its own.
  const encryption = ctx.services.sealer.newUpload(sse);
  const uploadId = newUploadId(ctx);
  const initiatedMs = ctx.services.clock.nowMs();
  const { tags, ...rest } = attributes;
  const marker: ObjectRecord = {
    ...deleteMarker(ctx, UPLOADS_BUCKET, uploadMarkerKey(bucket, uploadId)),
    deleted: false,
    ...rest,
    ...requestedLock,
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    upload: { bucket, key, initiatedMs, bucketCreatedMs: bucketRecord.createdMs, ...checksum, ...(replica?.versionId === undefined ? {} : { replicaVersionId: replica.versionId }) },
    ...(encryption === undefined ? {} : { encryption }),
  };
  await commitRecord(ctx, marker);
  setSseHeaders(ctx, encryption, sse, true);
  setAbortHeaders(ctx, bucketRecord, key, initiatedMs);
  if (checksum.checksumAlgorithm !== undefined) ctx.reply.header('x-amz-checksum-algorithm', checksum.checksumAlgorithm);
  if (checksum.checksumType !== undefined) ctx.reply.header('x-amz-checksum-type', checksum.checksumType);
  await ctx.reply.type(XML).send(renderXml('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId }));
}

/** UploadPart: stores the part as its own erasure-coded version; a re-upload of a part number replaces it. */
export async function uploadPart(ctx: RequestContext<WritePathDeps & EncryptionDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const partNumber = partNumberOf(ctx);
  const sse = readSseOf(ctx);
  const marker = await requireUpload(ctx, bucket, key, uploadId);
  requireNotCompleting(marker);
  const checksumAlgorithm = checkPartAlgorithm(ctx, marker.upload);
  // Sealed with the upload's data key; an SSE-C upload needs the same key on every part.
  ctx.services.sealer.checkAccess(marker.encryption, sse);
  const encryption = marker.encryption === undefined ? undefined : ctx.services.sealer.forBody(sse, marker.encryption);
  requirePartDigest(ctx, marker, (await ctx.services.buckets.require(bucket, ctx.signal)).objectLock);
  const record = await writePart(ctx, { bucket, key, uploadId, partNumber }, requestBody(ctx, checksumAlgorithm), encryption);
  setChecksumHeaders(ctx, record, false);
  setSseHeaders(ctx, record.encryption, sse);
  await ctx.reply.header('etag', record.etag).send();
}

/** AbortMultipartUpload: the upload disappears; its parts become garbage. */
export async function abortMultipartUpload(ctx: RequestContext<RecordWriteDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const marker = await requireUpload(ctx, bucket, key, uploadId);
  await commitRecord(ctx, closingMarker(ctx, marker, 'aborted'));
  await ctx.reply.status(204).send();
}

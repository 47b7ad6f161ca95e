import { createHash, randomBytes } from 'node:crypto';
import { UPLOADS_BUCKET, uploadMarkerKey, uploadPartKey, type ObjectRecord, type PartRef, type UploadInfo, type UploadOutcome } from '../../rpc/index.js';
import { commitRecord, deleteMarker, metadataSignal, resolveVersion } from '../data-path/index.js';
import { bucketOf, keyOf, readSmallBody, type RequestContext } from '../http/index.js';
import { CHECKSUM_ALGORITHMS } from '../s3/checksums/index.js';
import { renderXml, requestDocumentRoot, S3Error } from '../s3/index.js';
import {
  checkCompletionHeaders,
  checkPartAlgorithm,
  completedChecksum,
  headersWithoutObjectChecksums,
  uploadChecksumOf,
} from './multipart-checksums.js';
import { attributesOf } from './object-attributes.js';
import { objectAclFields } from './request-acl.js';
import { checkWritePreconditions, writePreconditionsOf } from './preconditions.js';
import { setChecksumHeaders, writeBody } from './upload-body.js';
import { partNumberOf, requireUpload, uploadIdOf } from './upload-lookup.js';

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
const MIN_PART_BYTES = 5 * 1024 * 1024;
const XML = 'application/xml';

/**
 * The tombstone that ends an upload: a delete marker at the upload's marker key that keeps the
 * upload's description and how it ended. Readers see a tombstone (NoSuchUpload, not listed).
 */
function closingMarker(ctx: RequestContext, marker: ObjectRecord & { upload: UploadInfo }, outcome: UploadOutcome, manifestVersionId?: string): ObjectRecord {
  const closing = deleteMarker(ctx, UPLOADS_BUCKET, marker.key);
  const upload: UploadInfo = { ...marker.upload, closed: outcome, closedMs: closing.lastModifiedMs };
  if (manifestVersionId !== undefined) upload.manifestVersionId = manifestVersionId;
  return { ...closing, upload };
}

/**
 * A new upload id: the clock's version id (time first) plus randomness, so ids sort by initiation
 * time, the order S3 lists one key's uploads in and compares upload-id-marker against.
 */
function newUploadId(ctx: RequestContext): string {
  return `${ctx.services.clock.next()}${randomBytes(4).toString('hex')}`;
}

/** CreateMultipartUpload: records the upload, its checksum settings and the attributes the object will get. */
export async function createMultipartUpload(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const attributes = attributesOf(ctx);
  const checksum = uploadChecksumOf(ctx);
  const bucketRecord = await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  Object.assign(attributes, objectAclFields(ctx, bucketRecord));
  const uploadId = newUploadId(ctx);
  const { tags, ...rest } = attributes;
  const marker: ObjectRecord = {
    ...deleteMarker(ctx, UPLOADS_BUCKET, uploadMarkerKey(bucket, uploadId)),
    deleted: false,
    ...rest,
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    upload: { bucket, key, initiatedMs: ctx.services.clock.nowMs(), ...checksum },
  };
  await commitRecord(ctx, marker);
  if (checksum.checksumAlgorithm !== undefined) ctx.reply.header('x-amz-checksum-algorithm', checksum.checksumAlgorithm);
  if (checksum.checksumType !== undefined) ctx.reply.header('x-amz-checksum-type', checksum.checksumType);
  await ctx.reply.type(XML).send(renderXml('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId }));
}

/** UploadPart: stores the part as its own erasure-coded version; a re-upload of a part number replaces it. */
export async function uploadPart(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const partNumber = partNumberOf(ctx);
  const marker = await requireUpload(ctx, bucket, key, uploadId);
  const checksumAlgorithm = checkPartAlgorithm(ctx, marker.upload);
  const record = await writeBody(
    ctx,
    UPLOADS_BUCKET,
    uploadPartKey(bucket, uploadId, partNumber),
    { contentType: 'binary/octet-stream', userMetadata: {}, headers: {}, tags: {} },
    { checksumAlgorithm },
  );
  setChecksumHeaders(ctx, record, false);
  await ctx.reply.header('etag', record.etag).send();
}

interface RequestedPart {
  partNumber: number;
  etag: string;
  /** Checksums the client lists for the part, by algorithm. */
  checksums: Record<string, string>;
}

function requestedParts(text: string): RequestedPart[] {
  const root = requestDocumentRoot(text, 'CompleteMultipartUpload');
  const parts = (root as { Part?: unknown }).Part;
  const list = parts === undefined ? [] : Array.isArray(parts) ? parts : [parts];
  if (list.length === 0) throw new S3Error('MalformedXML');
  return list.map((entry) => {
    const fields = (entry ?? {}) as Record<string, unknown>;
    const { PartNumber: number, ETag: etag } = fields;
    if (typeof number !== 'string' || !/^\d+$/.test(number.trim()) || typeof etag !== 'string') throw new S3Error('MalformedXML');
    const checksums: Record<string, string> = {};
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = fields[`Checksum${algorithm}`];
      if (typeof value === 'string') checksums[algorithm] = value.trim();
    }
    return { partNumber: Number(number.trim()), etag: normaliseEtag(etag), checksums };
  });
}

function normaliseEtag(etag: string): string {
  const bare = etag.trim().replace(/^"|"$/g, '');
  return `"${bare}"`;
}

/** The stored parts a completion names, checked as S3 does: each exists with that ETag (and checksum), in order, big enough. */
async function completedParts(ctx: RequestContext, bucket: string, uploadId: string, requested: readonly RequestedPart[]): Promise<ObjectRecord[]> {
  for (let i = 1; i < requested.length; i += 1) {
    if ((requested[i] as RequestedPart).partNumber <= (requested[i - 1] as RequestedPart).partNumber) throw new S3Error('InvalidPartOrder');
  }
  const signal = metadataSignal(ctx);
  const stored = await Promise.all(
    requested.map(async (part) => {
      const partKeyName = uploadPartKey(bucket, uploadId, part.partNumber);
      const sets = ctx.services.cluster.readSets(UPLOADS_BUCKET, partKeyName);
      const version = await resolveVersion(sets, UPLOADS_BUCKET, partKeyName, ctx.services.erasure, signal);
      const matches =
        version !== null &&
        version.record.etag === part.etag &&
        Object.entries(part.checksums).every(([algorithm, value]) => version.record.checksums[algorithm] === value);
      if (!matches) throw new S3Error('InvalidPart', { fields: { PartNumber: String(part.partNumber), ETag: part.etag } });
      return version.record;
    }),
  );
  stored.forEach((record, i) => {
    if (i < stored.length - 1 && record.sizeBytes < MIN_PART_BYTES) {
      throw new S3Error('EntityTooSmall', { fields: { ProposedSize: String(record.sizeBytes), MinSizeAllowed: String(MIN_PART_BYTES) } });
    }
  });
  return stored;
}

/**
 * CompleteMultipartUpload: checks the listed parts and writes the manifest; S3's ETag of MD5s of MD5s
 * and, when the upload named an algorithm, its COMPOSITE or FULL_OBJECT checksum. Honours
 * `If-None-Match: *` and `If-Match` on the destination key (see checkWritePreconditions).
 */
export async function completeMultipartUpload(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const preconditions = writePreconditionsOf(ctx);
  const body = await readSmallBody(ctx, 4 * 1024 * 1024, headersWithoutObjectChecksums(ctx));
  const requested = requestedParts(body.toString('utf8'));
  const marker = await requireUpload(ctx, bucket, key, uploadId);
  const stored = await completedParts(ctx, bucket, uploadId, requested);
  const checksum = completedChecksum(marker.upload, stored);
  checkCompletionHeaders(ctx, checksum);
  if (preconditions !== undefined) await checkWritePreconditions(ctx, bucket, key, preconditions);
  const parts: PartRef[] = stored.map((record, i) => ({
    partNumber: (requested[i] as RequestedPart).partNumber,
    bucket: record.bucket,
    key: record.key,
    versionId: record.versionId,
    sizeBytes: record.sizeBytes,
    etag: record.etag,
    checksums: record.checksums,
  }));
  const md5s = Buffer.concat(stored.map((record) => Buffer.from(record.etag.slice(1, -1), 'hex')));
  const etag = `"${createHash('md5').update(md5s).digest('hex')}-${parts.length}"`;
  const manifest: ObjectRecord = {
    bucket,
    key,
    versionId: ctx.services.clock.next(),
    deleted: false,
    sizeBytes: parts.reduce((sum, part) => sum + part.sizeBytes, 0),
    etag,
    lastModifiedMs: ctx.services.clock.nowMs(),
    contentType: marker.contentType,
    userMetadata: marker.userMetadata,
    headers: marker.headers,
    ...(marker.tags === undefined ? {} : { tags: marker.tags }),
    ...(marker.owner === undefined ? {} : { owner: marker.owner }),
    ...(marker.grants === undefined ? {} : { grants: marker.grants }),
    checksums: checksum === undefined ? {} : { [checksum.algorithm]: checksum.value },
    ...(checksum === undefined ? {} : { checksumType: checksum.type }),
    erasure: ctx.services.erasure,
    parts,
  };
  await commitRecord(ctx, manifest);
  await commitRecord(ctx, closingMarker(ctx, marker, 'completed', manifest.versionId));
  const result: Record<string, unknown> = { Location: `/${bucket}/${encodeURIComponent(key)}`, Bucket: bucket, Key: key, ETag: etag };
  if (checksum !== undefined) {
    result[`Checksum${checksum.algorithm}`] = checksum.value;
    result['ChecksumType'] = checksum.type;
  }
  await ctx.reply.type(XML).send(renderXml('CompleteMultipartUploadResult', result));
}

/** AbortMultipartUpload: the upload disappears; its parts become garbage. */
export async function abortMultipartUpload(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const marker = await requireUpload(ctx, bucket, key, uploadId);
  await commitRecord(ctx, closingMarker(ctx, marker, 'aborted'));
  await ctx.reply.status(204).send();
}

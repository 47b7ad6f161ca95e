import { createHash, randomBytes } from 'node:crypto';
import type { ObjectRecord, PartRef } from '../rpc/index.js';
import { listObjects } from './listing.js';
import { resolveVersion } from './object-reader.js';
import { attributesOf, commitRecord, deleteMarker, refuseUnsupportedHeaders, writeBody } from './object-handlers.js';
import { readSmallBody } from './request-body.js';
import { bucketOf, keyOf, metadataSignal, type RequestContext } from './request-context.js';
import { S3Error } from './s3-errors.js';
import { parseXml, renderXml } from './xml.js';

/**
 * Multipart uploads. Each part is an erasure-coded version of its own under an internal bucket
 * (`.multipart`: a name S3 forbids, so no user bucket can collide with it), keyed
 * `<bucket>/<uploadId>/<partNumber>`. The upload itself is a record-only marker at
 * `<bucket>/<uploadId>`. Completion writes a manifest record on the object's key that lists the
 * parts' versions: no byte is copied. Parts and markers left by completed or aborted uploads are
 * garbage for the collector.
 */
export const UPLOADS_BUCKET = '.multipart';
const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;
const XML = 'application/xml';

function markerKey(bucket: string, uploadId: string): string {
  return `${bucket}/${uploadId}`;
}

function partKey(bucket: string, uploadId: string, partNumber: number): string {
  return `${bucket}/${uploadId}/${String(partNumber).padStart(5, '0')}`;
}

function uploadIdOf(ctx: RequestContext): string {
  const uploadId = ctx.target.query.get('uploadId') ?? '';
  if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new S3Error('NoSuchUpload', { fields: { UploadId: uploadId } });
  return uploadId;
}

/** The upload's marker record; NoSuchUpload when it never existed, was completed or aborted, or names another key. */
async function requireUpload(ctx: RequestContext, bucket: string, key: string, uploadId: string): Promise<ObjectRecord> {
  const nodes = ctx.services.cluster.nodesFor(UPLOADS_BUCKET, markerKey(bucket, uploadId));
  const version = await resolveVersion(nodes, UPLOADS_BUCKET, markerKey(bucket, uploadId), ctx.services.erasure, metadataSignal(ctx));
  if (version === null || version.record.upload?.key !== key) throw new S3Error('NoSuchUpload', { fields: { UploadId: uploadId } });
  return version.record;
}

/** CreateMultipartUpload: records the upload and the attributes the object will get. */
export async function createMultipartUpload(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const attributes = attributesOf(ctx);
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  const uploadId = randomBytes(16).toString('hex');
  const marker: ObjectRecord = {
    ...deleteMarker(ctx, UPLOADS_BUCKET, markerKey(bucket, uploadId)),
    deleted: false,
    ...attributes,
    upload: { bucket, key, initiatedMs: Date.now() },
  };
  await commitRecord(ctx, marker);
  await ctx.reply.type(XML).send(renderXml('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId }));
}

/** UploadPart: stores the part as its own erasure-coded version; a re-upload of a part number replaces it. */
export async function uploadPart(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  refuseUnsupportedHeaders(ctx);
  const uploadId = uploadIdOf(ctx);
  const partNumberText = ctx.target.query.get('partNumber') ?? '';
  const partNumber = /^\d{1,5}$/.test(partNumberText) ? Number(partNumberText) : 0;
  if (partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new S3Error('InvalidArgument', { message: 'Part number must be an integer between 1 and 10000, inclusive', fields: { ArgumentName: 'partNumber' } });
  }
  await requireUpload(ctx, bucket, key, uploadId);
  const record = await writeBody(ctx, UPLOADS_BUCKET, partKey(bucket, uploadId, partNumber), {
    contentType: 'binary/octet-stream',
    userMetadata: {},
    headers: {},
  });
  await ctx.reply.header('etag', record.etag).send();
}

interface RequestedPart {
  partNumber: number;
  etag: string;
}

function requestedParts(text: string): RequestedPart[] {
  let document: Record<string, unknown>;
  try {
    document = parseXml(text);
  } catch (err) {
    throw new S3Error('MalformedXML', { cause: err });
  }
  const root = document['CompleteMultipartUpload'];
  if (typeof root !== 'object' || root === null) throw new S3Error('MalformedXML');
  const parts = (root as { Part?: unknown }).Part;
  const list = parts === undefined ? [] : Array.isArray(parts) ? parts : [parts];
  if (list.length === 0) throw new S3Error('MalformedXML');
  return list.map((entry) => {
    const { PartNumber: number, ETag: etag } = (entry ?? {}) as { PartNumber?: unknown; ETag?: unknown };
    if (typeof number !== 'string' || !/^\d+$/.test(number.trim()) || typeof etag !== 'string') throw new S3Error('MalformedXML');
    return { partNumber: Number(number.trim()), etag: normaliseEtag(etag) };
  });
}

function normaliseEtag(etag: string): string {
  const bare = etag.trim().replace(/^"|"$/g, '');
  return `"${bare}"`;
}

/** CompleteMultipartUpload: checks the listed parts and writes the manifest; S3's ETag of MD5s of MD5s. */
export async function completeMultipartUpload(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const requested = requestedParts((await readSmallBody(ctx, 4 * 1024 * 1024)).toString('utf8'));
  const marker = await requireUpload(ctx, bucket, key, uploadId);
  for (let i = 1; i < requested.length; i += 1) {
    if ((requested[i] as RequestedPart).partNumber <= (requested[i - 1] as RequestedPart).partNumber) throw new S3Error('InvalidPartOrder');
  }
  const signal = metadataSignal(ctx);
  const stored = await Promise.all(
    requested.map(async (part) => {
      const partKeyName = partKey(bucket, uploadId, part.partNumber);
      const nodes = ctx.services.cluster.nodesFor(UPLOADS_BUCKET, partKeyName);
      const version = await resolveVersion(nodes, UPLOADS_BUCKET, partKeyName, ctx.services.erasure, signal);
      if (version === null || version.record.etag !== part.etag) {
        throw new S3Error('InvalidPart', { fields: { PartNumber: String(part.partNumber), ETag: part.etag } });
      }
      return version.record;
    }),
  );
  stored.forEach((record, i) => {
    if (i < stored.length - 1 && record.sizeBytes < MIN_PART_BYTES) {
      throw new S3Error('EntityTooSmall', { fields: { ProposedSize: String(record.sizeBytes), MinSizeAllowed: String(MIN_PART_BYTES) } });
    }
  });
  const parts: PartRef[] = stored.map((record, i) => ({
    partNumber: (requested[i] as RequestedPart).partNumber,
    bucket: record.bucket,
    key: record.key,
    versionId: record.versionId,
    sizeBytes: record.sizeBytes,
    etag: record.etag,
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
    lastModifiedMs: Date.now(),
    contentType: marker.contentType,
    userMetadata: marker.userMetadata,
    headers: marker.headers,
    checksums: {},
    erasure: ctx.services.erasure,
    parts,
  };
  await commitRecord(ctx, manifest);
  await commitRecord(ctx, deleteMarker(ctx, UPLOADS_BUCKET, markerKey(bucket, uploadId)));
  await ctx.reply.type(XML).send(
    renderXml('CompleteMultipartUploadResult', { Location: `/${bucket}/${encodeURIComponent(key)}`, Bucket: bucket, Key: key, ETag: etag }),
  );
}

/** AbortMultipartUpload: the upload disappears; its parts become garbage. */
export async function abortMultipartUpload(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  await requireUpload(ctx, bucket, key, uploadId);
  await commitRecord(ctx, deleteMarker(ctx, UPLOADS_BUCKET, markerKey(bucket, uploadId)));
  await ctx.reply.status(204).send();
}

/** ListParts. */
export async function listParts(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  await requireUpload(ctx, bucket, key, uploadId);
  const marker = Number(ctx.target.query.get('part-number-marker') ?? '0') || 0;
  const maxParts = Math.min(Number(ctx.target.query.get('max-parts') ?? '1000') || 1000, 1000);
  const prefix = `${markerKey(bucket, uploadId)}/`;
  const page = await listObjects(
    ctx.services.cluster.allNodes(),
    { bucket: UPLOADS_BUCKET, prefix, delimiter: '', after: marker > 0 ? partKey(bucket, uploadId, marker) : '', afterIsPrefix: false, maxKeys: maxParts },
    ctx.services.erasure.parityShards,
    ctx.signal,
  );
  const parts = page.objects.map((record) => ({
    PartNumber: Number(record.key.slice(prefix.length)),
    LastModified: new Date(record.lastModifiedMs).toISOString(),
    ETag: record.etag,
    Size: record.sizeBytes,
  }));
  const owner = { ID: ctx.services.ownerId, DisplayName: ctx.services.ownerId };
  await ctx.reply.type(XML).send(
    renderXml('ListPartsResult', {
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      Initiator: owner,
      Owner: owner,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: parts.at(-1)?.PartNumber ?? marker,
      MaxParts: maxParts,
      IsTruncated: page.isTruncated,
      Part: parts,
    }),
  );
}

/** ListMultipartUploads (in-progress uploads of a bucket, ordered by upload id). */
export async function listMultipartUploads(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  const maxUploads = Math.min(Number(ctx.target.query.get('max-uploads') ?? '1000') || 1000, 1000);
  const keyPrefix = ctx.target.query.get('prefix') ?? '';
  const page = await listObjects(
    ctx.services.cluster.allNodes(),
    { bucket: UPLOADS_BUCKET, prefix: `${bucket}/`, delimiter: '/', after: '', afterIsPrefix: false, maxKeys: 1000 },
    ctx.services.erasure.parityShards,
    ctx.signal,
  );
  const owner = { ID: ctx.services.ownerId, DisplayName: ctx.services.ownerId };
  const uploads = page.objects
    .filter((record) => record.upload !== undefined && record.upload.key.startsWith(keyPrefix))
    .slice(0, maxUploads)
    .map((record) => ({
      Key: record.upload?.key,
      UploadId: record.key.slice(bucket.length + 1),
      Initiator: owner,
      Owner: owner,
      StorageClass: 'STANDARD',
      Initiated: new Date(record.upload?.initiatedMs ?? record.lastModifiedMs).toISOString(),
    }));
  await ctx.reply.type(XML).send(
    renderXml('ListMultipartUploadsResult', { Bucket: bucket, KeyMarker: '', UploadIdMarker: '', Prefix: keyPrefix, MaxUploads: maxUploads, IsTruncated: false, Upload: uploads }),
  );
}

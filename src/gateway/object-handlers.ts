import { Readable } from 'node:stream';
import type { ObjectRecord } from '../rpc/index.js';
import { resolveVersion } from './object-reader.js';
import { openStoredObject } from './object-stream.js';
import { commitShards, prepareShards, quorumError, type WriteTarget } from './object-writer.js';
import { decideQuorum, fanOut, writeQuorum } from './quorum.js';
import { decodedBody } from './request-body.js';
import { bucketOf, header, keyOf, metadataSignal, withTimeout, type RequestContext } from './request-context.js';
import { S3Error } from './s3-errors.js';
import { parseRange } from './s3-request.js';

/** Largest single PUT S3 accepts; larger objects need multipart upload. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;
/** S3's limit on the total size of user metadata (names plus values). */
const MAX_USER_METADATA_BYTES = 2048;
/** Response headers S3 stores with an object and returns on GET/HEAD. */
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;

function userMetadataOf(ctx: RequestContext): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(ctx.request.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : value;
    const short = name.slice('x-amz-meta-'.length);
    bytes += Buffer.byteLength(short) + Buffer.byteLength(text);
    metadata[short] = text;
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', { fields: { MaxSizeAllowed: String(MAX_USER_METADATA_BYTES) } });
  }
  return metadata;
}

function storedHeadersOf(ctx: RequestContext): Record<string, string> {
  const stored: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    let value = header(ctx, name);
    // aws-chunked is transfer framing, never a property of the object.
    if (name === 'content-encoding' && value !== undefined) {
      value = value.split(',').map((part) => part.trim()).filter((part) => part !== '' && part !== 'aws-chunked').join(',');
    }
    if (value !== undefined && value !== '') stored[name] = value;
  }
  return stored;
}

function declaredSize(ctx: RequestContext): number | undefined {
  const raw = ctx.auth.decodedContentLength ?? header(ctx, 'content-length');
  return raw === undefined ? undefined : Number(raw);
}

/** What a stored version carries besides its bytes. */
export interface VersionAttributes {
  contentType: string;
  userMetadata: Record<string, string>;
  headers: Record<string, string>;
}

/** Content-Type, x-amz-meta-* and the stored response headers of a write request. */
export function attributesOf(ctx: RequestContext): VersionAttributes {
  return {
    contentType: header(ctx, 'content-type') ?? 'binary/octet-stream',
    userMetadata: userMetadataOf(ctx),
    headers: storedHeadersOf(ctx),
  };
}

/** Refuses requests whose headers ask for behaviour this gateway does not have, rather than ignoring them. */
export function refuseUnsupportedHeaders(ctx: RequestContext): void {
  if (header(ctx, 'x-amz-copy-source') !== undefined) {
    throw new S3Error('NotImplemented', { message: 'Copying objects is not implemented.' });
  }
}

/**
 * Streams the verified request body into a new version of bucket/key and commits it on a write quorum.
 * Used for whole objects and for multipart parts (which live under an internal bucket).
 */
export async function writeBody(ctx: RequestContext, bucket: string, key: string, attributes: VersionAttributes): Promise<ObjectRecord> {
  const size = declaredSize(ctx);
  if (size !== undefined && size > MAX_PUT_BYTES) throw new S3Error('EntityTooLarge', { fields: { MaxSizeAllowed: String(MAX_PUT_BYTES) } });
  const { services } = ctx;
  const target: WriteTarget = {
    bucket,
    key,
    versionId: services.clock.next(),
    nodes: services.cluster.nodesFor(bucket, key),
    erasure: services.erasure,
    codec: services.codec,
  };
  const { decoder, done } = decodedBody(ctx);
  const { sizeBytes, holders } = await prepareShards(target, decoder, { signal: ctx.signal, stallTimeoutMs: services.stallTimeoutMs });
  await done;
  const verified = decoder.result();
  if (size !== undefined && sizeBytes !== size) throw new S3Error('IncompleteBody');
  const record: ObjectRecord = {
    bucket,
    key,
    versionId: target.versionId,
    deleted: false,
    sizeBytes,
    etag: `"${verified.md5Hex}"`,
    lastModifiedMs: Date.now(),
    ...attributes,
    checksums: Object.fromEntries(verified.checksums.map((c) => [c.algorithm, c.base64])),
    erasure: services.erasure,
  };
  await commitShards(target, holders, record, withTimeout(undefined, services.metadataTimeoutMs));
  for (const [algorithm, value] of Object.entries(record.checksums)) ctx.reply.header(`x-amz-checksum-${algorithm.toLowerCase()}`, value);
  return record;
}

/** PutObject: erasure-codes the body across the key's nodes; acknowledged after a write quorum commits. */
export async function putObject(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  refuseUnsupportedHeaders(ctx);
  const attributes = attributesOf(ctx);
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  const record = await writeBody(ctx, bucket, key, attributes);
  await ctx.reply.header('etag', record.etag).send();
}

/**
 * Commits a record-only version (delete marker, multipart manifest, upload marker) on the key's nodes;
 * succeeds on a write quorum.
 */
export async function commitRecord(ctx: RequestContext, record: ObjectRecord): Promise<void> {
  const { services } = ctx;
  const nodes = services.cluster.nodesFor(record.bucket, record.key);
  const signal = metadataSignal(ctx);
  const outcomes = await fanOut(nodes, (node) => node.commit({ record, shardIndex: null }, { signal }));
  const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
  if (!decision.met) throw quorumError('record write', decision.failures);
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Evaluates If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since in S3's precedence. */
function checkConditions(ctx: RequestContext, record: ObjectRecord): void {
  const ifMatch = header(ctx, 'if-match');
  const ifNoneMatch = header(ctx, 'if-none-match');
  const ifModifiedSince = header(ctx, 'if-modified-since');
  const ifUnmodifiedSince = header(ctx, 'if-unmodified-since');
  const matches = (list: string): boolean =>
    list.split(',').some((tag) => {
      const trimmed = tag.trim();
      return trimmed === '*' || trimmed === record.etag || `"${trimmed}"` === record.etag;
    });
  const modifiedSeconds = Math.floor(record.lastModifiedMs / 1000);
  const since = (value: string): number => Math.floor(Date.parse(value) / 1000);
  if (ifMatch !== undefined) {
    if (!matches(ifMatch)) throw new S3Error('PreconditionFailed', { fields: { Condition: 'If-Match' } });
  } else if (ifUnmodifiedSince !== undefined && !Number.isNaN(since(ifUnmodifiedSince)) && modifiedSeconds > since(ifUnmodifiedSince)) {
    throw new S3Error('PreconditionFailed', { fields: { Condition: 'If-Unmodified-Since' } });
  }
  if (ifNoneMatch !== undefined) {
    if (matches(ifNoneMatch)) throw new S3Error('NotModified');
  } else if (ifModifiedSince !== undefined && !Number.isNaN(since(ifModifiedSince)) && modifiedSeconds <= since(ifModifiedSince)) {
    throw new S3Error('NotModified');
  }
}

function setObjectHeaders(ctx: RequestContext, record: ObjectRecord, ranged: boolean): void {
  const { reply } = ctx;
  reply.header('etag', record.etag);
  reply.header('last-modified', httpDate(record.lastModifiedMs));
  reply.header('content-type', record.contentType);
  reply.header('accept-ranges', 'bytes');
  for (const [name, value] of Object.entries(record.headers)) reply.header(name, value);
  for (const [name, value] of Object.entries(record.userMetadata)) reply.header(`x-amz-meta-${name}`, value);
  // A whole-object checksum describes the whole body: S3 sends none with a partial one.
  if (!ranged && header(ctx, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    for (const [algorithm, value] of Object.entries(record.checksums)) reply.header(`x-amz-checksum-${algorithm.toLowerCase()}`, value);
  }
}

/** GetObject and HeadObject: resolve the newest version, then stream (a range of) it. */
export async function getObject(ctx: RequestContext, headOnly: boolean): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const { services } = ctx;
  await services.buckets.require(bucket, metadataSignal(ctx));
  const nodes = services.cluster.nodesFor(bucket, key);
  const version = await resolveVersion(nodes, bucket, key, services.erasure, metadataSignal(ctx));
  if (version === null) throw new S3Error('NoSuchKey', { fields: { Key: key } });
  const { record } = version;
  checkConditions(ctx, record);
  const range = parseRange(header(ctx, 'range'), record.sizeBytes);
  const start = range?.start ?? 0;
  const length = range === undefined ? record.sizeBytes : range.end - range.start + 1;
  // The first bytes are in hand before any header is set: a read that cannot start is a clean S3 error.
  const chunks = headOnly
    ? undefined
    : await openStoredObject(services, version, start, length, {
        codec: services.codec,
        signal: ctx.signal,
        stallTimeoutMs: services.stallTimeoutMs,
        logger: ctx.request.log,
      });
  setObjectHeaders(ctx, record, range !== undefined);
  if (range !== undefined) {
    ctx.reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${record.sizeBytes}`);
  }
  ctx.reply.header('content-length', length);
  await ctx.reply.send(chunks === undefined ? undefined : Readable.from(chunks, { objectMode: false }));
}

/** A delete marker for bucket/key: hides every older version; S3 answers 204 whether or not the key existed. */
export function deleteMarker(ctx: RequestContext, bucket: string, key: string): ObjectRecord {
  return {
    bucket,
    key,
    versionId: ctx.services.clock.next(),
    deleted: true,
    sizeBytes: 0,
    etag: '""',
    lastModifiedMs: Date.now(),
    contentType: '',
    userMetadata: {},
    headers: {},
    checksums: {},
    erasure: ctx.services.erasure,
  };
}

/** Writes a delete marker to the key's nodes. */
export async function deleteKey(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await commitRecord(ctx, deleteMarker(ctx, bucket, key));
}

/** DeleteObject. */
export async function deleteObject(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  await deleteKey(ctx, bucket, keyOf(ctx));
  await ctx.reply.status(204).send();
}

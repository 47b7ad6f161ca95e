import { bucketOwnerNamed, ownerElement } from '../shared/request-acl.js';
import {
  isIndexed,
  listFromIndex,
  listObjects,
  listVersions,
  listVersionsFromIndex,
  ReadDeadline,
  type ListedIndexVersion,
  type ListedObject,
  type ListPathDeps,
  type ListResult,
  type VersionListRequest,
  type VersionListResult,
} from '../../data-path/index.js';
import { bucketOf, type AccessDeps, type RequestContext } from '../../http/index.js';
import { countParameter, listFieldEncoder, MAX_KEY_BYTES, S3Error, versionIdParam } from '../../s3/index.js';
import { listBucketResultXml, listVersionsResultXml } from './list-documents.js';

const XML = 'application/xml';

interface ListPosition {
  after: string;
  afterIsPrefix: boolean;
}

function encodeToken(token: ListPosition): string {
  return Buffer.from(JSON.stringify([token.after, token.afterIsPrefix ? 1 : 0]), 'utf8').toString('base64url');
}

/** Whether `text` can be a key or a key's prefix: well-formed UTF-16 (keys arrive as UTF-8) and no longer than a key. */
function isKeyPosition(text: string): boolean {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= MAX_KEY_BYTES && bytes.toString('utf8') === text;
}

/**
 * The position a continuation token names. A token is opaque to clients, so one naming no position a
 * listing could stop at (garbled, or forged longer than any key) is S3's InvalidArgument.
 */
function decodeToken(text: string): ListPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && typeof parsed[0] === 'string' && isKeyPosition(parsed[0]) && (parsed[1] === 0 || parsed[1] === 1)) {
      return { after: parsed[0], afterIsPrefix: parsed[1] === 1 };
    }
  } catch {
    // Falls through to the S3 error below.
  }
  throw new S3Error('InvalidArgument', { message: 'The continuation token provided is incorrect', fields: { ArgumentName: 'continuation-token' } });
}

/**
 * Where a listing resumes after a client's marker (marker, start-after, key-marker). A marker that
 * rolls up into a common prefix resumes after the whole prefix: every later key under it would roll
 * up into that same prefix, which sorts before the marker, so S3 never lists it again.
 */
export function positionAfter(marker: string, prefix: string, delimiter: string): ListPosition {
  if (delimiter !== '' && marker.startsWith(prefix)) {
    const at = marker.indexOf(delimiter, prefix.length);
    if (at >= 0) return { after: marker.slice(0, at + delimiter.length), afterIsPrefix: true };
  }
  return { after: marker, afterIsPrefix: false };
}

/**
 * Where the next page starts, as the document names it: v2's continuation token, or v1's NextMarker,
 * which S3 sends only with a delimiter (without one, clients continue from the last key).
 */
function nextPage(result: ListResult<ListedObject>, v2: boolean, delimiter: string): string | undefined {
  if (!result.isTruncated || result.next === undefined) return undefined;
  if (v2) return encodeToken(result.next);
  return delimiter !== '' ? result.next.after : undefined;
}

async function listPage(ctx: RequestContext<ListPathDeps>, bucket: string, prefix: string, delimiter: string, position: ListPosition, maxKeys: number): Promise<ListResult<ListedObject>> {
  const record = await ctx.services.buckets.require(bucket, ctx.signal);
  const request = { bucket, prefix, delimiter, after: position.after, afterIsPrefix: position.afterIsPrefix, maxKeys };
  // A bucket whose index holds every version is listed from a read quorum of its index shard; one
  // created before the index existed, from every node's keys.
  if (isIndexed(record)) return listFromIndex(ctx, record, request, ReadDeadline.of(ctx));
  return listObjects(ctx.services.cluster.allNodes(), request, ctx.services.erasure.parityShards, ctx.signal, () => ctx.services.metadataTimeoutMs, ReadDeadline.of(ctx));
}

/**
 * ListObjects (v1) and ListObjectsV2 (`list-type=2`). With `encoding-type=url` the fields S3 encodes
 * (Key, Prefix, Delimiter, Marker, NextMarker, StartAfter, CommonPrefixes) are encoded and
 * EncodingType is echoed; empty `prefix=` and `delimiter=` mean absent.
 */
export async function listObjectsHandler(ctx: RequestContext<ListPathDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const bucketOwner = await bucketOwnerNamed(ctx, bucket);
  const { query } = ctx.target;
  const v2 = query.get('list-type') === '2';
  const encodingType = query.get('encoding-type');
  const encode = listFieldEncoder(encodingType);
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = countParameter('max-keys', query.get('max-keys'), 1000, 1000);
  const continuation = v2 ? query.get('continuation-token') : undefined;
  const startAfter = (v2 ? query.get('start-after') : query.get('marker')) ?? '';
  const position = continuation !== undefined && continuation !== '' ? decodeToken(continuation) : positionAfter(startAfter, prefix, delimiter);
  const result = await listPage(ctx, bucket, prefix, delimiter, position, maxKeys);
  const document = listBucketResultXml({
    bucket,
    v2,
    prefix,
    delimiter,
    startAfter,
    continuation,
    next: nextPage(result, v2, delimiter),
    maxKeys,
    isTruncated: result.isTruncated,
    encode,
    urlEncoded: encodingType === 'url',
    fetchOwner: v2 ? query.get('fetch-owner') === 'true' : true,
    ownerOf: (record) => ownerElement(ctx, bucketOwner, record),
    objects: result.objects,
    commonPrefixes: result.commonPrefixes,
  });
  await ctx.reply.type(XML).send(document);
}

/**
 * A page of ListObjectVersions: from the index's replicas for an indexed bucket, from every node's
 * versions for one created before the index existed.
 */
async function versionsPage(ctx: RequestContext<ListPathDeps>, request: VersionListRequest): Promise<VersionListResult<ListedIndexVersion>> {
  const record = await ctx.services.buckets.require(request.bucket, ctx.signal);
  if (isIndexed(record)) return listVersionsFromIndex(ctx, record, request, ReadDeadline.of(ctx));
  return listVersions(ctx.services.cluster.allNodes(), request, ctx.services.erasure.parityShards, ctx.signal, () => ctx.services.metadataTimeoutMs, ReadDeadline.of(ctx));
}

/**
 * ListObjectVersions: every version and delete marker, key ascending and newest first, IsLatest on
 * each key's newest; KeyMarker/VersionIdMarker paging, prefix, delimiter and `encoding-type=url` as
 * S3 does them. Versions written without versioning show the id `null`.
 */
export async function listObjectVersions(ctx: RequestContext<ListPathDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const bucketOwner = await bucketOwnerNamed(ctx, bucket);
  const { query } = ctx.target;
  const encodingType = query.get('encoding-type');
  const encode = listFieldEncoder(encodingType);
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = countParameter('max-keys', query.get('max-keys'), 1000, 1000);
  const keyMarker = query.get('key-marker') ?? '';
  const versionIdMarker = query.get('version-id-marker') ?? '';
  if (versionIdMarker !== '' && keyMarker === '') {
    throw new S3Error('InvalidArgument', { message: 'A version-id marker cannot be specified without a key marker.', fields: { ArgumentName: 'version-id-marker' } });
  }
  versionIdParam(versionIdMarker === '' ? undefined : versionIdMarker);
  const position = positionAfter(keyMarker, prefix, delimiter);
  const request: VersionListRequest = {
    bucket,
    prefix,
    delimiter,
    after: position.after,
    afterVersion: position.afterIsPrefix || versionIdMarker === '' ? undefined : versionIdMarker,
    afterIsPrefix: position.afterIsPrefix,
    maxKeys,
  };
  const result = await versionsPage(ctx, request);
  const document = listVersionsResultXml({
    bucket,
    prefix,
    delimiter,
    keyMarker,
    versionIdMarker,
    next: result.isTruncated ? result.next : undefined,
    maxKeys,
    isTruncated: result.isTruncated,
    encode,
    urlEncoded: encodingType === 'url',
    ownerOf: (record) => ownerElement(ctx, bucketOwner, record),
    versions: result.versions,
    commonPrefixes: result.commonPrefixes,
  });
  await ctx.reply.type(XML).send(document);
}

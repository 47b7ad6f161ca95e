import { S3Error } from './s3-errors.js';
import { listObjects, type ListResult } from './listing.js';
import { bucketOf, metadataSignal, type RequestContext } from './request-context.js';
import { urlEncodeListField } from './s3-request.js';
import { readSmallBody } from './request-body.js';
import { renderXml } from './xml.js';

const XML = 'application/xml';

/** ListBuckets. */
export async function listBuckets(ctx: RequestContext): Promise<void> {
  const buckets = await ctx.services.buckets.list(metadataSignal(ctx));
  const body = renderXml('ListAllMyBucketsResult', {
    Owner: { ID: ctx.services.ownerId, DisplayName: ctx.services.ownerId },
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: new Date(b.createdMs).toISOString() })) },
  });
  await ctx.reply.type(XML).send(body);
}

/** CreateBucket: the body, if any, may only name a location constraint, which any region satisfies. */
export async function createBucket(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  await readSmallBody(ctx, 64 * 1024);
  await ctx.services.buckets.create(bucket, metadataSignal(ctx));
  await ctx.reply.header('location', `/${bucket}`).send();
}

/** HeadBucket. */
export async function headBucket(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  await ctx.reply.header('x-amz-bucket-region', ctx.services.region).send();
}

/** DeleteBucket: only when empty. */
export async function deleteBucket(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.delete(bucketOf(ctx), metadataSignal(ctx));
  await ctx.reply.status(204).send();
}

/** GetBucketLocation: us-east-1 is reported as an empty constraint, as S3 does. */
export async function getBucketLocation(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  const region = ctx.services.region === 'us-east-1' ? '' : ctx.services.region;
  await ctx.reply.type(XML).send(renderXml('LocationConstraint', { '#text': region }));
}

interface ContinuationToken {
  after: string;
  afterIsPrefix: boolean;
}

function encodeToken(token: ContinuationToken): string {
  return Buffer.from(JSON.stringify([token.after, token.afterIsPrefix ? 1 : 0]), 'utf8').toString('base64url');
}

function decodeToken(text: string): ContinuationToken {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && typeof parsed[0] === 'string' && (parsed[1] === 0 || parsed[1] === 1)) {
      return { after: parsed[0], afterIsPrefix: parsed[1] === 1 };
    }
  } catch {
    // Falls through to the S3 error below.
  }
  throw new S3Error('InvalidArgument', { message: 'The continuation token provided is incorrect', fields: { ArgumentName: 'continuation-token' } });
}

function maxKeysOf(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1000;
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', { message: 'Provided max-keys not an integer or within integer range', fields: { ArgumentName: 'max-keys' } });
  return Math.min(Number(raw), 1000);
}

/** ListObjects (v1) and ListObjectsV2 (`list-type=2`). */
export async function listObjectsHandler(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const { query } = ctx.target;
  const v2 = query.get('list-type') === '2';
  const encodingType = query.get('encoding-type');
  if (encodingType !== undefined && encodingType !== '' && encodingType !== 'url') {
    throw new S3Error('InvalidArgument', { message: 'Invalid Encoding Method specified in Request', fields: { ArgumentName: 'encoding-type' } });
  }
  const encode = encodingType === 'url' ? urlEncodeListField : (value: string) => value;
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = maxKeysOf(query.get('max-keys'));
  const continuation = v2 ? query.get('continuation-token') : undefined;
  const startAfter = (v2 ? query.get('start-after') : query.get('marker')) ?? '';
  const position = continuation !== undefined && continuation !== '' ? decodeToken(continuation) : { after: startAfter, afterIsPrefix: false };
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  const nodes = ctx.services.cluster.allNodes();
  const result: ListResult = await listObjects(
    nodes,
    { bucket, prefix, delimiter, after: position.after, afterIsPrefix: position.afterIsPrefix, maxKeys },
    ctx.services.erasure.parityShards,
    ctx.signal,
  );
  const fetchOwner = v2 ? query.get('fetch-owner') === 'true' : true;
  const owner = { ID: ctx.services.ownerId, DisplayName: ctx.services.ownerId };
  const body: Record<string, unknown> = { Name: bucket, Prefix: encode(prefix) };
  if (v2) {
    if (startAfter !== '') body['StartAfter'] = encode(startAfter);
    if (continuation !== undefined) body['ContinuationToken'] = continuation;
    if (result.isTruncated && result.next !== undefined) body['NextContinuationToken'] = encodeToken(result.next);
    body['KeyCount'] = result.objects.length + result.commonPrefixes.length;
  } else {
    body['Marker'] = encode(startAfter);
    // S3 sends NextMarker only with a delimiter; without one, clients continue from the last key.
    if (result.isTruncated && delimiter !== '' && result.next !== undefined) body['NextMarker'] = encode(result.next.after);
  }
  body['MaxKeys'] = maxKeys;
  if (delimiter !== '') body['Delimiter'] = encode(delimiter);
  if (encodingType === 'url') body['EncodingType'] = 'url';
  body['IsTruncated'] = result.isTruncated;
  body['Contents'] = result.objects.map((record) => ({
    Key: encode(record.key),
    LastModified: new Date(record.lastModifiedMs).toISOString(),
    ETag: record.etag,
    Size: record.sizeBytes,
    ...(fetchOwner ? { Owner: owner } : {}),
    StorageClass: 'STANDARD',
  }));
  body['CommonPrefixes'] = result.commonPrefixes.map((p) => ({ Prefix: encode(p) }));
  await ctx.reply.type(XML).send(renderXml('ListBucketResult', body));
}

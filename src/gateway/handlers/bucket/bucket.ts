import { aclFromHeaders, isObjectOwnership, ownerOnly } from '../../access/index.js';
import type { BodyDigests, BucketAdminDeps, BucketRecords } from '../../data-path/index.js';
import { bucketOf, bucketOwnerOf, header, readSmallBody, type AccessDeps, type RequestContext, type SignatureSettings } from '../../http/index.js';
import { renderXml, S3Error } from '../../s3/index.js';
import { knownUser, requesterId } from '../shared/request-acl.js';

const XML = 'application/xml';

/**
 * ListBuckets, paged as S3 has it since 2024: `max-buckets` (1..10000; without it, every bucket),
 * `continuation-token` (the last name of the previous page), `prefix` and `bucket-region`, each bucket
 * with its BucketRegion. A cluster is one region, so `bucket-region` naming another lists nothing.
 */
export async function listBuckets(ctx: RequestContext<AccessDeps & SignatureSettings>): Promise<void> {
  const query = ctx.target.query;
  const prefix = query.get('prefix') ?? '';
  const bucketRegion = query.get('bucket-region');
  const { region } = ctx.services;
  const maxText = query.get('max-buckets');
  let maxBuckets = Number.POSITIVE_INFINITY;
  if (maxText !== undefined) {
    maxBuckets = /^\d{1,5}$/.test(maxText) ? Number(maxText) : 0;
    if (maxBuckets < 1 || maxBuckets > MAX_BUCKETS_PAGE) {
      throw new S3Error('InvalidArgument', { message: 'Argument max-buckets must be an integer between 1 and 10000.', fields: { ArgumentName: 'max-buckets', ArgumentValue: maxText } });
    }
  }
  const token = query.get('continuation-token');
  const after = token === undefined ? '' : bucketAfterToken(token);
  const all = await ctx.services.buckets.list(ctx.signal);
  const { principal } = ctx.access;
  const me = requesterId(ctx);
  // A user lists the buckets it owns; the administrator, every bucket.
  const visible = principal.kind === 'admin' ? all : all.filter((b) => bucketOwnerOf(ctx, b) === me);
  // Bucket names are ASCII, so code-unit order is S3's byte order.
  const inRegion = bucketRegion === undefined || bucketRegion === '' || bucketRegion === region;
  const matching = visible.filter((b) => inRegion && b.name.startsWith(prefix) && b.name > after).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const page = matching.slice(0, maxBuckets);
  const last = page.at(-1);
  const body = renderXml('ListAllMyBucketsResult', {
    Owner: { ID: me, DisplayName: ctx.services.users.displayName(me) },
    Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: new Date(b.createdMs).toISOString(), BucketRegion: region })) },
    ...(matching.length > page.length && last !== undefined ? { ContinuationToken: Buffer.from(last.name).toString('base64url') } : {}),
    ...(query.has('prefix') ? { Prefix: prefix } : {}),
  });
  await ctx.reply.type(XML).send(body);
}

/** The largest page ListBuckets gives (S3's max-buckets limit). */
const MAX_BUCKETS_PAGE = 10_000;

/** The last bucket name of the previous page, from a continuation token this gateway issued. */
function bucketAfterToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || !/^[a-z0-9.-]{1,63}$/.test(name) || Buffer.from(name).toString('base64url') !== token) {
    throw new S3Error('InvalidArgument', { message: 'The continuation token provided is incorrect', fields: { ArgumentName: 'continuation-token', ArgumentValue: token } });
  }
  return name;
}

/** CreateBucket: the body, if any, may only name a location constraint, which any region satisfies. */
export async function createBucket(ctx: RequestContext<BodyDigests & BucketAdminDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const owner = requesterId(ctx);
  const grants = aclFromHeaders(ctx.request.headers, owner, owner, knownUser(ctx));
  const requested = header(ctx, 'x-amz-object-ownership');
  if (requested !== undefined && !isObjectOwnership(requested)) {
    throw new S3Error('InvalidArgument', { message: 'Invalid x-amz-object-ownership header', fields: { ArgumentName: 'x-amz-object-ownership', ArgumentValue: requested } });
  }
  const ownership = requested ?? ctx.services.objectOwnership;
  if (ownership === 'BucketOwnerEnforced' && grants !== undefined && !ownerOnly(grants, owner)) {
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  }
  // Object Lock turns versioning on with the bucket, for good (a locked bucket can never be suspended).
  const objectLock = header(ctx, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true' ? {} : undefined;
  await readSmallBody(ctx, 64 * 1024);
  const outcome = await ctx.services.buckets.create(bucket, ctx.signal, {
    owner: ctx.access.principal.kind === 'admin' ? undefined : owner,
    grants: ownership === 'BucketOwnerEnforced' ? undefined : grants,
    ownership,
    objectLock,
  });
  if (outcome === 'taken') throw new S3Error('BucketAlreadyExists', { fields: { BucketName: bucket } });
  // S3 answers a repeated create of one's own bucket with 200 in us-east-1 (legacy behaviour every SDK
  // relies on there: a retried CreateBucket whose first answer was lost succeeds) and 409 elsewhere.
  if (outcome === 'existed' && ctx.services.region !== 'us-east-1') {
    throw new S3Error('BucketAlreadyOwnedByYou', { fields: { BucketName: bucket } });
  }
  await ctx.reply.header('location', `/${bucket}`).send();
}

/** HeadBucket. */
export async function headBucket(ctx: RequestContext<BucketRecords & SignatureSettings>): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  await ctx.reply.header('x-amz-bucket-region', ctx.services.region).send();
}

/** DeleteBucket: only when empty. */
export async function deleteBucket(ctx: RequestContext<BucketRecords>): Promise<void> {
  await ctx.services.buckets.delete(bucketOf(ctx), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.status(204).send();
}

/** GetBucketLocation: us-east-1 is reported as an empty constraint, as S3 does. */
export async function getBucketLocation(ctx: RequestContext<BucketRecords & SignatureSettings>): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  const region = ctx.services.region === 'us-east-1' ? '' : ctx.services.region;
  await ctx.reply.type(XML).send(renderXml('LocationConstraint', { '#text': region }));
}

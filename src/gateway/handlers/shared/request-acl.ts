import type { BucketRecord } from '../../../rpc/index.js';
import { aclFromHeaders, ownerOnly, ownershipOf, type Grant } from '../../access/index.js';
import { bucketOwnerOf, refuseDeniedAction, refusePublicAcl, type AccessDeps, type RequestContext } from '../../http/index.js';
import { S3Error } from '../../s3/index.js';

/** The requester's canonical id: a user's, or the administrator's. Anonymous writers have none in S3 either. */
export function requesterId(ctx: RequestContext<unknown>): string {
  const { principal } = ctx.access;
  return principal.kind === 'anonymous' ? ANONYMOUS_ID : principal.canonicalId;
}

/** The canonical id S3 gives objects written anonymously (into a public-read-write bucket). */
const ANONYMOUS_ID = '65a011a29cdf8ec533ec3d1ccaae921c';

/** Whether a canonical id names someone an ACL may grant to: a user of the cluster or the administrator. */
export function knownUser(ctx: RequestContext<AccessDeps>): (id: string) => boolean {
  return (id) => ctx.services.users.knows(id);
}

/** The ACL a write request's x-amz-acl or x-amz-grant-* headers set on the object it writes; undefined when none. */
export function objectGrantsOf(ctx: RequestContext<AccessDeps>, bucket: BucketRecord): Grant[] | undefined {
  return aclFromHeaders(ctx.request.headers, requesterId(ctx), bucketOwnerOf(ctx, bucket), knownUser(ctx));
}

/**
 * The owner and ACL fields a new object version records: the writer when it is not the bucket's
 * owner (absent means the bucket's owner), and the grants its headers ask for; AccessDenied when a
 * policy denies the writer the ACL or the tags its headers set. Under
 * BucketOwnerEnforced the bucket's owner owns everything and an ACL beyond that is
 * AccessControlListNotSupported; under BucketOwnerPreferred an object written with
 * bucket-owner-full-control goes to the bucket's owner.
 */
export function objectAclFields(ctx: RequestContext<AccessDeps>, bucket: BucketRecord): { owner?: string; grants?: Grant[] } {
  const grants = objectGrantsOf(ctx, bucket);
  // A write that sets an ACL or tags also performs s3:PutObjectAcl or s3:PutObjectTagging, which a policy may deny.
  const key = ctx.target.key ?? '';
  if (grants !== undefined) refuseDeniedAction(ctx, bucket, key, 's3:PutObjectAcl');
  if (ctx.request.headers['x-amz-tagging'] !== undefined) refuseDeniedAction(ctx, bucket, key, 's3:PutObjectTagging');
  refusePublicAcl(bucket, grants);
  const bucketOwner = bucketOwnerOf(ctx, bucket);
  const ownership = ownershipOf(bucket);
  if (ownership === 'BucketOwnerEnforced') {
    if (grants !== undefined && !ownerOnly(grants.filter((g) => g.grantee !== requesterId(ctx)), bucketOwner)) throw new S3Error('AccessControlListNotSupported');
    return {};
  }
  const writer = requesterId(ctx);
  const toBucketOwner = ownership === 'BucketOwnerPreferred' && ctx.request.headers['x-amz-acl'] === 'bucket-owner-full-control';
  return {
    ...(writer === bucketOwner || toBucketOwner ? {} : { owner: writer }),
    ...(grants === undefined ? {} : { grants }),
  };
}

/** Refuses a request that carries both a canned ACL and an ACL document body, as S3 does. */
export function refuseAclHeadersWithBody(ctx: RequestContext<unknown>, hasBody: boolean): void {
  if (hasBody && (ctx.request.headers['x-amz-acl'] !== undefined || Object.keys(ctx.request.headers).some((name) => name.startsWith('x-amz-grant-')))) {
    throw new S3Error('InvalidRequest', { message: 'Specifying both an AccessControlPolicy body and ACL headers is not allowed' });
  }
}

/** The Owner (or Initiator) element of a listing: `record`'s writer, else the bucket's owner, with the user's name. */
export function ownerElement(ctx: RequestContext<AccessDeps>, bucketOwner: string, record?: { owner?: string | undefined }): { ID: string; DisplayName: string } {
  const id = record?.owner ?? bucketOwner;
  return { ID: id, DisplayName: ctx.services.users.displayName(id) };
}

/** The canonical id owning bucket `name` (cached bucket record). */
export async function bucketOwnerNamed(ctx: RequestContext<AccessDeps>, name: string): Promise<string> {
  return bucketOwnerOf(ctx, await ctx.services.buckets.require(name, ctx.signal));
}

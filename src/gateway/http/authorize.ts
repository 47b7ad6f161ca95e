import type { BucketRecord, ObjectRecord } from '../../rpc/index.js';
import { ACTIONS, aclAllows, aclsEnabled, type AclPermission, type Principal, type S3Action } from '../access/index.js';
import { metadataSignal } from '../data-path/index.js';
import { S3Error } from '../s3/index.js';
import type { RequestContext } from './request-context.js';

/** What the access decision established for a request, and what is left to check once its object is read. */
export interface RequestAccess {
  principal: Principal;
  action: S3Action;
  /** Set for object actions: the permission the object's own ACL must give (checked when the object is read). */
  objectPermission: AclPermission | 'OWNER' | undefined;
}

/** The canonical id that owns a bucket: its creator, or the administrator for buckets from before users existed. */
export function bucketOwnerOf(ctx: Pick<RequestContext, 'services'>, bucket: BucketRecord): string {
  return bucket.owner ?? ctx.services.ownerId;
}

/**
 * The canonical id that owns an object: its writer, or its bucket's owner when none was recorded or
 * the bucket enforces bucket-owner ownership.
 */
export function objectOwnerOf(ctx: Pick<RequestContext, 'services'>, bucket: BucketRecord, record: Pick<ObjectRecord, 'owner'>): string {
  return aclsEnabled(bucket) ? (record.owner ?? bucketOwnerOf(ctx, bucket)) : bucketOwnerOf(ctx, bucket);
}

/**
 * The access decision, taken after authentication and before any body is read: the operation's
 * action (operations.ts) against the principal and the bucket's ACL. Object actions also need the
 * object's ACL, which `requireObjectAccess` checks once the handler has read the object.
 */
export async function authorize(ctx: Omit<RequestContext, 'access'>, principal: Principal, action: S3Action): Promise<RequestAccess> {
  const requirement = ACTIONS[action];
  const access: RequestAccess = { principal, action, objectPermission: requirement.on === 'object' ? requirement.permission : undefined };
  if (requirement.on === 'service') {
    if (principal.kind === 'anonymous') throw new S3Error('AccessDenied');
    return access;
  }
  if (principal.kind === 'admin' || requirement.on === 'object') return access;
  const name = ctx.target.bucket;
  if (name === undefined) throw new S3Error('InvalidRequest', { message: 'A bucket is required.' });
  const bucket = await ctx.services.buckets.require(name, metadataSignal(ctx));
  const grants = aclsEnabled(bucket) ? bucket.grants : undefined;
  if (!aclAllows(principal, bucketOwnerOf(ctx, bucket), grants, requirement.permission)) throw new S3Error('AccessDenied');
  return access;
}

/** AccessDenied unless the request's principal has `permission` on the object under the object's ACL. */
export function requireObjectAccess(ctx: RequestContext, bucket: BucketRecord, record: Pick<ObjectRecord, 'owner' | 'grants'>, permission: AclPermission | 'OWNER'): void {
  const grants = aclsEnabled(bucket) ? record.grants : undefined;
  if (!aclAllows(ctx.access.principal, objectOwnerOf(ctx, bucket, record), grants, permission)) throw new S3Error('AccessDenied');
}

import { aclFromHeaders, aclsEnabled, ownerOnly, parseAclXml, renderAcl, type Grant } from '../../access/index.js';
import type { BodyDigests, LookupDeps, RecordWriteDeps } from '../../data-path/index.js';
import { bucketOf, bucketOwnerOf, keyOf, objectOwnerOf, readSmallBody, refusePublicAcl, type AccessDeps, type RequestContext } from '../../http/index.js';
import { S3Error, versionIdParam } from '../../s3/index.js';
import { requireVersion } from '../shared/current-version.js';
import { knownUser, refuseAclHeadersWithBody } from '../shared/request-acl.js';
import { updateInPlace } from './in-place-update.js';

/** Largest AccessControlPolicy document accepted. */
const MAX_ACL_BYTES = 64 * 1024;

/** A resource's ACL as stored, with the owner's FULL_CONTROL that a resource with none has. */
function effectiveGrants(owner: string, grants: readonly Grant[] | undefined): readonly Grant[] {
  return grants ?? [{ grantee: owner, permission: 'FULL_CONTROL' }];
}

/**
 * The new ACL a Put*Acl request asks for: its x-amz-acl / x-amz-grant-* headers or its
 * AccessControlPolicy body (not both). Neither is MalformedACLError... as S3 answers an empty request.
 */
async function requestedAcl(ctx: RequestContext<BodyDigests & AccessDeps>, owner: string, bucketOwner: string): Promise<Grant[]> {
  return aclOf(ctx, await readAclBody(ctx), owner, bucketOwner);
}

/** A Put*Acl request's body, as text (empty when it has none). */
async function readAclBody(ctx: RequestContext<BodyDigests>): Promise<string> {
  return (await readSmallBody(ctx, MAX_ACL_BYTES)).toString('utf8');
}

/** The ACL of requestedAcl, from a body already read: the owner named by canned ACLs and documents is `owner`. */
function aclOf(ctx: RequestContext<AccessDeps>, text: string, owner: string, bucketOwner: string): Grant[] {
  refuseAclHeadersWithBody(ctx, text.trim() !== '');
  const fromHeaders = aclFromHeaders(ctx.request.headers, owner, bucketOwner, knownUser(ctx));
  if (fromHeaders !== undefined) return fromHeaders;
  if (text.trim() === '') throw new S3Error('MissingSecurityHeader', { fields: { MissingHeaderName: 'x-amz-acl' } });
  return parseAclXml(text, owner, knownUser(ctx));
}

/** GetBucketAcl. */
export async function getBucketAcl(ctx: RequestContext<AccessDeps>): Promise<void> {
  const bucket = await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  const owner = bucketOwnerOf(ctx, bucket);
  const users = ctx.services.users;
  const grants = aclsEnabled(bucket) ? bucket.grants : undefined;
  await ctx.reply.type('application/xml').send(renderAcl(owner, effectiveGrants(owner, grants), (id) => users.displayName(id)));
}

/** PutBucketAcl: replaces the bucket's ACL (canned, grant headers or an AccessControlPolicy document). */
export async function putBucketAcl(ctx: RequestContext<BodyDigests & AccessDeps>): Promise<void> {
  const name = bucketOf(ctx);
  const bucket = await ctx.services.buckets.require(name, ctx.signal);
  const owner = bucketOwnerOf(ctx, bucket);
  const grants = await requestedAcl(ctx, owner, owner);
  refusePublicAcl(bucket, grants);
  if (!aclsEnabled(bucket)) {
    // BucketOwnerEnforced: an ACL that restates the owner's control changes nothing; any other is refused.
    if (!ownerOnly(grants, owner)) throw new S3Error('AccessControlListNotSupported');
    await ctx.reply.send();
    return;
  }
  await ctx.services.buckets.update(name, (record) => ({ ...record, grants }), ctx.signal, ctx.access.bucketCreatedMs);
  await ctx.reply.send();
}

/** GetObjectAcl: of the current version, or of the one `versionId` names (noncurrent ones too). */
export async function getObjectAcl(ctx: RequestContext<LookupDeps & AccessDeps>): Promise<void> {
  const name = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), key);
  const bucket = await ctx.services.buckets.require(name, ctx.signal);
  const { record } = await requireVersion(ctx, name, key, versionId, { bucket });
  const owner = objectOwnerOf(ctx, bucket, record);
  const users = ctx.services.users;
  const grants = aclsEnabled(bucket) ? record.grants : undefined;
  await ctx.reply.type('application/xml').send(renderAcl(owner, effectiveGrants(owner, grants), (id) => users.displayName(id)));
}

/** PutObjectAcl: replaces the ACL of the current version, or of the one `versionId` names, in place. */
export async function putObjectAcl(ctx: RequestContext<RecordWriteDeps & BodyDigests & AccessDeps>): Promise<void> {
  const name = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), key);
  const bucket = await ctx.services.buckets.require(name, ctx.signal);
  const version = await requireVersion(ctx, name, key, versionId, { bucket });
  const owner = objectOwnerOf(ctx, bucket, version.record);
  const text = await readAclBody(ctx);
  const grants = aclOf(ctx, text, owner, bucketOwnerOf(ctx, bucket));
  refusePublicAcl(bucket, grants);
  if (!aclsEnabled(bucket)) {
    if (!ownerOnly(grants, owner)) throw new S3Error('AccessControlListNotSupported');
    await ctx.reply.send();
    return;
  }
  // The version is read again under the key's lease, which orders this change with tag and lock changes,
  // as the request names it (not by the id read above: an overwrite meanwhile would make that one gone),
  // and the ACL is built for that version's owner.
  const read = async () => ({ version: await requireVersion(ctx, name, key, versionId, { bucket }) });
  await updateInPlace(ctx, name, key, 'ACL update', read, (target) => ({ grants: aclOf(ctx, text, objectOwnerOf(ctx, bucket, target.version.record), bucketOwnerOf(ctx, bucket)) }));
  await ctx.reply.send();
}

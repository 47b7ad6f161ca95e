import { metadataSignal } from '../data-path/index.js';
import { bucketOf, keyOf, readSmallBody, type RequestContext } from '../http/index.js';
import { renderXml, requestDocumentRoot, S3Error } from '../s3/index.js';
import { requireCurrentVersion, requireNullVersion } from './current-version.js';
import { refuseAclHeaders } from './object-attributes.js';

/**
 * ACLs as S3 has them for buckets with BucketOwnerEnforced ownership (its default since 2023): the
 * owner has FULL_CONTROL of everything, and no ACL can grant anything else. Tessera has exactly that
 * model (one owner per cluster), so Get*Acl answer it and Put*Acl accept only what restates it.
 */
function ownerPolicy(ctx: RequestContext): string {
  const owner = { ID: ctx.services.ownerId, DisplayName: ctx.services.ownerId };
  return renderXml('AccessControlPolicy', {
    Owner: owner,
    AccessControlList: {
      Grant: {
        Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ...owner },
        Permission: 'FULL_CONTROL',
      },
    },
  });
}

/** Accepts an AccessControlPolicy document only when every grant is the owner's FULL_CONTROL. */
async function requireOwnerOnlyBody(ctx: RequestContext, scope: 'bucket' | 'object'): Promise<void> {
  const text = (await readSmallBody(ctx, 64 * 1024)).toString('utf8');
  if (text.trim() === '') return;
  const root = requestDocumentRoot(text, 'AccessControlPolicy');
  const acl = (root as { AccessControlList?: unknown }).AccessControlList;
  const grants = typeof acl === 'object' && acl !== null ? (acl as { Grant?: unknown }).Grant : undefined;
  const list = grants === undefined ? [] : Array.isArray(grants) ? grants : [grants];
  const ownerOnly = list.every((grant) => {
    const { Grantee: grantee, Permission: permission } = (grant ?? {}) as { Grantee?: unknown; Permission?: unknown };
    const id = typeof grantee === 'object' && grantee !== null ? (grantee as { ID?: unknown }).ID : undefined;
    return id === ctx.services.ownerId && permission === 'FULL_CONTROL';
  });
  if (!ownerOnly) throw new S3Error(scope === 'bucket' ? 'InvalidBucketAclWithObjectOwnership' : 'AccessControlListNotSupported');
}

/** GetBucketAcl. */
export async function getBucketAcl(ctx: RequestContext): Promise<void> {
  await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  await ctx.reply.type('application/xml').send(ownerPolicy(ctx));
}

/** PutBucketAcl: `private` (or a document granting only the owner FULL_CONTROL) changes nothing and succeeds. */
export async function putBucketAcl(ctx: RequestContext): Promise<void> {
  refuseAclHeaders(ctx, 'bucket');
  await ctx.services.buckets.require(bucketOf(ctx), metadataSignal(ctx));
  await requireOwnerOnlyBody(ctx, 'bucket');
  await ctx.reply.send();
}

/** GetObjectAcl. */
export async function getObjectAcl(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  requireNullVersion(ctx);
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  await requireCurrentVersion(ctx, bucket, keyOf(ctx));
  await ctx.reply.type('application/xml').send(ownerPolicy(ctx));
}

/** PutObjectAcl: accepted only when it restates the owner's full control. */
export async function putObjectAcl(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  requireNullVersion(ctx);
  refuseAclHeaders(ctx, 'object');
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  await requireCurrentVersion(ctx, bucket, keyOf(ctx));
  await requireOwnerOnlyBody(ctx, 'object');
  await ctx.reply.send();
}

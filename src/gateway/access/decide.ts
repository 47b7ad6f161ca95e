import { S3Error } from '../s3/index.js';
import { ALL_USERS_URI, AUTHENTICATED_USERS_URI, type AclPermission, type Grant } from './acl.js';

/**
 * Who sent a request. The administrator holds the keys of the gateway's configuration (the ones
 * `npm start` prints) and may do everything, like a storage system's root; users are the ones
 * `tessera admin user add` creates; anonymous is a request with no signature.
 */
export type Principal =
  | { kind: 'admin'; canonicalId: string; name: string }
  | { kind: 'user'; canonicalId: string; name: string }
  | { kind: 'anonymous' };

/** What an operation needs: a signed request, or an ACL permission on its bucket or object (OWNER: the owner only). */
export type Requirement =
  | { on: 'service' }
  | { on: 'bucket'; permission: AclPermission | 'OWNER' }
  | { on: 'object'; permission: AclPermission | 'OWNER' };

/**
 * The S3 actions Tessera serves and what each needs under ACLs, as S3 maps them (the S3 User Guide's
 * table of ACL permissions and the actions they grant): READ on a bucket lists it, WRITE on a bucket
 * writes and deletes its objects (but deletes a version for good only for the bucket owner), READ on
 * an object reads it and its versions, READ_ACP and WRITE_ACP read and change an ACL; bucket
 * configuration, and an object's tags, lock and retention, are their owner's alone. A request that
 * names a version performs the `...Version...` action (see Operation.versionedAction).
 */
export const ACTIONS = {
  's3:ListAllMyBuckets': { on: 'service' },
  's3:CreateBucket': { on: 'service' },
  's3:ListBucket': { on: 'bucket', permission: 'READ' },
  's3:ListBucketVersions': { on: 'bucket', permission: 'READ' },
  's3:ListBucketMultipartUploads': { on: 'bucket', permission: 'READ' },
  's3:GetBucketAcl': { on: 'bucket', permission: 'READ_ACP' },
  's3:PutBucketAcl': { on: 'bucket', permission: 'WRITE_ACP' },
  's3:GetBucketLocation': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketVersioning': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketVersioning': { on: 'bucket', permission: 'OWNER' },
  's3:GetEncryptionConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:PutEncryptionConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketCORS': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketCORS': { on: 'bucket', permission: 'OWNER' },
  's3:GetLifecycleConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:PutLifecycleConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketNotification': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketNotification': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketLogging': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketLogging': { on: 'bucket', permission: 'OWNER' },
  's3:GetReplicationConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:PutReplicationConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketTagging': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketTagging': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketOwnershipControls': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketOwnershipControls': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketPolicy': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketPolicy': { on: 'bucket', permission: 'OWNER' },
  's3:DeleteBucketPolicy': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketPolicyStatus': { on: 'bucket', permission: 'OWNER' },
  's3:GetBucketPublicAccessBlock': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketPublicAccessBlock': { on: 'bucket', permission: 'OWNER' },
  /** The configurations Tessera answers with a fixed or "not configured" document (request payment, acceleration, website). */
  's3:GetBucketConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:DeleteBucket': { on: 'bucket', permission: 'OWNER' },
  's3:PutObject': { on: 'bucket', permission: 'WRITE' },
  's3:DeleteObject': { on: 'bucket', permission: 'WRITE' },
  's3:DeleteObjectVersion': { on: 'bucket', permission: 'OWNER' },
  's3:AbortMultipartUpload': { on: 'bucket', permission: 'WRITE' },
  's3:ListMultipartUploadParts': { on: 'bucket', permission: 'WRITE' },
  's3:GetObject': { on: 'object', permission: 'READ' },
  's3:GetObjectVersion': { on: 'object', permission: 'READ' },
  's3:GetObjectAttributes': { on: 'object', permission: 'READ' },
  's3:GetObjectVersionAttributes': { on: 'object', permission: 'READ' },
  's3:GetObjectAcl': { on: 'object', permission: 'READ_ACP' },
  's3:GetObjectVersionAcl': { on: 'object', permission: 'READ_ACP' },
  's3:PutObjectAcl': { on: 'object', permission: 'WRITE_ACP' },
  's3:PutObjectVersionAcl': { on: 'object', permission: 'WRITE_ACP' },
  's3:GetObjectTagging': { on: 'object', permission: 'OWNER' },
  's3:GetObjectVersionTagging': { on: 'object', permission: 'OWNER' },
  's3:PutObjectTagging': { on: 'object', permission: 'OWNER' },
  's3:PutObjectVersionTagging': { on: 'object', permission: 'OWNER' },
  's3:DeleteObjectTagging': { on: 'object', permission: 'OWNER' },
  's3:DeleteObjectVersionTagging': { on: 'object', permission: 'OWNER' },
  's3:GetBucketObjectLockConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:PutBucketObjectLockConfiguration': { on: 'bucket', permission: 'OWNER' },
  's3:GetObjectRetention': { on: 'object', permission: 'OWNER' },
  's3:PutObjectRetention': { on: 'object', permission: 'OWNER' },
  's3:GetObjectLegalHold': { on: 'object', permission: 'OWNER' },
  's3:PutObjectLegalHold': { on: 'object', permission: 'OWNER' },
  /** Not an operation: what removing or shortening GOVERNANCE retention needs besides the request's own action. */
  's3:BypassGovernanceRetention': { on: 'bucket', permission: 'OWNER' },
  /** Not operations: what a write sent as another cluster's replica (x-tessera-replica) needs besides its own action. */
  's3:ReplicateObject': { on: 'bucket', permission: 'OWNER' },
  's3:ReplicateDelete': { on: 'bucket', permission: 'OWNER' },
} as const satisfies Record<string, Requirement>;

/** An S3 action an operation declares (the key of ACTIONS). */
export type S3Action = keyof typeof ACTIONS;

/** Whether the grants give `principal` the permission (FULL_CONTROL includes every one). */
export function aclAllows(principal: Principal, owner: string, grants: readonly Grant[] | undefined, permission: AclPermission | 'OWNER'): boolean {
  if (principal.kind === 'admin') return true;
  if (principal.kind === 'user' && principal.canonicalId === owner) return true;
  if (permission === 'OWNER') return false;
  // A resource with no stored ACL is private: its owner's FULL_CONTROL only.
  for (const grant of grants ?? []) {
    if (grant.permission !== permission && grant.permission !== 'FULL_CONTROL') continue;
    if (grant.grantee === ALL_USERS_URI) return true;
    if (principal.kind === 'anonymous') continue;
    if (grant.grantee === AUTHENTICATED_USERS_URI || grant.grantee === principal.canonicalId) return true;
  }
  return false;
}

/** Throws AccessDenied unless `aclAllows`. */
export function requireAcl(principal: Principal, owner: string, grants: readonly Grant[] | undefined, permission: AclPermission | 'OWNER'): void {
  if (!aclAllows(principal, owner, grants, permission)) throw new S3Error('AccessDenied');
}

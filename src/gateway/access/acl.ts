import { S3Error } from '../s3/index.js';

/** An ACL permission as S3 names it. */
export type AclPermission = 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP' | 'FULL_CONTROL';

const PERMISSIONS: readonly AclPermission[] = ['READ', 'WRITE', 'READ_ACP', 'WRITE_ACP', 'FULL_CONTROL'];

/** S3's group URIs: everyone (anonymous included) and every signed request. */
export const ALL_USERS_URI = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS_URI = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
/**
 * S3's third group, its server access log writer. Tessera writes no access logs to buckets, so a grant
 * to it is kept and answered (tools set it with log-delivery-write) but lets no request do anything.
 */
export const LOG_DELIVERY_URI = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
const GROUPS = new Set([ALL_USERS_URI, AUTHENTICATED_USERS_URI, LOG_DELIVERY_URI]);

/**
 * One grant as stored: `grantee` is a canonical user id, or one of the group URIs. The owner's
 * FULL_CONTROL is listed explicitly, as S3 lists it, so an ACL document round-trips.
 */
export interface Grant {
  grantee: string;
  permission: string;
}

/** Whether `grantee` names a group rather than a user. */
export function isGroup(grantee: string): boolean {
  return GROUPS.has(grantee);
}

/** Whether a string is one of S3's ACL permissions. */
export function isPermission(value: unknown): value is AclPermission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}

/** S3's canned ACLs. */
export const CANNED_ACLS = ['private', 'public-read', 'public-read-write', 'authenticated-read', 'bucket-owner-read', 'bucket-owner-full-control', 'log-delivery-write'] as const;

/**
 * The grants a canned ACL stands for. `owner` owns the resource; `bucketOwner` owns its bucket (the
 * same for a bucket). An unknown name is InvalidArgument, as S3 answers it.
 */
export function cannedGrants(name: string, owner: string, bucketOwner: string): Grant[] {
  const grants: Grant[] = [{ grantee: owner, permission: 'FULL_CONTROL' }];
  switch (name) {
    case 'private':
      break;
    case 'public-read':
      grants.push({ grantee: ALL_USERS_URI, permission: 'READ' });
      break;
    case 'public-read-write':
      grants.push({ grantee: ALL_USERS_URI, permission: 'READ' }, { grantee: ALL_USERS_URI, permission: 'WRITE' });
      break;
    case 'authenticated-read':
      grants.push({ grantee: AUTHENTICATED_USERS_URI, permission: 'READ' });
      break;
    case 'bucket-owner-read':
      if (bucketOwner !== owner) grants.push({ grantee: bucketOwner, permission: 'READ' });
      break;
    case 'bucket-owner-full-control':
      if (bucketOwner !== owner) grants.push({ grantee: bucketOwner, permission: 'FULL_CONTROL' });
      break;
    case 'log-delivery-write':
      grants.push({ grantee: LOG_DELIVERY_URI, permission: 'WRITE' }, { grantee: LOG_DELIVERY_URI, permission: 'READ_ACP' });
      break;
    default:
      throw new S3Error('InvalidArgument', { fields: { ArgumentName: 'x-amz-acl', ArgumentValue: name } });
  }
  return grants;
}

const GRANT_HEADERS: readonly [string, AclPermission][] = [
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
];

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function headerText(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Whether a request carries any ACL header (x-amz-acl or x-amz-grant-*). */
export function hasAclHeaders(headers: Headers): boolean {
  return headerText(headers, 'x-amz-acl') !== undefined || GRANT_HEADERS.some(([name]) => headerText(headers, name) !== undefined);
}

/**
 * The ACL a request's headers set: x-amz-acl or x-amz-grant-* (not both, as S3 requires); undefined
 * when it carries neither. `knownUser(id)` tells whether a canonical id names a user.
 */
export function aclFromHeaders(headers: Headers, owner: string, bucketOwner: string, knownUser: (id: string) => boolean): Grant[] | undefined {
  const canned = headerText(headers, 'x-amz-acl');
  const explicit = GRANT_HEADERS.filter(([name]) => headerText(headers, name) !== undefined);
  if (canned !== undefined && explicit.length > 0) {
    throw new S3Error('InvalidRequest', { message: 'Specifying both Canned ACLs and Header Grants is not allowed' });
  }
  if (canned !== undefined) return cannedGrants(canned.trim(), owner, bucketOwner);
  if (explicit.length === 0) return undefined;
  const grants: Grant[] = [];
  for (const [name, permission] of explicit) {
    for (const item of splitGrantees(headerText(headers, name) ?? '')) {
      grants.push({ grantee: granteeOf(item, name, knownUser), permission });
    }
  }
  return grants;
}

/** Splits `id="a", uri="b"` on commas outside quotes. */
function splitGrantees(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

function granteeOf(item: string, header: string, knownUser: (id: string) => boolean): string {
  const match = /^(id|uri|emailAddress)\s*=\s*"?([^"]*)"?$/i.exec(item);
  const invalid = (): S3Error => new S3Error('InvalidArgument', { fields: { ArgumentName: header, ArgumentValue: item } });
  if (match === null) throw invalid();
  const kind = (match[1] as string).toLowerCase();
  const value = (match[2] as string).trim();
  if (kind === 'emailaddress') throw new S3Error('UnresolvableGrantByEmailAddress', { fields: { EmailAddress: value } });
  if (kind === 'uri') {
    if (!isGroup(value)) throw invalid();
    return value;
  }
  if (!knownUser(value)) throw invalid();
  return value;
}

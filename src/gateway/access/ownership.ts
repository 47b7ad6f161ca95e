import { renderXml, requestDocumentRoot, S3Error } from '../s3/index.js';
import type { Grant } from './acl.js';

/** S3's object ownership settings. */
export type ObjectOwnership = 'ObjectWriter' | 'BucketOwnerPreferred' | 'BucketOwnerEnforced';

const OWNERSHIPS: readonly string[] = ['ObjectWriter', 'BucketOwnerPreferred', 'BucketOwnerEnforced'];

/** Whether a string names an object ownership setting. */
export function isObjectOwnership(value: unknown): value is ObjectOwnership {
  return typeof value === 'string' && OWNERSHIPS.includes(value);
}

/** A bucket's ownership as stored; buckets from before the setting existed behave as ObjectWriter. */
export function ownershipOf(bucket: { ownership?: string | undefined }): ObjectOwnership {
  return isObjectOwnership(bucket.ownership) ? bucket.ownership : 'ObjectWriter';
}

/** Whether ACLs take part in access decisions: not under BucketOwnerEnforced. */
export function aclsEnabled(bucket: { ownership?: string | undefined }): boolean {
  return ownershipOf(bucket) !== 'BucketOwnerEnforced';
}

/** Whether grants say nothing beyond `owner`'s full control: the only ACL BucketOwnerEnforced accepts. */
export function ownerOnly(grants: readonly Grant[], owner: string): boolean {
  return grants.every((grant) => grant.grantee === owner && grant.permission === 'FULL_CONTROL');
}

/** The ObjectOwnership of a PutBucketOwnershipControls document; MalformedXML for anything else. */
export function parseOwnershipControls(body: string): ObjectOwnership {
  const root = requestDocumentRoot(body, 'OwnershipControls');
  const rule = root['Rule'];
  const value = typeof rule === 'object' && rule !== null && !Array.isArray(rule) ? (rule as Record<string, unknown>)['ObjectOwnership'] : undefined;
  const text = typeof value === 'string' ? value.trim() : undefined;
  if (!isObjectOwnership(text)) throw new S3Error('MalformedXML');
  return text;
}

/** The OwnershipControls document of a bucket. */
export function renderOwnershipControls(ownership: ObjectOwnership): string {
  return renderXml('OwnershipControls', { Rule: { ObjectOwnership: ownership } });
}

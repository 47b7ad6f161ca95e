import { renderXml, requestDocumentRoot, S3Error } from '../s3/index.js';
import { ALL_USERS_URI, AUTHENTICATED_USERS_URI, type Grant } from './acl.js';

/** S3's four PublicAccessBlock switches. */
export interface PublicAccessBlock {
  blockPublicAcls: boolean;
  ignorePublicAcls: boolean;
  blockPublicPolicy: boolean;
  restrictPublicBuckets: boolean;
}

const FIELDS = [
  ['BlockPublicAcls', 'blockPublicAcls'],
  ['IgnorePublicAcls', 'ignorePublicAcls'],
  ['BlockPublicPolicy', 'blockPublicPolicy'],
  ['RestrictPublicBuckets', 'restrictPublicBuckets'],
] as const;

/** Whether a grant opens a resource to everyone or to every signed request: what S3 calls public. */
export function isPublicGrant(grant: Grant): boolean {
  return grant.grantee === ALL_USERS_URI || grant.grantee === AUTHENTICATED_USERS_URI;
}

/** A PublicAccessBlockConfiguration document; an absent switch is false, anything but true/false is MalformedXML. */
export function parsePublicAccessBlock(body: string): PublicAccessBlock {
  const root = requestDocumentRoot(body, 'PublicAccessBlockConfiguration');
  const block: PublicAccessBlock = { blockPublicAcls: false, ignorePublicAcls: false, blockPublicPolicy: false, restrictPublicBuckets: false };
  for (const [element, field] of FIELDS) {
    const value = root[element];
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
    if (text !== 'true' && text !== 'false') throw new S3Error('MalformedXML');
    block[field] = text === 'true';
  }
  return block;
}

/** The PublicAccessBlockConfiguration document of a block. */
export function renderPublicAccessBlock(block: PublicAccessBlock): string {
  return renderXml('PublicAccessBlockConfiguration', Object.fromEntries(FIELDS.map(([element, field]) => [element, block[field]])));
}

import { renderXml, requestDocumentRoot, S3Error } from '../s3/index.js';
import { isGroup, isPermission, type Grant } from './acl.js';

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/** Renders an AccessControlPolicy: the owner and each grant, users with their display names. */
export function renderAcl(owner: string, grants: readonly Grant[], displayName: (id: string) => string): string {
  return renderXml('AccessControlPolicy', {
    Owner: { ID: owner, DisplayName: displayName(owner) },
    AccessControlList: {
      Grant: grants.map((grant) => ({
        Grantee: isGroup(grant.grantee)
          ? { '@_xmlns:xsi': XSI, '@_xsi:type': 'Group', URI: grant.grantee }
          : { '@_xmlns:xsi': XSI, '@_xsi:type': 'CanonicalUser', ID: grant.grantee, DisplayName: displayName(grant.grantee) },
        Permission: grant.permission,
      })),
    },
  });
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim() : undefined;
}

function list(value: unknown): unknown[] {
  if (value === undefined || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * The grants of an AccessControlPolicy document, validated as S3 validates it: a document that is
 * not one, a grant without a grantee or with an unknown permission, or an unknown user is
 * MalformedACLError (or InvalidArgument for an unknown id); an e-mail grantee is
 * UnresolvableGrantByEmailAddress; an Owner other than the current owner is AccessDenied (an ACL
 * cannot change who owns a resource).
 */
export function parseAclXml(body: string, owner: string, knownUser: (id: string) => boolean): Grant[] {
  const root = requestDocumentRoot(body, 'AccessControlPolicy');
  const malformed = (): S3Error => new S3Error('MalformedACLError');
  const ownerElement = root['Owner'];
  if (ownerElement !== undefined) {
    const id = typeof ownerElement === 'object' && ownerElement !== null ? text((ownerElement as Record<string, unknown>)['ID']) : undefined;
    if (id === undefined) throw malformed();
    if (id !== owner) throw new S3Error('AccessDenied', { message: 'An ACL cannot change the owner.' });
  }
  const acl = root['AccessControlList'];
  if (acl === undefined) throw malformed();
  const grants: Grant[] = [];
  const items = typeof acl === 'object' && acl !== null ? list((acl as Record<string, unknown>)['Grant']) : list(acl);
  for (const item of items) {
    if (typeof item !== 'object' || item === null) throw malformed();
    const { Grantee: grantee, Permission: permission } = item as Record<string, unknown>;
    if (typeof grantee !== 'object' || grantee === null) throw malformed();
    const perm = text(permission);
    if (!isPermission(perm)) throw malformed();
    const fields = grantee as Record<string, unknown>;
    const id = text(fields['ID']);
    const uri = text(fields['URI']);
    const email = text(fields['EmailAddress']);
    if ([id, uri, email].filter((v) => v !== undefined).length !== 1) throw malformed();
    if (email !== undefined) throw new S3Error('UnresolvableGrantByEmailAddress', { fields: { EmailAddress: email } });
    if (uri !== undefined) {
      if (!isGroup(uri)) throw malformed();
      grants.push({ grantee: uri, permission: perm });
      continue;
    }
    if (id === undefined || !knownUser(id)) throw new S3Error('InvalidArgument', { message: 'Invalid id', fields: { ArgumentName: 'CanonicalUser/ID', ArgumentValue: id ?? '' } });
    grants.push({ grantee: id, permission: perm });
  }
  return grants;
}

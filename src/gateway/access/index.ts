// Who may do what: principals, ACL grants and the one access decision every operation goes through.
// Pure: the bucket and object records it judges are handed in.
export { aclFromHeaders, ALL_USERS_URI, AUTHENTICATED_USERS_URI, CANNED_ACLS, cannedGrants, hasAclHeaders, isGroup, isPermission, type AclPermission, type Grant } from './acl.js';
export { parseAclXml, renderAcl } from './acl-xml.js';
export { ACTIONS, aclAllows, requireAcl, type Principal, type Requirement, type S3Action } from './decide.js';
export { aclsEnabled, isObjectOwnership, ownerOnly, ownershipOf, parseOwnershipControls, renderOwnershipControls, type ObjectOwnership } from './ownership.js';
export { conditionHolds, ipInCidr, type ConditionBlock, type RequestFacts } from './policy-conditions.js';
export { evaluatePolicy, parsePolicy, policyIsPublic, readsObjectTags, type ParsePolicyOptions, type Policy, type PolicyDecision, type PolicyStatement, type PolicySubject } from './policy.js';
export { MAX_POLICY_BYTES, MAX_POLICY_CONDITION_KEYS, MAX_POLICY_LIST_VALUES, MAX_POLICY_STATEMENTS, MAX_POLICY_VALUE_CHARS } from './policy-limits.js';
export { wildcardMatch, type WildcardOptions } from './wildcard.js';
export { BUILTIN_POLICIES } from './builtin-policies.js';
export { isPublicGrant, parsePublicAccessBlock, renderPublicAccessBlock, type PublicAccessBlock } from './public-access-block.js';
export { ADMIN_ACTIONS, ADMIN_RESOURCE, type AdminAction } from './admin-actions.js';

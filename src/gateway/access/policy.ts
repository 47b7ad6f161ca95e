import { S3Error } from '../s3/index.js';
import { conditionHolds, ipVersion, validateCondition, type ConditionBlock, type RequestFacts } from './policy-conditions.js';
import { checkPolicyValues, MAX_POLICY_BYTES, MAX_POLICY_STATEMENTS } from './policy-limits.js';
import { wildcardMatch } from './wildcard.js';

/** One statement of a policy, normalised: every list is an array. */
export interface PolicyStatement {
  sid: string | undefined;
  effect: 'Allow' | 'Deny';
  /** Principals matched (`*`, user ARNs, canonical ids); `not` inverts the match (NotPrincipal). Absent in user policies. */
  principal: { values: string[]; not: boolean } | undefined;
  action: { values: string[]; not: boolean };
  resource: { values: string[]; not: boolean };
  condition: ConditionBlock;
}

/** A parsed policy document. */
export interface Policy {
  statements: PolicyStatement[];
}

/** Who a policy statement is matched against. */
export interface PolicySubject {
  /** Anonymous requests match only `*`. */
  anonymous: boolean;
  /** Ways to name the principal: user ARN and canonical id. */
  names: string[];
}

/** What a policy decides: an explicit Deny, an Allow, or nothing (the ACL, or the default deny, decides). */
export type PolicyDecision = 'deny' | 'allow' | 'none';

const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
/** IAM reads the service prefix and the action name without regard to case (`S3:GetObject`). */
const ACTION = /^(\*|s3:[A-Za-z*?]+|admin:[A-Za-z*?]+)$/i;
/** The admin API's actions (admin-actions.ts): a user policy grants them; a bucket policy cannot. */
const ADMIN_ACTION = /^admin:/i;

function malformed(message: string): S3Error {
  return new S3Error('MalformedPolicy', { message });
}

function stringList(value: unknown, field: string, limited: boolean): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((item) => typeof item === 'string' && item !== '')) throw malformed(`${field} must be a string or a list of strings`);
  if (limited) checkPolicyValues(list as string[], field, malformed);
  return list as string[];
}

function pair(statement: Record<string, unknown>, name: string, required: boolean): { values: unknown; not: boolean } | undefined {
  const plain = statement[name];
  const negated = statement[`Not${name}`];
  if (plain !== undefined && negated !== undefined) throw malformed(`A statement has both ${name} and Not${name}`);
  if (plain === undefined && negated === undefined) {
    if (required) throw malformed(`Missing required field ${name}`);
    return undefined;
  }
  return plain !== undefined ? { values: plain, not: false } : { values: negated, not: true };
}

function principalValues(value: unknown, limited: boolean): string[] {
  if (value === '*') return ['*'];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('Invalid principal in policy');
  const values: string[] = [];
  for (const [kind, names] of Object.entries(value as Record<string, unknown>)) {
    if (kind !== 'AWS' && kind !== 'CanonicalUser') throw malformed(`Invalid principal in policy: unknown principal type ${kind}`);
    for (const name of stringList(names, `Principal ${kind}`, limited)) {
      // As in S3: "*" alone names everyone, and no principal ARN or id may hold a wildcard.
      if (name !== '*' && /[*?]/.test(name)) throw malformed(`Invalid principal in policy: ${name} has a wildcard; only "*" alone names everyone`);
      values.push(name);
    }
  }
  if (values.length === 0) throw malformed('Invalid principal in policy');
  return values;
}

/** How parsePolicy reads a document. */
export interface ParsePolicyOptions {
  /** The bucket of a bucket policy; absent for a user policy. */
  bucket?: string;
  /**
   * A document already stored, accepted when it was set: the bounds on counts and lengths
   * (policy-limits.ts) are not applied again, so a policy set before they existed keeps working.
   */
  stored?: boolean;
}

/**
 * Parses and validates a policy document in AWS's language. `bucket` (a bucket policy) requires a
 * Principal in every statement and Resources inside that bucket; without it (a user policy) the
 * statements name no Principal. Every fault is MalformedPolicy naming it, the bounds of
 * policy-limits.ts included.
 */
export function parsePolicy(text: string, options: ParsePolicyOptions = {}): Policy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw malformed('Policy exceeds the maximum allowed document size.');
  const limited = options.stored !== true;
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw malformed('Policies must be valid JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw malformed('Policies must be a JSON object');
  const root = document as Record<string, unknown>;
  for (const key of Object.keys(root)) if (key !== 'Version' && key !== 'Id' && key !== 'Statement') throw malformed(`Unknown field ${key}`);
  if (root['Version'] !== undefined && !VERSIONS.has(root['Version'] as string)) throw malformed('The policy must contain a valid version string');
  if (root['Statement'] === undefined) throw malformed('Missing required field Statement');
  const raw = Array.isArray(root['Statement']) ? root['Statement'] : [root['Statement']];
  if (raw.length === 0) throw malformed('Missing required field Statement');
  if (limited && raw.length > MAX_POLICY_STATEMENTS) throw malformed(`Policy has ${raw.length} statements; a policy allows at most ${MAX_POLICY_STATEMENTS}`);
  const statements = raw.map((item): PolicyStatement => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw malformed('Each Statement must be a JSON object');
    const statement = item as Record<string, unknown>;
    for (const key of Object.keys(statement)) if (!STATEMENT_FIELDS.has(key)) throw malformed(`Unknown field ${key}`);
    const sid = statement['Sid'];
    if (sid !== undefined && typeof sid !== 'string') throw malformed('Sid must be a string');
    const effect = statement['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny') throw malformed(`Invalid effect: ${String(effect)}`);
    const principal = pair(statement, 'Principal', options.bucket !== undefined);
    if (principal !== undefined && options.bucket === undefined) throw malformed('A user policy names no Principal');
    const action = pair(statement, 'Action', true) as { values: unknown; not: boolean };
    const actions = stringList(action.values, action.not ? 'NotAction' : 'Action', limited);
    if (!actions.every((a) => ACTION.test(a))) throw malformed('Policy has invalid action');
    if (options.bucket !== undefined && actions.some((a) => ADMIN_ACTION.test(a))) throw malformed('Policy has invalid action: admin actions belong in user policies');
    const resource = pair(statement, 'Resource', true) as { values: unknown; not: boolean };
    const resources = stringList(resource.values, resource.not ? 'NotResource' : 'Resource', limited);
    for (const arn of resources) {
      if (arn !== '*' && !arn.startsWith('arn:aws:s3:::')) throw malformed('Policy has invalid resource');
      if (options.bucket !== undefined && !resource.not && !resourceInBucket(arn, options.bucket)) throw malformed('Policy has invalid resource');
    }
    const condition = statement['Condition'] === undefined ? {} : validateCondition(statement['Condition'], malformed, limited);
    return {
      sid,
      effect,
      principal: principal === undefined ? undefined : { values: principalValues(principal.values, limited), not: principal.not },
      action: { values: actions, not: action.not },
      resource: { values: resources, not: resource.not },
      condition,
    };
  });
  return { statements };
}

/** Whether a Resource ARN can only name the bucket itself or objects in it. */
function resourceInBucket(arn: string, bucket: string): boolean {
  if (arn === '*') return true;
  const path = arn.slice('arn:aws:s3:::'.length);
  const name = path.split('/')[0] ?? '';
  return wildcardMatch(name, bucket) && !name.startsWith('*');
}

function principalMatches(statement: PolicyStatement, subject: PolicySubject): boolean {
  const { principal } = statement;
  if (principal === undefined) return true;
  const hit = principal.values.some((value) => value === '*' || (!subject.anonymous && subject.names.includes(value)));
  return principal.not ? !hit : hit;
}

/**
 * Evaluates a policy for one request as AWS does: a matching Deny wins, then a matching Allow, else
 * nothing. `resource` is the request's ARN (`arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`).
 */
export function evaluatePolicy(policy: Policy, subject: PolicySubject, action: string, resource: string, facts: RequestFacts): PolicyDecision {
  let allowed = false;
  for (const statement of policy.statements) {
    if (!principalMatches(statement, subject)) continue;
    // IAM matches action names without regard to case, resources with it.
    const actionHit = statement.action.values.some((pattern) => wildcardMatch(pattern, action, { ignoreCase: true }));
    if (actionHit === statement.action.not) continue;
    const resourceHit = statement.resource.values.some((pattern) => wildcardMatch(pattern, resource));
    if (resourceHit === statement.resource.not) continue;
    if (!conditionHolds(statement.condition, facts)) continue;
    if (statement.effect === 'Deny') return 'deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'none';
}

/** Whether a policy has a statement whose condition reads the object's own tags (s3:ExistingObjectTag/<key>). */
export function readsObjectTags(policy: Policy): boolean {
  return policy.statements.some((statement) => Object.values(statement.condition).some((keys) => Object.keys(keys).some((key) => key.toLowerCase().startsWith('s3:existingobjecttag/'))));
}

/**
 * Condition keys that, fixed to known values, confine a statement to known callers (lower-cased, as
 * keys are matched). S3's list in "The meaning of public", with aws:PrincipalOrgID, which it gives
 * as an example of a fixed principal.
 */
const LIMITING_KEYS = new Set([
  'aws:sourceip',
  'aws:sourcearn',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceowner',
  'aws:sourceaccount',
  's3:x-amz-server-side-encryption-aws-kms-key-id',
  'aws:userid',
  's3:dataaccesspointarn',
  's3:dataaccesspointaccount',
  'aws:principalorgid',
]);

/**
 * Operators that hold only when the key is present and matches one of the values. A negated
 * operator, an IfExists one (a request without the key passes) and a set-qualified one
 * (ForAllValues: passes an absent key) all let unknown callers through.
 */
const LIMITING_OPERATORS = new Set(['StringEquals', 'StringEqualsIgnoreCase', 'StringLike', 'IpAddress']);

/**
 * Whether a policy value names one thing: no wildcard (`*`, `?`) and no policy variable (`${...}`),
 * whatever the operator, so a literal `*` under StringEquals counts as open too.
 */
function isFixed(value: string): boolean {
  return value !== '' && !/[*?]|\$\{/.test(value);
}

/**
 * Whether a condition value pins its key: aws:SourceIp to a narrow range, an access point ARN to a
 * fixed account (the access point's name may stay open), anything else to a fixed value (which
 * leaves aws:userid's `AROLEID:*` open).
 */
function pinsKey(key: string, value: string): boolean {
  if (key === 'aws:sourceip') return isNarrowCidr(value);
  if (key === 's3:dataaccesspointarn') return isFixed(value.replace(/(:accesspoint\/).*$/s, '$1'));
  return isFixed(value);
}

/**
 * Whether an aws:SourceIp value is a range S3 counts as limiting: one no broader than /8 for IPv4
 * or /32 for IPv6 (an address alone is a /32 or /128; an IPv4-mapped address is IPv4, as
 * conditions match it). The RFC 1918 ranges S3 exempts are all /8 or narrower, so the bound alone
 * decides. A value that is no address limits nothing.
 */
function isNarrowCidr(value: string): boolean {
  const [base = '', bitsText, extra] = value.split('/');
  if (extra !== undefined) return false;
  const version = ipVersion(base);
  if (version === undefined) return false;
  const v4 = version === 4;
  const width = v4 ? 32 : 128;
  const bits = bitsText === undefined ? width : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : -1;
  return bits >= (v4 ? 8 : 32) && bits <= width;
}

/**
 * Whether a bucket policy is public, as S3 decides it for BlockPublicPolicy, RestrictPublicBuckets
 * and GetBucketPolicyStatus's IsPublic ("The meaning of public" in S3's guide to blocking public
 * access). S3 starts from public and calls a policy non-public only when every Allow grants to
 * fixed values: either the statement names fixed principals (no `*`, no wildcard or variable in an
 * ARN, no NotPrincipal), or one of its conditions pins a LIMITING_KEYS key to fixed values with a
 * LIMITING_OPERATORS operator (aws:SourceIp to narrow ranges). A condition on any other key
 * (aws:UserAgent, aws:Referer, aws:SecureTransport, s3:prefix, ...) limits nothing, and a Deny
 * never makes a policy public.
 */
export function policyIsPublic(policy: Policy): boolean {
  return policy.statements.some((statement) => {
    if (statement.effect !== 'Allow') return false;
    const { principal } = statement;
    // A user policy names no principal: it speaks only for the user it is attached to.
    const fixedPrincipal = principal === undefined || (!principal.not && principal.values.every(isFixed));
    if (fixedPrincipal) return false;
    const limited = Object.entries(statement.condition).some(
      ([operator, keys]) =>
        LIMITING_OPERATORS.has(operator) &&
        Object.entries(keys).some(([key, values]) => LIMITING_KEYS.has(key.toLowerCase()) && values.every((value) => pinsKey(key.toLowerCase(), value))),
    );
    return !limited;
  });
}

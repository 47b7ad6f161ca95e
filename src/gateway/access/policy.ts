import { S3Error } from '../s3/index.js';
import { conditionHolds, validateCondition, type ConditionBlock, type RequestFacts } from './policy-conditions.js';

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
const ACTION = /^(\*|s3:[A-Za-z*?]+)$/;
/** Largest bucket policy S3 accepts. */
export const MAX_POLICY_BYTES = 20 * 1024;

function malformed(message: string): S3Error {
  return new S3Error('MalformedPolicy', { message });
}

function stringList(value: unknown, field: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((item) => typeof item === 'string' && item !== '')) throw malformed(`${field} must be a string or a list of strings`);
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

function principalValues(value: unknown): string[] {
  if (value === '*') return ['*'];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('Invalid principal in policy');
  const values: string[] = [];
  for (const [kind, names] of Object.entries(value as Record<string, unknown>)) {
    if (kind !== 'AWS' && kind !== 'CanonicalUser') throw malformed(`Invalid principal in policy: unknown principal type ${kind}`);
    values.push(...stringList(names, `Principal ${kind}`));
  }
  if (values.length === 0) throw malformed('Invalid principal in policy');
  return values;
}

/**
 * Parses and validates a policy document in AWS's language. `bucket` (a bucket policy) requires a
 * Principal in every statement and Resources inside that bucket; without it (a user policy) the
 * statements name no Principal. Every fault is MalformedPolicy naming it.
 */
export function parsePolicy(text: string, options: { bucket?: string } = {}): Policy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw malformed('Policy exceeds the maximum allowed document size.');
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
    const actions = stringList(action.values, 'Action');
    if (!actions.every((a) => ACTION.test(a))) throw malformed('Policy has invalid action');
    const resource = pair(statement, 'Resource', true) as { values: unknown; not: boolean };
    const resources = stringList(resource.values, 'Resource');
    for (const arn of resources) {
      if (arn !== '*' && !arn.startsWith('arn:aws:s3:::')) throw malformed('Policy has invalid resource');
      if (options.bucket !== undefined && !resource.not && !resourceInBucket(arn, options.bucket)) throw malformed('Policy has invalid resource');
    }
    const condition = statement['Condition'] === undefined ? {} : validateCondition(statement['Condition'], malformed);
    return {
      sid,
      effect,
      principal: principal === undefined ? undefined : { values: principalValues(principal.values), not: principal.not },
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
  return globMatch(name, bucket, false) && !name.startsWith('*');
}

/** `*` and `?` wildcards, as IAM matches actions (case-insensitive) and resources (case-sensitive). */
export function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'si' : 's').test(value);
}

function principalMatches(statement: PolicyStatement, subject: PolicySubject): boolean {
  const { principal } = statement;
  if (principal === undefined) return true;
  const hit = principal.values.some((value) => value === '*' || (!subject.anonymous && subject.names.some((name) => globMatch(value, name, false))));
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
    const actionHit = statement.action.values.some((pattern) => globMatch(pattern, action, true));
    if (actionHit === statement.action.not) continue;
    const resourceHit = statement.resource.values.some((pattern) => globMatch(pattern, resource, false));
    if (resourceHit === statement.resource.not) continue;
    if (!conditionHolds(statement.condition, facts)) continue;
    if (statement.effect === 'Deny') return 'deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'none';
}

/** Whether a bucket policy grants anything to everyone without conditions: GetBucketPolicyStatus's IsPublic. */
export function policyIsPublic(policy: Policy): boolean {
  return policy.statements.some(
    (s) => s.effect === 'Allow' && s.principal !== undefined && !s.principal.not && s.principal.values.includes('*') && Object.keys(s.condition).length === 0,
  );
}

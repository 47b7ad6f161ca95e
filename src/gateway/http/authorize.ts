import { timingSafeEqual } from 'node:crypto';
import type { BucketRecord, ObjectRecord } from '../../rpc/index.js';
import {
  ACTIONS,
  aclAllows,
  aclsEnabled,
  evaluatePolicy,
  isPublicGrant,
  parsePolicy,
  policyIsPublic,
  readsObjectTags,
  type AclPermission,
  type Grant,
  type Policy,
  type PolicyDecision,
  type Principal,
  type RequestFacts,
  type S3Action,
} from '../access/index.js';
import { parseTaggingHeader, S3Error } from '../s3/index.js';
import type { AccessDeps } from './auth-deps.js';
import type { RequestContext } from './request-context.js';

/** What the access decision established for a request, and what is left to check once its object is read. */
export interface RequestAccess {
  principal: Principal;
  action: S3Action;
  /** Set for object actions a policy has not already allowed: the permission the object's ACL must give. */
  objectPermission: AclPermission | 'OWNER' | undefined;
  /** The condition keys the request offers to policies (lower-case names; a few hold several values). */
  facts: Map<string, string | string[]>;
  /**
   * The createdMs of the bucket the decision was made against (a bucket action of a user): a change
   * of the bucket's record applies to that bucket only, not to one created later under its name.
   */
  bucketCreatedMs?: number | undefined;
}

type Scope = Omit<RequestContext<AccessDeps>, 'access'>;

/** The canonical id that owns a bucket: its creator, or the administrator for buckets from before users existed. */
export function bucketOwnerOf(ctx: { services: Pick<AccessDeps, 'ownerId'> }, bucket: BucketRecord): string {
  return bucket.owner ?? ctx.services.ownerId;
}

/**
 * The canonical id that owns an object: its writer, or its bucket's owner when none was recorded or
 * the bucket enforces bucket-owner ownership.
 */
export function objectOwnerOf(ctx: { services: Pick<AccessDeps, 'ownerId'> }, bucket: BucketRecord, record: Pick<ObjectRecord, 'owner'>): string {
  return aclsEnabled(bucket) ? (record.owner ?? bucketOwnerOf(ctx, bucket)) : bucketOwnerOf(ctx, bucket);
}

/**
 * The grants that take part in a decision: none when the bucket enforces bucket-owner ownership, and
 * none to AllUsers or AuthenticatedUsers under the bucket's IgnorePublicAcls.
 */
function grantsInForce(bucket: BucketRecord, grants: readonly Grant[] | undefined): readonly Grant[] | undefined {
  if (!aclsEnabled(bucket)) return undefined;
  return bucket.publicAccessBlock?.ignorePublicAcls === true ? grants?.filter((g) => !isPublicGrant(g)) : grants;
}

/** A user's ARN as policies name it: `arn:aws:iam::tessera:user/NAME`. */
export function userArn(name: string): string {
  return `arn:aws:iam::tessera:user/${name}`;
}

function header(ctx: Scope, name: string): string | undefined {
  const value = ctx.request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The condition keys a request offers: source address, transport, time, referer, user, listing parameters, ACL, encryption and tag headers. */
function factsOf(ctx: Scope, principal: Principal): Map<string, string | string[]> {
  const facts = new Map<string, string | string[]>();
  facts.set('aws:sourceip', ctx.request.ip);
  facts.set('aws:securetransport', ctx.request.protocol === 'https' ? 'true' : 'false');
  const nowMs = ctx.services.clock.nowMs();
  facts.set('aws:currenttime', new Date(nowMs).toISOString());
  facts.set('aws:epochtime', String(Math.floor(nowMs / 1000)));
  const referer = header(ctx, 'referer');
  if (referer !== undefined) facts.set('aws:referer', referer);
  const userAgent = header(ctx, 'user-agent');
  if (userAgent !== undefined) facts.set('aws:useragent', userAgent);
  if (principal.kind !== 'anonymous') {
    facts.set('aws:username', principal.name);
    facts.set('aws:userid', principal.canonicalId);
  }
  const { query } = ctx.target;
  for (const name of ['prefix', 'delimiter', 'max-keys']) {
    const value = query.get(name);
    if (value !== undefined) facts.set(`s3:${name}`, value);
  }
  if (query.get('versionId') !== undefined) facts.set('s3:versionid', query.get('versionId') as string);
  const acl = header(ctx, 'x-amz-acl');
  if (acl !== undefined) facts.set('s3:x-amz-acl', acl);
  for (const name of ['x-amz-grant-read', 'x-amz-grant-write', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control']) {
    const value = header(ctx, name);
    if (value !== undefined) facts.set(`s3:${name}`, value);
  }
  // The encryption a request asks for in its own headers (a bucket's default encryption is not one):
  // what the usual "deny unencrypted uploads" and "deny SSE-C" policies test.
  for (const name of ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-customer-algorithm', 'x-amz-server-side-encryption-aws-kms-key-id']) {
    const value = header(ctx, name);
    if (value !== undefined) facts.set(`s3:${name}`, value);
  }
  const tagging = header(ctx, 'x-amz-tagging');
  if (tagging !== undefined) {
    const tags = parseTaggingHeader(tagging);
    for (const [key, value] of Object.entries(tags)) facts.set(`s3:requestobjecttag/${key.toLowerCase()}`, value);
    facts.set('s3:requestobjecttagkeys', Object.keys(tags));
  }
  return facts;
}

/** The policies that speak about a request of `principal` on `bucket`: the bucket's and the user's own. */
function policiesFor(ctx: Scope, bucket: BucketRecord | undefined, principal: Principal): Policy[] {
  const policies: Policy[] = [];
  const bucketPolicy = storedPolicy(bucket);
  // RestrictPublicBuckets: a public policy opens nothing to anonymous requests (its Denies still hold).
  const restricted = bucketPolicy !== undefined && principal.kind === 'anonymous' && bucket?.publicAccessBlock?.restrictPublicBuckets === true && policyIsPublic(bucketPolicy);
  if (bucketPolicy !== undefined) policies.push(restricted ? { statements: bucketPolicy.statements.filter((st) => st.effect === 'Deny') } : bucketPolicy);
  if (principal.kind === 'user') policies.push(...ctx.services.users.policiesOf(principal.canonicalId));
  return policies;
}

/** The policies that speak about this request, each evaluated: a Deny in any wins, then an Allow in any. */
function policyDecision(ctx: Scope, bucket: BucketRecord | undefined, principal: Principal, action: S3Action, facts: RequestFacts): PolicyDecision {
  if (principal.kind === 'admin') return 'none';
  const { bucket: name, key } = ctx.target;
  const resource = name === undefined ? 'arn:aws:s3:::*' : key === undefined ? `arn:aws:s3:::${name}` : `arn:aws:s3:::${name}/${key}`;
  const subject = principal.kind === 'anonymous' ? { anonymous: true, names: [] } : { anonymous: false, names: [userArn(principal.name), principal.canonicalId] };
  const policies = policiesFor(ctx, bucket, principal);
  let decision: PolicyDecision = 'none';
  for (const policy of policies) {
    const outcome = evaluatePolicy(policy, subject, action, resource, facts);
    if (outcome === 'deny') return 'deny';
    if (outcome === 'allow') decision = 'allow';
  }
  return decision;
}

/** Parsed bucket policies by the record that holds them: a request consults its bucket's policy several times. */
const parsedPolicies = new WeakMap<BucketRecord, Policy>();

/** A bucket's stored policy, parsed (it was validated when it was set) once per record. */
function storedPolicy(bucket: BucketRecord | undefined): Policy | undefined {
  if (bucket?.policy === undefined) return undefined;
  let policy = parsedPolicies.get(bucket);
  if (policy === undefined) {
    policy = parsePolicy(bucket.policy, { bucket: bucket.name, stored: true });
    parsedPolicies.set(bucket, policy);
  }
  return policy;
}

/**
 * `x-amz-expected-bucket-owner`: a request that names an owner other than the bucket's (its canonical
 * id) is AccessDenied before anything is read or changed, as S3 answers it. `bucket`: the record when
 * the caller has it already.
 */
async function checkExpectedOwner(ctx: Scope, bucket: BucketRecord | undefined): Promise<void> {
  const expected = header(ctx, 'x-amz-expected-bucket-owner');
  const name = ctx.target.bucket;
  if (expected === undefined || name === undefined) return;
  const record = bucket ?? (await ctx.services.buckets.require(name, ctx.signal));
  if (!expectedOwnerMatches(expected, bucketOwnerOf(ctx, record))) throw new S3Error('AccessDenied');
}

/** Whether an expected-owner header names the owner: compared in full, in constant time for equal lengths. */
export function expectedOwnerMatches(expected: string, ownerId: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(ownerId);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The access decision, taken after authentication and before any body is read, as AWS takes it: an
 * explicit Deny in the bucket's or the user's policy wins, then an Allow from a policy or the
 * bucket's ACL, else AccessDenied. Object actions that no policy allowed also need the object's ACL,
 * which `requireObjectAccess` checks once the handler has read the object.
 */
export async function authorize(ctx: Scope, principal: Principal, action: S3Action): Promise<RequestAccess> {
  const requirement = ACTIONS[action];
  // The administrator passes without a look at ACLs or policies: its requests cost nothing extra.
  if (principal.kind === 'admin') {
    if (requirement.on !== 'service') await checkExpectedOwner(ctx, undefined);
    return { principal, action, objectPermission: undefined, facts: new Map() };
  }
  const facts = factsOf(ctx, principal);
  const access: RequestAccess = { principal, action, objectPermission: requirement.on === 'object' ? requirement.permission : undefined, facts };
  if (requirement.on === 'service') {
    const decision = policyDecision(ctx, undefined, principal, action, facts);
    if (principal.kind === 'anonymous' || decision === 'deny') throw new S3Error('AccessDenied');
    return access;
  }
  const name = ctx.target.bucket;
  if (name === undefined) throw new S3Error('InvalidRequest', { message: 'A bucket is required.' });
  const bucket = await ctx.services.buckets.require(name, ctx.signal, { anonymous: principal.kind === 'anonymous' });
  access.bucketCreatedMs = bucket.createdMs;
  await checkExpectedOwner(ctx, bucket);
  // DeleteObjects names its keys in the body: each is decided on its own (requireKeyAccess).
  if (action === 's3:DeleteObject' && ctx.target.key === undefined) return access;
  // An object action whose policies look at the object's own tags (s3:ExistingObjectTag) is decided
  // once the object is read (requireObjectAccess): without its tags, neither a Deny that names them
  // nor an Allow they would limit can be told.
  if (requirement.on === 'object' && policiesFor(ctx, bucket, principal).some(readsObjectTags)) return access;
  const decision = policyDecision(ctx, bucket, principal, action, facts);
  if (decision === 'deny') throw new S3Error('AccessDenied');
  if (decision === 'allow') return { ...access, objectPermission: undefined };
  if (requirement.on === 'object') return access;
  if (!aclAllows(principal, bucketOwnerOf(ctx, bucket), grantsInForce(bucket, bucket.grants), requirement.permission)) throw new S3Error('AccessDenied');
  return access;
}

/**
 * AccessDenied unless the request's principal may act on the object: policies again, now with the
 * object's tags (s3:ExistingObjectTag), then the object's ACL.
 */
export function requireObjectAccess(ctx: RequestContext<AccessDeps>, bucket: BucketRecord, record: Pick<ObjectRecord, 'owner' | 'grants' | 'tags' | 'key'>, permission: AclPermission | 'OWNER', action?: S3Action): void {
  const { principal } = ctx.access;
  if (principal.kind === 'admin') return;
  const facts = new Map(ctx.access.facts);
  for (const [key, value] of Object.entries(record.tags ?? {})) facts.set(`s3:existingobjecttag/${key.toLowerCase()}`, value);
  const scoped = { ...ctx, target: { ...ctx.target, bucket: bucket.name, key: record.key } };
  const decision = policyDecision(scoped, bucket, principal, action ?? ctx.access.action, facts);
  if (decision === 'deny') throw new S3Error('AccessDenied');
  if (decision === 'allow') return;
  if (!aclAllows(principal, objectOwnerOf(ctx, bucket, record), grantsInForce(bucket, record.grants), permission)) throw new S3Error('AccessDenied');
}

/**
 * For an operation on many keys at once (DeleteObjects): the decision for one key, as `authorize`
 * takes it for a request naming that key (policies on the key's ARN, then the bucket's ACL).
 */
export function requireKeyAccess(ctx: RequestContext<AccessDeps>, bucket: BucketRecord, key: string, action: S3Action): void {
  const { principal } = ctx.access;
  if (principal.kind === 'admin') return;
  const decision = keyDecision(ctx, bucket, key, action);
  if (decision === 'deny') throw new S3Error('AccessDenied');
  if (decision === 'allow') return;
  const requirement = ACTIONS[action];
  const permission = requirement.on === 'service' ? 'OWNER' : requirement.permission;
  if (!aclAllows(principal, bucketOwnerOf(ctx, bucket), grantsInForce(bucket, bucket.grants), permission)) throw new S3Error('AccessDenied');
}

/**
 * AccessDenied when a policy denies `action` on `key`: what a write sets besides its body (an ACL, tags)
 * is an action of its own in S3 (s3:PutObjectAcl, s3:PutObjectTagging). Without a policy that speaks
 * of it, the writer may: it owns the version it writes, and an owner sets its ACL and tags.
 */
export function refuseDeniedAction(ctx: RequestContext<AccessDeps>, bucket: BucketRecord, key: string, action: S3Action): void {
  if (keyDecision(ctx, bucket, key, action) === 'deny') throw new S3Error('AccessDenied');
}

/** The policies' decision of `action` on `key` of `bucket` for the request's principal (the administrator: none). */
function keyDecision(ctx: RequestContext<AccessDeps>, bucket: BucketRecord, key: string, action: S3Action): PolicyDecision {
  const scoped = { ...ctx, target: { ...ctx.target, bucket: bucket.name, key } };
  return policyDecision(scoped, bucket, ctx.access.principal, action, ctx.access.facts);
}

/** BlockPublicAcls: AccessDenied for a request that would set an ACL granting AllUsers or AuthenticatedUsers. */
export function refusePublicAcl(bucket: BucketRecord, grants: readonly Grant[] | undefined): void {
  if (bucket.publicAccessBlock?.blockPublicAcls === true && grants?.some(isPublicGrant) === true) throw new S3Error('AccessDenied');
}

/**
 * A read of a key that does not exist answers NoSuchKey only to a requester allowed to list the
 * bucket (s3:ListBucket); anyone else gets AccessDenied, as from S3, so that the answer does not tell
 * which keys exist. Throws that AccessDenied; returns when the miss may be told. `name`: the bucket
 * the key was looked for in (a copy's source bucket), the request's own by default.
 */
export async function refuseUnlistedMiss(ctx: RequestContext<AccessDeps>, name: string | undefined = ctx.target.bucket): Promise<void> {
  const { principal } = ctx.access;
  if (principal.kind === 'admin' || name === undefined) return;
  const bucket = await ctx.services.buckets.require(name, ctx.signal);
  const scoped = { ...ctx, target: { ...ctx.target, bucket: name, key: undefined } };
  const decision = policyDecision(scoped, bucket, principal, 's3:ListBucket', ctx.access.facts);
  if (decision === 'allow') return;
  if (decision === 'deny' || !aclAllows(principal, bucketOwnerOf(ctx, bucket), grantsInForce(bucket, bucket.grants), 'READ')) throw new S3Error('AccessDenied');
}

/**
 * Which of `actions` `principal` may take on the scope's target (the service, its bucket, or a key of
 * it): the decision `authorize` takes before a request runs, then, for an object action no policy
 * allowed, the bucket's ACL as `requireKeyAccess` takes it (an object's own ACL may still give more).
 * The console asks it so that a user sees only the buttons whose requests would pass.
 */
export async function permittedActions(scope: Scope, principal: Principal, actions: readonly S3Action[]): Promise<S3Action[]> {
  const permitted: S3Action[] = [];
  for (const action of actions) {
    try {
      const access = await authorize(scope, principal, action);
      if (access.objectPermission !== undefined) {
        const name = scope.target.bucket as string;
        const bucket = await scope.services.buckets.require(name, scope.signal);
        const ctx = { ...scope, access };
        const decision = keyDecision(ctx, bucket, scope.target.key ?? '', action);
        if (decision === 'deny') continue;
        if (decision !== 'allow' && !aclAllows(principal, bucketOwnerOf(scope, bucket), grantsInForce(bucket, bucket.grants), access.objectPermission)) continue;
      }
      permitted.push(action);
    } catch (err) {
      if (err instanceof S3Error && err.code === 'AccessDenied') continue;
      throw err;
    }
  }
  return permitted;
}

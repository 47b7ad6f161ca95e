import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../../common/index.js';
import { ADMIN_RESOURCE, evaluatePolicy, type AdminAction, type Principal } from '../access/index.js';
import { sessionAuth, type AuthResult } from '../auth/index.js';
import {
  bucketQuota,
  IdentityError,
  RecordAdminError,
  type BucketService,
  type IdentityActions,
  type IdentityErrorCode,
  type KmsKeyActions,
  type NodeStatusRow,
  type RecordAdminErrorCode,
  type TargetActions,
} from '../data-path/index.js';
import type { BucketQuota } from '../../rpc/index.js';
import { parseTarget, S3Error } from '../s3/index.js';
import type { AccessDeps, SignatureSettings } from './auth-deps.js';
import { userArn } from './authorize.js';
import { holdTurn, type RequestGate } from './request-gate.js';
import { readBoundedBody } from './request-body.js';
import { authenticateRequest, signedHeadersOf } from './s3-app.js';
import { clusterOverview, healing, objectShards, type ClusterReadDeps } from './cluster-reads.js';

/** Where the admin API lives: bucket "-" in path style, which no S3 bucket can be. */
export const ADMIN_API_PATH = '/-/admin/v1/';

/** Largest request body the admin API reads: a policy document (at most 20 KiB) with room to spare. */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;
/** How long a request body may take to arrive: the bodies are small. */
const BODY_DEADLINE_MS = 10_000;

/** What the admin API needs: signature rules and users (authentication, policies), the actions it offers and the cluster it reads. */
export interface AdminApiOptions {
  services: SignatureSettings & Pick<AccessDeps, 'users' | 'clock'> & ClusterReadDeps;
  identity: IdentityActions;
  targets: TargetActions;
  kmsKeys: KmsKeyActions;
  /** The buckets' records and usage, for the quota calls. */
  buckets: BucketService;
  /** Every node's work status (`tessera admin status`); with `startFast` defined, after starting a scrub and repair pass on each. */
  statuses: (startFast?: boolean) => Promise<NodeStatusRow[]>;
  baseDomain: string | undefined;
  /** The S3 requests' admission control: admin calls ask the nodes, so they wait their turn too. */
  gate?: RequestGate | undefined;
}

/** One call's arguments: the path's parameters (decoded), the query and the body, when the call takes one. */
interface CallInput {
  params: string[];
  query: URLSearchParams;
  body: string;
}

/** One call of the API: method, path (`:x` segments are parameters), the policy action it needs, what it does. */
interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: readonly string[];
  action: AdminAction;
  /** 201 for calls that create. */
  status?: number;
  run(options: AdminApiOptions, input: CallInput): Promise<unknown>;
}

/** The API, one row per call. */
const ROUTES: readonly AdminRoute[] = [
  { method: 'GET', path: ['users'], action: 'admin:ListUsers', run: (o) => o.identity.listUsers() },
  { method: 'POST', path: ['users'], action: 'admin:CreateUser', status: 201, run: (o, i) => o.identity.createUser(stringField(jsonObject(i.body), 'name')) },
  { method: 'GET', path: ['users', ':'], action: 'admin:GetUser', run: (o, i) => o.identity.getUser(param(i, 0)) },
  { method: 'DELETE', path: ['users', ':'], action: 'admin:DeleteUser', run: (o, i) => o.identity.deleteUser(param(i, 0)) },
  { method: 'GET', path: ['users', ':', 'keys'], action: 'admin:ListAccessKeys', run: (o, i) => o.identity.listKeys(param(i, 0)) },
  { method: 'POST', path: ['users', ':', 'keys'], action: 'admin:CreateAccessKey', status: 201, run: (o, i) => o.identity.createKey(param(i, 0)) },
  { method: 'PUT', path: ['users', ':', 'policies', ':'], action: 'admin:AttachUserPolicy', run: (o, i) => o.identity.attachPolicy(param(i, 0), param(i, 1)) },
  { method: 'DELETE', path: ['users', ':', 'policies', ':'], action: 'admin:DetachUserPolicy', run: (o, i) => o.identity.detachPolicy(param(i, 0), param(i, 1)) },
  { method: 'PUT', path: ['keys', ':'], action: 'admin:UpdateAccessKey', run: (o, i) => o.identity.setKeyEnabled(param(i, 0), booleanField(jsonObject(i.body), 'enabled')) },
  { method: 'DELETE', path: ['keys', ':'], action: 'admin:DeleteAccessKey', run: (o, i) => o.identity.deleteKey(param(i, 0)) },
  { method: 'GET', path: ['policies'], action: 'admin:ListPolicies', run: (o) => o.identity.listPolicies() },
  { method: 'GET', path: ['policies', ':'], action: 'admin:GetPolicy', run: (o, i) => o.identity.getPolicy(param(i, 0)) },
  { method: 'PUT', path: ['policies', ':'], action: 'admin:PutPolicy', run: (o, i) => o.identity.putPolicy(param(i, 0), i.body) },
  { method: 'GET', path: ['status'], action: 'admin:ServerInfo', run: async (o) => ({ nodes: await o.statuses() }) },
  { method: 'GET', path: ['cluster'], action: 'admin:ServerInfo', run: (o) => clusterOverview(o.services) },
  { method: 'GET', path: ['healing'], action: 'admin:ServerInfo', run: (o) => healing(o.services) },
  { method: 'POST', path: ['healing'], action: 'admin:StartHeal', run: (o, i) => startHeal(o, i.body) },
  { method: 'GET', path: ['objects'], action: 'admin:ServerInfo', run: (o, i) => shardMap(o, i.query) },
  { method: 'GET', path: ['buckets', ':', 'quota'], action: 'admin:GetBucketQuota', run: (o, i) => bucketQuota(o.buckets, param(i, 0), undefined, quotaSignal()) },
  { method: 'PUT', path: ['buckets', ':', 'quota'], action: 'admin:SetBucketQuota', run: (o, i) => bucketQuota(o.buckets, param(i, 0), quotaOf(jsonObject(i.body)), quotaSignal()) },
  { method: 'DELETE', path: ['buckets', ':', 'quota'], action: 'admin:SetBucketQuota', run: (o, i) => bucketQuota(o.buckets, param(i, 0), null, quotaSignal()) },
  { method: 'GET', path: ['targets'], action: 'admin:ListTargets', run: (o) => o.targets.listTargets() },
  { method: 'PUT', path: ['targets', ':'], action: 'admin:PutTarget', status: 201, run: (o, i) => o.targets.addTarget(param(i, 0), jsonObject(i.body)) },
  { method: 'DELETE', path: ['targets', ':'], action: 'admin:DeleteTarget', run: (o, i) => o.targets.removeTarget(param(i, 0)) },
  { method: 'GET', path: ['kms', 'keys'], action: 'admin:ListKmsKeys', run: (o) => o.kmsKeys.listKmsKeys() },
  { method: 'POST', path: ['kms', 'keys'], action: 'admin:CreateKmsKey', status: 201, run: (o, i) => o.kmsKeys.createKmsKey(stringField(jsonObject(i.body), 'name')) },
  { method: 'PUT', path: ['kms', 'keys', ':'], action: 'admin:UpdateKmsKey', run: (o, i) => o.kmsKeys.setKmsKeyEnabled(param(i, 0), booleanField(jsonObject(i.body), 'enabled')) },
  { method: 'POST', path: ['kms', 'keys', ':', 'rotate'], action: 'admin:UpdateKmsKey', run: (o, i) => o.kmsKeys.rotateKmsKey(param(i, 0)) },
];

/** Starts a scrub and repair pass on every node (`tessera admin heal`); `{"fast": true}` lifts the pass's rate limit. */
async function startHeal(options: AdminApiOptions, body: string): Promise<{ started: number; fast: boolean; nodes: NodeStatusRow[] }> {
  const fast = body.trim() === '' ? false : optionalBoolean(jsonObject(body), 'fast') ?? false;
  const nodes = await options.statuses(fast);
  return { started: nodes.filter((row) => !('error' in row)).length, fast, nodes };
}

/** The shard map of `?bucket=B&key=K` (and `&versionId=V`, else the newest version): its record, placement and each shard's health. */
async function shardMap(options: AdminApiOptions, query: URLSearchParams): Promise<unknown> {
  const bucket = query.get('bucket');
  const key = query.get('key');
  if (bucket === null || key === null || key === '') throw new AdminError('InvalidArgument', 'The call needs ?bucket=BUCKET&key=KEY (and &versionId=ID for a version other than the newest).');
  await options.buckets.require(bucket, AbortSignal.timeout(QUOTA_TIMEOUT_MS));
  return objectShards(options.services, query);
}

/** Longest a quota call waits for the nodes (the bucket record's update, then every node's usage counters). */
const QUOTA_TIMEOUT_MS = 30_000;

function quotaSignal(): AbortSignal {
  const signal = AbortSignal.timeout(QUOTA_TIMEOUT_MS);
  // Every node call of the update listens to it.
  setMaxListeners(0, signal);
  return signal;
}

/** A quota body: `maxBytes` and/or `maxObjects`, whole numbers of at least 0 (the CLI's --max-bytes, --max-objects). */
function quotaOf(body: Record<string, unknown>): BucketQuota {
  const limit = (name: 'maxBytes' | 'maxObjects'): number | undefined => {
    const value = Object.hasOwn(body, name) ? body[name] : undefined;
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new AdminError('InvalidArgument', `"${name}" must be a whole number of at least 0.`);
    return value;
  };
  const maxBytes = limit('maxBytes');
  const maxObjects = limit('maxObjects');
  if (maxBytes === undefined && maxObjects === undefined) throw new AdminError('InvalidArgument', 'The body needs "maxBytes" or "maxObjects" (DELETE clears the quota).');
  return { ...(maxBytes === undefined ? {} : { maxBytes }), ...(maxObjects === undefined ? {} : { maxObjects }) };
}

/** The admin API's own refusals, by code: the HTTP status each answers with. */
const ADMIN_ERROR_STATUS: Readonly<Record<IdentityErrorCode | RecordAdminErrorCode | AdminErrorCode, number>> = {
  InvalidName: 400,
  InvalidTarget: 400,
  NoMasterKey: 400,
  NoSuchKmsKey: 404,
  NoSuchTarget: 404,
  KmsKeyAlreadyExists: 409,
  TargetAlreadyExists: 409,
  MalformedPolicy: 400,
  MalformedJSON: 400,
  InvalidArgument: 400,
  InvalidRequest: 400,
  NoSuchUser: 404,
  NoSuchAccessKey: 404,
  NoSuchPolicy: 404,
  PolicyNotAttached: 404,
  NoSuchCall: 404,
  MethodNotAllowed: 405,
  UserAlreadyExists: 409,
  BodyTooLarge: 413,
  AccessDenied: 403,
};

/** Refusals of the API itself (as opposed to the identity actions'). */
type AdminErrorCode = 'MalformedJSON' | 'InvalidArgument' | 'InvalidRequest' | 'NoSuchCall' | 'MethodNotAllowed' | 'BodyTooLarge' | 'AccessDenied';

/** A request the API refuses before any action runs. */
class AdminError extends TesseraError<AdminErrorCode> {}

/**
 * The admin API: JSON calls under `/-/admin/v1/` for users, access keys, identity policies and the
 * cluster's status. Every request is signed with SigV4 in the Authorization header, checked by the
 * same code as S3's requests, and authorized by the caller's identity policies (`admin:*` actions;
 * the configured administrator may do everything). Answered from an onRequest hook, like the
 * console, so a virtual-hosted request for the same path stays S3's.
 */
export function registerAdminApi(app: FastifyInstance, options: AdminApiOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '';
    if (!url.startsWith('/-/admin/')) return;
    const target = parseTarget(url.split('?')[0] ?? url, request.headers.host, options.baseDomain);
    if (target.bucket !== '-') return;
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    try {
      // The query is signed with the rest; the calls that read one take it as URLSearchParams.
      const mark = url.indexOf('?');
      const answer = await serve(request, reply, options, { rawPath: target.rawPath, rawQuery: mark < 0 ? '' : url.slice(mark + 1) });
      return reply.code(answer.status).type('application/json').send(JSON.stringify(answer.value));
    } catch (err) {
      return sendError(request, reply, err);
    }
  });
}

async function serve(request: FastifyRequest, reply: FastifyReply, options: AdminApiOptions, target: { rawPath: string; rawQuery: string }): Promise<{ status: number; value: unknown }> {
  const auth = await authenticateSigned(request, options, target);
  const principal = options.services.users.lookup(auth.accessKeyId)?.principal;
  if (principal === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: auth.accessKeyId } });
  if (!target.rawPath.startsWith(ADMIN_API_PATH)) throw new AdminError('NoSuchCall', 'No such admin call.');
  const segments = target.rawPath.slice(ADMIN_API_PATH.length).split('/');
  const matches = ROUTES.filter((route) => route.path.length === segments.length && route.path.every((part, i) => part === ':' || part === segments[i]));
  if (matches.length === 0) throw new AdminError('NoSuchCall', 'No such admin call.');
  const route = matches.find((r) => r.method === request.method);
  if (route === undefined) {
    reply.header('allow', matches.map((r) => r.method).join(', '));
    throw new AdminError('MethodNotAllowed', `This call takes ${matches.map((r) => r.method).join(' or ')}.`);
  }
  const params = route.path.flatMap((part, i) => (part === ':' ? [decodeSegment(segments[i] as string)] : []));
  authorizeAdmin(request, options, principal, route.action);
  if (options.gate !== undefined) await holdTurn(options.gate, reply.raw);
  const body = await readBody(request, reply, auth);
  const value = await route.run(options, { params, query: new URLSearchParams(target.rawQuery), body });
  if (route.method !== 'GET') {
    // The record of who changed the cluster's identities: names and key ids only, never a secret or a body.
    request.log.info({ action: route.action, accessKeyId: auth.accessKeyId, params }, 'admin action');
  }
  return { status: route.status ?? 200, value };
}

/**
 * The request's SigV4 signature, checked as S3's are: header form only (a presigned URL, SigV2 or an
 * unsigned request is refused), with the body's hash given or UNSIGNED-PAYLOAD (no aws-chunked framing).
 */
async function authenticateSigned(request: FastifyRequest, options: AdminApiOptions, target: { rawPath: string; rawQuery: string }): Promise<AuthResult> {
  // The console's calls (`/-/console/admin/v1/...`) are its session user's, as S3's are (console-route.ts).
  if (request.sessionUser !== undefined) return bodyChecked(sessionAuth({ method: request.method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers: request.headers }, request.sessionUser));
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string' || !authorization.startsWith('AWS4-HMAC-SHA256 ')) {
    throw new AdminError('AccessDenied', 'The admin API takes requests signed with AWS Signature Version 4 in the Authorization header.');
  }
  const headers = { ...signedHeadersOf(request) };
  // The S3 app sets Content-Type aside before the routes run; a signature may cover it.
  const raw = request.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === 'content-type') headers['content-type'] = raw[i + 1];
  return bodyChecked(await authenticateRequest({ method: request.method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers }, options.services));
}

/** The admin API reads a plain body, its SHA-256 given or not: no aws-chunked framing. */
function bodyChecked(auth: AuthResult): AuthResult {
  if (auth.payloadMode !== 'sha256' && auth.payloadMode !== 'unsigned') {
    throw new AdminError('InvalidRequest', 'The admin API takes a body signed by its SHA-256 or UNSIGNED-PAYLOAD, not aws-chunked.');
  }
  return auth;
}

/** AccessDenied unless the caller's identity policies allow `action` (and none denies it); the administrator may do all. */
function authorizeAdmin(request: FastifyRequest, options: AdminApiOptions, principal: Principal, action: AdminAction): void {
  const decision = adminDecision(request, options.services, principal, action);
  if (decision === 'allow') return;
  if (principal.kind !== 'user') throw new AdminError('AccessDenied', 'Access Denied');
  if (decision === 'deny') throw new AdminError('AccessDenied', `Access Denied: ${action} is denied to ${principal.name}.`);
  throw new AdminError('AccessDenied', `Access Denied: ${principal.name} is not allowed ${action}.`);
}

/**
 * Whether `principal` may take admin `action` in `request`: 'allow' when an identity policy allows it
 * and none denies it (always for the administrator), 'deny' for an explicit Deny, else 'none'. The
 * admin API's decision, and the console's when it asks what a user may do.
 */
export function adminDecision(request: FastifyRequest, services: Pick<AccessDeps, 'users' | 'clock'>, principal: Principal, action: AdminAction): 'allow' | 'deny' | 'none' {
  if (principal.kind === 'admin') return 'allow';
  if (principal.kind !== 'user') return 'none';
  const nowMs = services.clock.nowMs();
  const facts = new Map<string, string | string[]>([
    ['aws:sourceip', request.ip],
    ['aws:securetransport', request.protocol === 'https' ? 'true' : 'false'],
    ['aws:currenttime', new Date(nowMs).toISOString()],
    ['aws:epochtime', String(Math.floor(nowMs / 1000))],
    ['aws:username', principal.name],
    ['aws:userid', principal.canonicalId],
  ]);
  const userAgent = request.headers['user-agent'];
  if (typeof userAgent === 'string') facts.set('aws:useragent', userAgent);
  const subject = { anonymous: false, names: [userArn(principal.name), principal.canonicalId] };
  let allowed = false;
  for (const policy of services.users.policiesOf(principal.canonicalId)) {
    const decision = evaluatePolicy(policy, subject, action, ADMIN_RESOURCE, facts);
    if (decision === 'deny') return 'deny';
    if (decision === 'allow') allowed = true;
  }
  return allowed ? 'allow' : 'none';
}

/**
 * The request body as text, at most MAX_ADMIN_BODY_BYTES of UTF-8, arriving within BODY_DEADLINE_MS,
 * and matching the SHA-256 its signature names. A larger declared body is refused unread.
 */
async function readBody(request: FastifyRequest, reply: FastifyReply, auth: AuthResult): Promise<string> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= MAX_ADMIN_BODY_BYTES)) {
    reply.header('connection', 'close');
    throw new AdminError('BodyTooLarge', `The body is larger than ${MAX_ADMIN_BODY_BYTES} bytes.`);
  }
  if (request.headers.expect?.toLowerCase() === '100-continue' && !reply.raw.headersSent) reply.raw.writeContinue();
  const body = await readBoundedBody(request.raw, {
    maxBytes: MAX_ADMIN_BODY_BYTES,
    deadlineMs: BODY_DEADLINE_MS,
    tooLarge: () => {
      reply.header('connection', 'close');
      return new AdminError('BodyTooLarge', `The body is larger than ${MAX_ADMIN_BODY_BYTES} bytes.`);
    },
  });
  if (auth.payloadMode === 'sha256' && createHash('sha256').update(body).digest('hex') !== auth.payloadSha256) {
    throw new S3Error('XAmzContentSHA256Mismatch', { fields: { ClientComputedContentSHA256: auth.payloadSha256 ?? '' } });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new AdminError('MalformedJSON', 'The body is not UTF-8.');
  }
}

/** A path parameter, percent-decoded (the actions check each name's form). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new AdminError('InvalidArgument', 'A path segment is not valid percent-encoding.');
  }
}

function param(input: CallInput, index: number): string {
  return input.params[index] ?? '';
}

/** The body as a JSON object. */
function jsonObject(body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new AdminError('MalformedJSON', 'The body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AdminError('MalformedJSON', 'The body must be a JSON object.');
  return value as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, name: string): string {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof value !== 'string') throw new AdminError('InvalidArgument', `The body needs "${name}": a string.`);
  return value;
}

function optionalBoolean(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (value !== undefined && typeof value !== 'boolean') throw new AdminError('InvalidArgument', `"${name}" must be true or false.`);
  return value;
}

function booleanField(body: Record<string, unknown>, name: string): boolean {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof value !== 'boolean') throw new AdminError('InvalidArgument', `The body needs "${name}": true or false.`);
  return value;
}

/**
 * The JSON error answer: `{code, message, requestId}`. S3's signature errors keep their code and
 * status (SignatureDoesNotMatch, 403); the cluster's faults are 503 and logged with the request id.
 */
function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const requestId = String(request.id);
  let status: number;
  let code: string;
  let message: string;
  if (err instanceof AdminError || err instanceof IdentityError || err instanceof RecordAdminError) {
    status = ADMIN_ERROR_STATUS[err.code];
    code = err.code;
    message = err.message;
  } else if (err instanceof S3Error && err.status < 500) {
    status = err.status;
    code = err.code;
    message = err.message;
  } else {
    request.log.warn({ err }, 'admin request failed');
    status = 503;
    code = err instanceof S3Error && err.code === 'SlowDown' ? 'SlowDown' : 'ServiceUnavailable';
    message = 'The cluster could not complete the call; try again.';
  }
  // A body left unread is not drained: the connection goes with the answer.
  if (!request.raw.complete) reply.header('connection', 'close');
  return reply.code(status).type('application/json').send(JSON.stringify({ code, message, requestId }));
}

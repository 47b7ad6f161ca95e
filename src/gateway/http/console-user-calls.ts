import type { FastifyReply, FastifyRequest } from 'fastify';
import { ACTIONS, ADMIN_ACTIONS, type Principal, type S3Action } from '../access/index.js';
import { presignUrl, sessionAuth } from '../auth/index.js';
import { S3Error } from '../s3/index.js';
import { adminDecision } from './admin-route.js';
import type { AuthDeps } from './auth-deps.js';
import { permittedActions } from './authorize.js';

/** A signed-in console user: the session's access key, still one of the cluster's enabled keys, and its principal. */
export interface Session {
  accessKeyId: string;
  principal: Exclude<Principal, { kind: 'anonymous' }>;
}

/** Actions S3 counts as the bucket's (their ACL permission is the bucket's) that a request takes on a key, so policies name them on `bucket/key`. */
const KEY_ACTIONS_ON_BUCKET: ReadonlySet<S3Action> = new Set(['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']);
/** The S3 actions the capabilities call answers for a bucket as a whole... */
const BUCKET_ACTIONS = (Object.keys(ACTIONS) as S3Action[]).filter((action) => ACTIONS[action].on === 'bucket' && !KEY_ACTIONS_ON_BUCKET.has(action));
/** ... and for a key under the prefix asked about. */
const KEY_ACTIONS = (Object.keys(ACTIONS) as S3Action[]).filter((action) => ACTIONS[action].on === 'object' || KEY_ACTIONS_ON_BUCKET.has(action));

/**
 * What the signed-in user may do, so that the page shows no button whose request would fail: the
 * admin actions and S3's service actions, and with `bucket` that bucket's actions and those on a key
 * under `prefix`, each decided by the code the requests themselves are authorized by.
 */
export async function capabilities(request: FastifyRequest, reply: FastifyReply, services: AuthDeps, session: Session, query: URLSearchParams, signal: AbortSignal): Promise<unknown> {
  const { principal } = session;
  const auth = sessionAuth({ method: 'GET', rawPath: '/', rawQuery: '', headers: {} }, session.accessKeyId);
  const scope = (bucket: string | undefined, key: string | undefined): Parameters<typeof permittedActions>[0] => ({
    request,
    reply,
    auth,
    signal,
    services,
    target: { bucket, key, query: new Map<string, string>(), rawPath: '/', rawQuery: '', virtualHosted: false },
  });
  const answer: Record<string, unknown> = {
    user: session.accessKeyId,
    name: principal.name,
    administrator: principal.kind === 'admin',
    admin: ADMIN_ACTIONS.filter((action) => adminDecision(request, services, principal, action) === 'allow'),
    s3: await permittedActions(scope(undefined, undefined), principal, ['s3:ListAllMyBuckets', 's3:CreateBucket']),
  };
  const bucket = query.get('bucket');
  if (bucket !== null && bucket !== '') {
    answer['bucket'] = await permittedActions(scope(bucket, undefined), principal, BUCKET_ACTIONS);
    // A key's resource is `bucket/prefix...`: a policy on `bucket/prefix/*` speaks of the keys the page shows.
    answer['objects'] = await permittedActions(scope(bucket, query.get('prefix') ?? ''), principal, KEY_ACTIONS);
  }
  return answer;
}

/** Longest a shared link lasts: seven days, as S3's presigned URLs. */
const MAX_SHARE_SECONDS = 604_800;

/**
 * A presigned GET URL for one object, signed with the signed-in user's own key (its secret never
 * leaves the gateway): whoever has the link reads what that user may read, until it expires.
 */
export function presign(request: FastifyRequest, services: AuthDeps, session: Session, text: string, s3Port: number | undefined): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new S3Error('InvalidArgument', { message: 'Expected JSON {bucket, key, versionId?, expiresSeconds}.' });
  }
  const { bucket, key, versionId, expiresSeconds } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof bucket !== 'string' || typeof key !== 'string' || bucket === '' || key === '' || Buffer.byteLength(key) > 1024) {
    throw new S3Error('InvalidArgument', { message: 'A link names a bucket and a key of at most 1,024 bytes.' });
  }
  if (versionId !== undefined && typeof versionId !== 'string') throw new S3Error('InvalidArgument', { message: 'versionId is a string.' });
  if (typeof expiresSeconds !== 'number' || !Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_SHARE_SECONDS) {
    throw new S3Error('InvalidArgument', { message: `A link lasts 1 to ${MAX_SHARE_SECONDS} seconds (seven days).` });
  }
  const secretAccessKey = services.users.lookup(session.accessKeyId)?.secretAccessKey;
  if (secretAccessKey === undefined) throw new S3Error('AccessDenied');
  const nowMs = services.clock.nowMs();
  const url = presignUrl({
    protocol: request.protocol,
    // The link is the S3 port's: the host the browser reached the console by, with S3's port.
    host: s3Host(request.headers.host ?? '', s3Port),
    bucket,
    key,
    versionId,
    accessKeyId: session.accessKeyId,
    secretAccessKey,
    region: services.region,
    expiresSeconds,
    nowMs,
  });
  request.log.info({ accessKeyId: session.accessKeyId, bucket, expiresSeconds }, 'console shared a link');
  return { url, expiresMs: nowMs + expiresSeconds * 1000 };
}

/** `host` (the console's Host header) with its port replaced by the S3 listener's. */
function s3Host(host: string, s3Port: number | undefined): string {
  if (s3Port === undefined) return host;
  // An IPv6 literal is bracketed: its port follows the closing bracket.
  const portAt = host.lastIndexOf(':');
  const name = portAt > host.lastIndexOf(']') ? host.slice(0, portAt) : host;
  return `${name}:${s3Port}`;
}

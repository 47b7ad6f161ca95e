import { setMaxListeners } from 'node:events';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CredentialStore } from '../auth/index.js';
import { adminDecision } from './admin-route.js';
import { capabilities, presign, type Session } from './console-user-calls.js';
import { listObjects, type ListPathDeps } from '../data-path/index.js';
import type { AuthDeps } from './auth-deps.js';
import { parseTarget, S3Error } from '../s3/index.js';
import { loadConsoleAssets } from './console-assets.js';
import { clusterOverview, healing, objectShards } from './cluster-reads.js';
import { CONSOLE_COOKIE, CONSOLE_SESSION_MS, ConsoleSessions, cookieValue, secretMatches } from './console-session.js';
import { keyVersions, prefixVersions } from './console-versions.js';
import { holdTurn, type RequestGate } from './request-gate.js';
import { readBoundedBody } from './request-body.js';

/** Where the console lives: bucket "-" in path style, which no S3 bucket can be. */
export const CONSOLE_PATH = '/-/console/';

/** What the console's API reads: bucket listings and versions, the nodes, who may sign in and what they may do. */
export type ConsoleDeps = ListPathDeps & AuthDeps;

/** What the console reads from. */
export interface ConsoleOptions {
  services: ConsoleDeps;
  /** The same credential check as S3's: a user who can sign S3 requests can sign in. */
  credentials: CredentialStore;
  clusterSecret: string;
  baseDomain: string | undefined;
  /** Figures of the gateway itself for the overview. */
  gateway: () => { kernel: string; version: string };
  /** The S3 requests' admission control: API pages ask the nodes, so they wait their turn too. */
  gate?: RequestGate | undefined;
  /** The port of the console's own listener (undefined: no console); requests on any other port are S3's. */
  consolePort: () => number | undefined;
  /** The S3 listener's port, for the share links the console signs. */
  s3Port: () => number | undefined;
}

/** Longest a console page waits for one node. */
const NODE_TIMEOUT_MS = 5_000;
/** Keys and prefixes one browse page shows. */
const BROWSE_PAGE = 500;

/**
 * The web console: static assets (shipped in the package, no CDN), its session, and the S3 and admin
 * API calls it hands on to their own routes as the session's user (HANDED_ON). Sign-in checks any access
 * key and secret against the S3 credential store and sets a signed, HttpOnly session cookie; every
 * other call needs it. Answered from an onRequest hook, like the health endpoints, so a virtual-hosted
 * request for the same path stays S3's. Register it before the admin API, whose hook it hands calls to.
 */
export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const sessions = new ConsoleSessions({ clusterSecret: options.clusterSecret, clock: () => options.services.clock.nowMs() });
  const assets = loadConsoleAssets();
  app.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '';
    const consolePort = options.consolePort();
    if (consolePort === undefined || request.raw.socket.localPort !== consolePort) {
      // The S3 port: the console is not served here, where it would share its origin with every object.
      if (!url.startsWith('/-/console')) return;
      if (parseTarget(url.split('?')[0] ?? url, request.headers.host, options.baseDomain).bucket !== '-') return;
      const where = consolePort === undefined ? 'This gateway serves no console (set consoleListen).' : `The console is served on port ${consolePort}.`;
      return reply.code(404).type('text/plain').header('cache-control', 'no-store').send(`${where}\n`);
    }
    // The console's port answers the console and nothing else: no object is ever served from its origin
    // but through the session's own routes below.
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    const path = url.split('?')[0] ?? '';
    if (path === '/' || path === '/-/console') return reply.redirect(CONSOLE_PATH, 302);
    if (!path.startsWith(CONSOLE_PATH)) return reply.code(404).type('text/plain').send('not found\n');
    if (path === '/-/console/api/session' && request.method === 'POST') return signIn(request, reply, options, sessions);
    if (path === '/-/console/api/session' && request.method === 'DELETE') {
      return reply.header('set-cookie', `${CONSOLE_COOKIE}=; Path=/-/console/; HttpOnly; SameSite=Strict; Max-Age=0`).send({ ok: true });
    }
    const handOn = HANDED_ON.find((route) => path.startsWith(route.from));
    if (handOn !== undefined) return handOnAsUser(request, reply, options, sessions, url, handOn);
    if (path.startsWith('/-/console/api/')) {
      const session = sessionOf(request, options, sessions);
      if (session === undefined) return reply.code(401).send({ error: 'sign in' });
      const page = path.slice('/-/console/api/'.length);
      try {
        if (options.gate !== undefined) await holdTurn(options.gate, reply.raw);
        if (page === 'presign' && request.method === 'POST') {
          if (!sameOriginChange(request)) return refuseCrossSite(reply);
          return reply.send(presign(request, options.services, session, await readBody(request), options.s3Port()));
        }
        if (request.method !== 'GET' && request.method !== 'HEAD') return reply.code(405).send({ error: 'this page is read with GET' });
        const query = new URLSearchParams(url.split('?')[1] ?? '');
        if (page === 'capabilities') return reply.send(await capabilities(request, reply, options.services, session, query, AbortSignal.timeout(NODE_TIMEOUT_MS)));
        // The cluster pages read every bucket, key and shard past S3's checks: a user needs admin:ServerInfo.
        if (adminDecision(request, options.services, session.principal, 'admin:ServerInfo') !== 'allow') {
          return reply.code(403).send({ error: 'The cluster pages need admin:ServerInfo.', code: 'AccessDenied' });
        }
        const answer = await api(page, query, options, session.accessKeyId);
        if (answer === undefined) return reply.code(404).send({ error: 'no such page' });
        return reply.send(answer);
      } catch (err) {
        // A bad argument (an unknown bucket, a malformed version id) is the caller's; anything else the cluster's.
        if (err instanceof S3Error && err.status < 500) return reply.code(err.status).send({ error: err.message, code: err.code });
        if (err instanceof S3Error && err.code === 'SlowDown') return reply.code(503).headers(err.headers).send({ error: err.message, code: err.code });
        request.log.warn({ err }, 'console request failed');
        return reply.code(503).send({ error: (err as Error).message });
      }
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply.code(405).send({ error: 'assets are read with GET' });
    const name = path.slice(CONSOLE_PATH.length) || 'index.html';
    const asset = assets.get(name);
    if (asset === undefined) return reply.code(404).type('text/plain').send('not found\n');
    reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
    return reply.type(asset.type).send(asset.body);
  });
}

/**
 * The console's own S3 and admin API: its page is a client of both, authenticated by its session
 * cookie instead of a signature. A request under `from` is answered by the ordinary route under `to`
 * (the S3 route, or the admin API's hook, registered after this one) as the session's user: the same
 * handlers, the same authorization, the same errors as a signed request.
 */
const HANDED_ON = [
  { from: '/-/console/s3/', to: '/' },
  { from: '/-/console/admin/v1/', to: '/-/admin/v1/' },
] as const;

/** The header every state-changing console request carries: a form of another site cannot send it, and its script only after a preflight nothing answers. */
export const CONSOLE_CHANGE_HEADER = 'x-tessera-console';

/** The request's session, or undefined: none, forged, expired, or its key disabled or deleted since (a session ends with its key). */
function sessionOf(request: FastifyRequest, options: ConsoleOptions, sessions: ConsoleSessions): Session | undefined {
  const accessKeyId = sessions.verify(cookieValue(request.headers.cookie, CONSOLE_COOKIE));
  if (accessKeyId === undefined) return undefined;
  const principal = options.services.users.lookup(accessKeyId)?.principal;
  if (principal === undefined || principal.kind === 'anonymous') return undefined;
  return { accessKeyId, principal };
}

/**
 * A change (anything but GET and HEAD) is the console page's own only with the console's header, which
 * a form cannot send and a script of another origin only after a preflight nothing answers, and when
 * it comes from the console's own page (fromOwnPage).
 */
function sameOriginChange(request: FastifyRequest): boolean {
  return request.headers[CONSOLE_CHANGE_HEADER] === '1' && fromOwnPage(request);
}

/**
 * Whether a request can be the console page's own: no Origin of another origin, and no Sec-Fetch-Site
 * saying another origin sent it. Browsers name the origin of every cross-origin fetch; a link the user
 * opens from the console is `same-origin`, one typed or pasted is `none`.
 */
function fromOwnPage(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `${request.protocol}://${request.headers.host ?? ''}`) return false;
  const site = request.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

/** The answer to a change that is not the console page's own; its body is left unread, so the connection goes with it. */
function refuseCrossSite(reply: FastifyReply): FastifyReply {
  return reply
    .code(403)
    .header('connection', 'close')
    .send({ error: `A console change needs the ${CONSOLE_CHANGE_HEADER} header and a same-origin Origin.`, code: 'AccessDenied' });
}

/** Passes a console S3 or admin call on to its route, as the session's user; or answers it when there is no session or it is not the page's own. */
function handOnAsUser(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ConsoleOptions,
  sessions: ConsoleSessions,
  url: string,
  route: (typeof HANDED_ON)[number],
): FastifyReply | undefined {
  const session = sessionOf(request, options, sessions);
  if (session === undefined) return reply.code(401).header('connection', 'close').send({ error: 'sign in' });
  // Reads too: a page of another origin (the S3 port's among them: same site, so the cookie goes along)
  // must not read objects as the signed-in user, whatever CORS rules the bucket has.
  if (request.method === 'GET' || request.method === 'HEAD' ? !fromOwnPage(request) : !sameOriginChange(request)) return refuseCrossSite(reply);
  request.sessionUser = session.accessKeyId;
  request.raw.url = route.to + url.slice(route.from.length);
  // An object opened from here (a download link opened in a tab) must not run as the console's page:
  // a sandbox gives it an opaque origin and no scripts.
  reply.header('content-security-policy', "sandbox; default-src 'none'");
  return undefined;
}

async function signIn(request: FastifyRequest, reply: FastifyReply, options: ConsoleOptions, sessions: ConsoleSessions): Promise<FastifyReply> {
  // JSON only: a form on another site can post text/plain or form data without a preflight, and would
  // sign the browser in as someone else.
  if (!/^application\/json\s*(;|$)/i.test(rawHeader(request, 'content-type') ?? '')) {
    // The body is left unread: the connection goes with the answer.
    return reply.code(415).header('connection', 'close').send({ error: 'expected Content-Type: application/json' });
  }
  let body: { accessKeyId?: unknown; secretAccessKey?: unknown };
  try {
    body = JSON.parse(await readBody(request)) as typeof body;
  } catch {
    return reply.code(400).send({ error: 'expected JSON {accessKeyId, secretAccessKey}' });
  }
  const { accessKeyId, secretAccessKey } = body;
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || !secretMatches(secretAccessKey, options.credentials.secretKeyFor(accessKeyId))) {
    request.log.info({ accessKeyId: typeof accessKeyId === 'string' ? accessKeyId : undefined }, 'console sign-in refused');
    return reply.code(403).send({ error: 'The access key or secret is not correct.' });
  }
  // Over HTTPS the cookie is Secure: never sent back over plain HTTP.
  const secure = request.protocol === 'https' ? '; Secure' : '';
  const cookie = `${CONSOLE_COOKIE}=${sessions.issue(accessKeyId)}; Path=/-/console/; HttpOnly; SameSite=Strict; Max-Age=${CONSOLE_SESSION_MS / 1000}${secure}`;
  return reply.header('set-cookie', cookie).send({ user: accessKeyId });
}

/** A header as the client sent it (the S3 app sets Content-Type aside before any route sees it). */
function rawHeader(request: FastifyRequest, name: string): string | undefined {
  const raw = request.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** How long the sign-in form's body may take to arrive: it is a few hundred bytes. */
const SIGN_IN_BODY_MS = 10_000;

/**
 * Reads a small request body (the sign-in form), refusing more than 16 KiB, and cutting the connection
 * of a body that trickles in for longer than SIGN_IN_BODY_MS (the S3 path's slow-client checks do not
 * cover this route, and an unauthenticated client must not hold a socket open for hours).
 */
async function readBody(request: FastifyRequest): Promise<string> {
  const body = await readBoundedBody(request.raw, { maxBytes: 16 * 1024, deadlineMs: SIGN_IN_BODY_MS, tooLarge: () => new Error('body too large') });
  return body.toString('utf8');
}

/** Answers one console API page, or undefined for a page there is not. */
async function api(page: string, query: URLSearchParams, options: ConsoleOptions, user: string): Promise<unknown> {
  const { services } = options;
  const signal = AbortSignal.timeout(NODE_TIMEOUT_MS * 2);
  // One listener per node cursor of a listing: a fan-out, not a leak.
  setMaxListeners(0, signal);
  switch (page) {
    case 'overview':
      return { user, gateway: options.gateway(), ...(await clusterOverview(services)) };
    case 'healing':
      return healing(services);
    case 'buckets':
      return { buckets: (await services.buckets.list(signal)).map((b) => ({ name: b.name, createdMs: b.createdMs })) };
    case 'objects':
      return browseObjects(services, query, signal);
    case 'versions': {
      const bucket = query.get('bucket') ?? '';
      const key = query.get('key') ?? '';
      await services.buckets.require(bucket, signal);
      return { bucket, key, ...(await keyVersions(services, bucket, key, signal)) };
    }
    case 'prefix-versions': {
      const bucket = query.get('bucket') ?? '';
      const prefix = query.get('prefix') ?? '';
      await services.buckets.require(bucket, signal);
      return { bucket, prefix, ...(await prefixVersions(services, bucket, prefix, signal)) };
    }
    case 'object':
      return objectShards(services, query);
    default:
      return undefined;
  }
}

/** One page of a bucket's keys and sub-prefixes under a prefix, as a browser walks folders. */
async function browseObjects(services: ListPathDeps, query: URLSearchParams, signal: AbortSignal): Promise<unknown> {
  const bucket = query.get('bucket') ?? '';
  await services.buckets.require(bucket, signal);
  const prefix = query.get('prefix') ?? '';
  const listed = await listObjects(
    services.cluster.allNodes(),
    { bucket, prefix, delimiter: '/', after: query.get('after') ?? '', afterIsPrefix: false, maxKeys: BROWSE_PAGE },
    services.erasure.parityShards,
    signal,
    services.metadataTimeoutMs,
  );
  return {
    bucket,
    prefix,
    prefixes: listed.commonPrefixes,
    objects: listed.objects.map((o) => ({ key: o.key, sizeBytes: o.sizeBytes, versionId: o.versionId, lastModifiedMs: o.lastModifiedMs, etag: o.etag })),
    truncated: listed.isTruncated,
  };
}

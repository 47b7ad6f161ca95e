import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import type { ServerOptions } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { newRequestId, randomHex, type Logger } from '../../common/index.js';
import type { S3Action } from '../access/index.js';
import { authenticate, sessionAuth, type AuthRequest, type AuthResult } from '../auth/index.js';
import { parseTarget, renderXml, S3Error, toS3Error, type S3Target } from '../s3/index.js';
import { startAccessLog, type AccessLogSettings } from './access-logging.js';
import { answerPreflight, applyCors } from './cors-headers.js';
import { UNKNOWN_OPERATION, type GatewayMetrics } from './gateway-metrics.js';
import { authorize } from './authorize.js';
import { signatureRules } from './signature-rules.js';
import type { GatewayDeps, Handler } from './request-context.js';
import type { ByteBudget } from './byte-budget.js';
import type { AccessDeps, SignatureSettings } from './auth-deps.js';
import { holdTurn, type RequestGate } from './request-gate.js';
import type { SlowClientLimits } from './slow-body.js';
import { cutStalledClients } from './stalled-clients.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The S3 operation of a request that reached the S3 route ('' for others: health, metrics, preflights). */
    s3Operation: string;
    /** The socket's bytes written when the S3 route took the request: what the response wrote is the difference at the end. */
    socketWrittenAtStart: number;
    /** For the access log: the request's bucket and key, and the access key that signed it. */
    s3Target: S3Target | null;
    s3User: string | undefined;
    /** For the access log: the requester's canonical id (undefined: anonymous or not known yet), and the S3 error answered. */
    s3Requester: string | undefined;
    s3ErrorCode: string | undefined;
    /**
     * Set by the console for a request its session cookie vouches for (console-route.ts): the access key
     * the request acts as, with no signature of its own. Undefined for every other request.
     */
    sessionUser: string | undefined;
  }
}

/**
 * Picks the operation a request asks for and the handler that serves it: the operation table
 * (src/gateway/operations.ts), passed in so that the HTTP layer never imports a handler.
 */
export type OperationRouter = (
  method: string,
  target: S3Target,
  headers: Readonly<Record<string, string | string[] | undefined>>,
) => { name: string; handler: Handler; action: S3Action; versionedAction?: S3Action | undefined; authorizedByHandler?: boolean | undefined };

/** How the S3 HTTP layer is set up. */
export interface S3AppOptions {
  services: GatewayDeps;
  route: OperationRouter;
  /** Base domain for virtual-hosted-style addressing (`bucket.<baseDomain>`); path style always works. */
  baseDomain?: string | undefined;
  /** PEM private key and certificate chain: serve HTTPS instead of HTTP. */
  https?: { key: Buffer; cert: Buffer } | undefined;
  /** Where request figures go; without it nothing is counted. */
  metrics?: GatewayMetrics | undefined;
  /** Log one info line per S3 request (the access log). */
  accessLog?: boolean | undefined;
  /** S3 server access logging of buckets that have it on (docs/access-logs.md); without it, no bucket's requests are logged. */
  serverAccessLogs?: AccessLogSettings | undefined;
  /** Bounds the requests served at once and queued (request-gate.ts); without it, every request starts at once. */
  gate?: RequestGate | undefined;
  /**
   * Slow clients are cut off: request headers must arrive within `windowMs`, and a body must bring
   * `minBytes` per window (slow-body.ts). Without it, Node's defaults apply (headers within 60 s).
   */
  slowClients?: SlowClientLimits | undefined;
  /** A connection whose client takes none of the response for this long is closed (stalled-clients.ts); without it, a response waits for ever. */
  responseStallTimeoutMs?: number | undefined;
  /** Caps the small request bodies (XML documents) held in memory at once, gateway-wide. */
  bodyBudget?: ByteBudget | undefined;
}

/** Builds the Fastify app that speaks S3: one catch-all route, dispatched through the operation table. */
export function createS3App(options: S3AppOptions): FastifyInstance {
  const hostId = randomHex(16);
  const app = createFastify(options, hostId);
  watchConnections(app, options);
  const contentTypes = acceptAnyBody(app, hostId);
  recordRequests(app, options);
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply, options.metrics));
  app.setNotFoundHandler((request, reply) => sendError(new S3Error('MethodNotAllowed'), request, reply, options.metrics));
  addPreflightRoute(app, options);
  addS3Route(app, options, contentTypes);
  return app;
}

/** The Fastify instance with Tessera's settings: request ids, no request logging, S3's errors for what the router and parser refuse. */
function createFastify(options: S3AppOptions, hostId: string): FastifyInstance {
  const { services } = options;
  return Fastify({
    loggerInstance: services.logger as FastifyBaseLogger,
    genReqId: () => newRequestId(),
    // Per-request lines are logged by Tessera itself, at debug, with the S3 request id.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 4096 },
    // A path the router cannot decode (percent-encoding that is not UTF-8) gets S3's error, not Fastify's JSON.
    frameworkErrors: (err, request, reply) => {
      const s3Error = err.code === 'FST_ERR_BAD_URL' ? new S3Error('InvalidURI') : err;
      reply.header('x-amz-request-id', request.id);
      sendError(s3Error, request, reply, options.metrics);
    },
    ...serverOptions(options),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, services.logger, hostId),
  }) as FastifyInstance;
}

/** How the server treats `Expect` headers, and (when configured) the cutting of clients that stop reading. */
function watchConnections(app: FastifyInstance, options: S3AppOptions): void {
  // Node answers `Expect: 100-continue` by itself unless asked not to. Tessera answers it only once
  // the request is authenticated and about to read its body (see request-body.ts), so a refused
  // upload gets its error without sending the body first.
  app.server.on('checkContinue', (request, response) => app.server.emit('request', request, response));
  // Any other Expect value Node would refuse with 417; S3 ignores it, so the request is served as usual.
  app.server.on('checkExpectation', (request, response) => app.server.emit('request', request, response));
  if (options.responseStallTimeoutMs !== undefined) {
    const stopCutting = cutStalledClients(app.server, options.https === undefined ? 'connection' : 'secureConnection', {
      timeoutMs: options.responseStallTimeoutMs,
      onCut: (socket) => {
        options.metrics?.stalledClient();
        options.services.logger.debug({ remoteAddress: socket.remoteAddress, pendingBytes: socket.writableLength }, 'connection closed: its client stopped reading');
      },
    });
    app.addHook('onClose', (_instance, done) => {
      stopCutting();
      done();
    });
  }
}

/**
 * Lets every body through unparsed, whatever its Content-Type, and sets the headers every response
 * carries. Returns where each request's Content-Type waits for the S3 route to put it back.
 */
function acceptAnyBody(app: FastifyInstance, hostId: string): WeakMap<object, string> {
  app.removeAllContentTypeParsers();
  // Bodies are streamed by the handlers (through the SigV4 body decoder), never parsed by Fastify.
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  // S3 takes any Content-Type, empty or not a media type at all; Fastify refuses such a body with 415
  // before a route runs. The header is set aside here and put back for the handler (and SigV4).
  const contentTypes = new WeakMap<object, string>();
  app.addHook('onRequest', async (request, reply) => {
    const contentType = request.raw.headers['content-type'];
    if (contentType !== undefined) {
      contentTypes.set(request.raw, contentType);
      delete request.raw.headers['content-type'];
    }
    reply.header('x-amz-request-id', request.id);
    reply.header('x-amz-id-2', hostId);
    reply.header('server', 'Tessera');
  });
  return contentTypes;
}

/** Declares the per-request S3 fields and, with metrics or the access log, records each S3 request once it is answered. */
function recordRequests(app: FastifyInstance, options: S3AppOptions): void {
  const { metrics } = options;
  const accessLog = options.accessLog === true;
  app.decorateRequest('s3Operation', '');
  app.decorateRequest('socketWrittenAtStart', 0);
  app.decorateRequest('s3Target', null);
  app.decorateRequest('s3User', undefined);
  app.decorateRequest('s3Requester', undefined);
  app.decorateRequest('s3ErrorCode', undefined);
  app.decorateRequest('sessionUser', undefined);
  if (metrics !== undefined || accessLog) {
    // A callback hook, not an async one: no promise per request.
    app.addHook('onResponse', (request, reply, done) => {
      if (request.s3Operation === '') return done();
      // The socket reads ahead of the route (a small body is in before the handler runs): the body's declared
      // size is the honest figure in. Out, the socket's counter covers headers and body.
      const receivedBytes = requestBodyBytes(request);
      const sentBytes = request.raw.socket.bytesWritten - request.socketWrittenAtStart;
      metrics?.requestDone(request.s3Operation, reply.statusCode, reply.elapsedTime / 1000, receivedBytes, sentBytes);
      if (accessLog) logAccess(request, reply, receivedBytes, sentBytes);
      done();
    });
  }
}

/** CORS preflights are unauthenticated in S3: a browser sends no credentials with them. */
function addPreflightRoute(app: FastifyInstance, options: S3AppOptions): void {
  const { services, gate } = options;
  app.route({
    method: 'OPTIONS',
    url: '/*',
    handler: async (request, reply) => {
      const target = parseTarget(request.raw.url ?? '/', request.headers.host, options.baseDomain);
      const bucket = target.bucket;
      if (bucket === undefined) throw new S3Error('BadRequest', { message: 'A CORS preflight names a bucket.' });
      // Unauthenticated and reaching the nodes for the bucket's CORS rules: it waits its turn like any request.
      if (gate !== undefined) await holdTurn(gate, reply.raw);
      const signal = AbortSignal.timeout(services.metadataTimeoutMs);
      await answerPreflight(reply, request.headers, (s) => services.buckets.require(bucket, s, { anonymous: true }), signal, target.key === undefined ? 'BUCKET' : 'OBJECT');
      return reply;
    },
  });
}

/** The S3 route: authenticates, picks the operation, waits its turn, authorises, applies CORS and runs the handler. */
function addS3Route(app: FastifyInstance, options: S3AppOptions, contentTypes: WeakMap<object, string>): void {
  const { services, gate, metrics } = options;
  app.route({
    method: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'],
    url: '/*',
    handler: async (request, reply) => {
      const contentType = contentTypes.get(request.raw);
      if (contentType !== undefined) request.raw.headers['content-type'] = contentType;
      const rawUrl = request.raw.url ?? '/';
      request.s3Operation = UNKNOWN_OPERATION;
      request.socketWrittenAtStart = request.raw.socket.bytesWritten;
      metrics?.requestStarted();
      let ended = false;
      const onClose = (): void => {
        if (!reply.raw.writableFinished) disconnect.abort(new Error('client disconnected'));
        if (!ended) {
          ended = true;
          metrics?.requestEnded();
        }
      };
      const disconnect = new AbortController();
      reply.raw.once('close', onClose);
      const target = parseTarget(rawUrl, request.headers.host, options.baseDomain);
      request.s3Target = target;
      if (options.serverAccessLogs !== undefined) await startAccessLog(request, reply, { target, services, signal: disconnect.signal }, options.serverAccessLogs);
      const authRequest = { method: request.method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers: signedHeadersOf(request), hostBucket: target.virtualHosted ? target.bucket : undefined };
      // A console request is its session's user's, then everything below is as for a signed request.
      const auth = request.sessionUser !== undefined ? sessionAuth(authRequest, request.sessionUser) : await authenticateRequest(authRequest, services);
      request.s3User = auth.anonymous ? undefined : auth.accessKeyId;
      const principal = auth.anonymous ? ({ kind: 'anonymous' } as const) : services.users.lookup(auth.accessKeyId)?.principal;
      if (principal === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: auth.accessKeyId } });
      request.s3Requester = principal.kind === 'anonymous' ? undefined : principal.canonicalId;
      const operation = options.route(request.method, target, request.headers);
      request.s3Operation = operation.name;
      // Every shard request of this S3 request listens on this signal: n of them, or more on retries.
      setMaxListeners(0, disconnect.signal);
      request.log.debug({ operation: operation.name, bucket: target.bucket, key: target.key }, 'request');
      if (gate !== undefined) await holdTurn(gate, reply.raw, disconnect.signal);
      const startedMs = performance.now();
      try {
        const scope = { request, reply, target, auth, signal: disconnect.signal, startedMs, services, slowClients: options.slowClients, bodyBudget: options.bodyBudget };
        const action = operation.versionedAction !== undefined && target.query.has('versionId') ? operation.versionedAction : operation.action;
        // An operation that authorises in its handler (POST upload) starts as the request's sender and nothing more.
        const access =
          operation.authorizedByHandler === true
            ? { principal, action, objectPermission: undefined, facts: new Map<string, string | string[]>() }
            : await authorize(scope, principal, action);
        const ctx = { ...scope, access };
        await applyCors(ctx);
        await operation.handler(ctx);
      } finally {
        if (reply.raw.writableFinished) {
          reply.raw.off('close', onClose);
          if (!ended) {
            ended = true;
            metrics?.requestEnded();
          }
        }
      }
      return reply;
    },
  });
}

/**
 * A request Node's HTTP parser gave up on (the client closed before sending the Content-Length it
 * announced, a malformed request): S3's XML error with a request id that is also logged, then the
 * connection closes. Fastify would answer JSON.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, logger: Logger, hostId: string): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const requestId = newRequestId();
  const error =
    err.code === 'HPE_INVALID_EOF_STATE'
      ? new S3Error('IncompleteBody')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new S3Error('RequestHeaderSectionTooLarge')
        : new S3Error('BadRequest', { message: err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'The request was not received in time.' : 'The request could not be parsed.' });
  logger.debug({ reqId: requestId, code: error.code, parserError: err.code }, 'request refused by the HTTP parser');
  if (socket.writable) {
    const body = renderXml('Error', { Code: error.code, Message: error.message, RequestId: requestId, HostId: hostId }, { namespace: false });
    const head = [
      `HTTP/1.1 ${error.status} ${error.status === 400 ? 'Bad Request' : 'Error'}`,
      'Content-Type: application/xml',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `x-amz-request-id: ${requestId}`,
      `x-amz-id-2: ${hostId}`,
      'Connection: close',
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    return;
  }
  socket.destroy();
}

/**
 * Node's server settings for slow clients: headers must be complete within the window (checked at a
 * quarter of it), and nothing bounds a whole request's duration (a large upload may take hours).
 */
function serverOptions(options: S3AppOptions): { http?: ServerOptions; https?: HttpsServerOptions } {
  const slow =
    options.slowClients === undefined
      ? {}
      : { headersTimeout: options.slowClients.windowMs, requestTimeout: 0, connectionsCheckingInterval: Math.max(100, Math.min(options.slowClients.windowMs / 4, 5_000)) };
  return options.https === undefined ? { http: slow } : { https: { ...options.https, ...slow } };
}

/**
 * The request's headers as the signature covers them. A header sent on several lines keeps each
 * line's value, for SigV4 and SigV2 both join them with a bare ',' in the order sent; node's
 * `headers` joins them with ', ', or keeps only the first line of some (content-type, user-agent).
 */
export function signedHeadersOf(request: FastifyRequest): AuthRequest['headers'] {
  const { raw } = request;
  // As many names as lines: nothing repeated, the usual case, and no copy.
  if (raw.rawHeaders.length / 2 === Object.keys(raw.headers).length) return request.headers;
  const headers: Record<string, string | string[] | undefined> = { ...request.headers };
  for (const [name, values] of Object.entries(raw.headersDistinct)) {
    if (values !== undefined && values.length > 1) headers[name] = values;
  }
  return headers;
}

/**
 * Verifies the request's signature against the cluster's keys. A key the gateway does not know yet
 * (a user added a moment ago through another gateway or the admin command) makes it re-read the
 * users once before the request is refused.
 */
export async function authenticateRequest(req: AuthRequest, services: SignatureSettings & Pick<AccessDeps, 'users' | 'clock'>): Promise<AuthResult> {
  const credentials = { secretKeyFor: (accessKeyId: string) => services.users.lookup(accessKeyId)?.secretAccessKey };
  const rules = signatureRules(services);
  try {
    return authenticate(req, credentials, { nowMs: services.clock.nowMs(), ...rules });
  } catch (err) {
    if (!(err instanceof S3Error && err.code === 'InvalidAccessKeyId')) throw err;
    await services.users.refreshSoon();
    return authenticate(req, credentials, { nowMs: services.clock.nowMs(), ...rules });
  }
}

const KEPT_ON_ERROR = new Set(['x-amz-request-id', 'x-amz-id-2', 'server', 'vary']);

/** The size of a request's body: its decoded length (aws-chunked uploads), else its Content-Length, else 0. */
function requestBodyBytes(request: FastifyRequest): number {
  const declared = request.headers['x-amz-decoded-content-length'] ?? request.headers['content-length'];
  const bytes = typeof declared === 'string' ? Number(declared) : 0;
  return Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
}

/** One access-log line: who asked for what and how it went; never a signature or a secret. */
function logAccess(request: FastifyRequest, reply: FastifyReply, receivedBytes: number, sentBytes: number): void {
  const target = request.s3Target;
  request.log.info(
    {
      user: request.s3User,
      operation: request.s3Operation,
      bucket: target?.bucket,
      key: target?.key,
      status: reply.statusCode,
      receivedBytes,
      sentBytes,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    },
    'access',
  );
}

function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply, metrics: GatewayMetrics | undefined): FastifyReply {
  const error = toS3Error(err);
  request.s3ErrorCode = error.code;
  if (error.code === 'ServiceUnavailable') metrics?.quorumFailure();
  error.resource = request.raw.url?.split('?')[0] ?? '/';
  if (error.code === 'InternalError' || error.status >= 500) {
    request.log.error({ err, code: error.code }, 'request failed');
  } else {
    request.log.debug({ code: error.code, message: error.message }, 'request refused');
  }
  if (reply.sent || reply.raw.headersSent) {
    // Part of a body is out: the only honest signal left is to cut the connection.
    reply.raw.destroy(error);
    return reply;
  }
  // Headers a handler set before failing describe a response that is not being sent.
  for (const name of Object.keys(reply.getHeaders())) {
    // CORS headers stay: a browser can read an error only when they are there.
    if (!KEPT_ON_ERROR.has(name) && !name.startsWith('access-control-')) reply.removeHeader(name);
  }
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  reply.status(error.status);
  // A request whose body was not read must not leave it on a keep-alive connection.
  if (!request.raw.complete) reply.header('connection', 'close');
  if (request.method === 'HEAD' || error.status === 304) return reply.send();
  const body = renderXml(
    'Error',
    { Code: error.code, Message: error.message, ...error.fields, Resource: error.resource, RequestId: request.id, HostId: reply.getHeader('x-amz-id-2') },
    { namespace: false },
  );
  return reply.type('application/xml').send(body);
}

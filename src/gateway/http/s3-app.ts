import { setMaxListeners } from 'node:events';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { newRequestId, randomHex } from '../../common/index.js';
import type { S3Action } from '../access/index.js';
import { authenticate, type AuthRequest, type AuthResult } from '../auth/index.js';
import type { GatewayServices } from '../data-path/index.js';
import { parseTarget, renderXml, S3Error, toS3Error, type S3Target } from '../s3/index.js';
import { answerPreflight, applyCors } from './cors-headers.js';
import { authorize } from './authorize.js';
import type { Handler } from './request-context.js';

/**
 * Picks the operation a request asks for and the handler that serves it: the operation table
 * (src/gateway/operations.ts), passed in so that the HTTP layer never imports a handler.
 */
export type OperationRouter = (
  method: string,
  target: S3Target,
  headers: Readonly<Record<string, string | string[] | undefined>>,
) => { name: string; handler: Handler; action: S3Action };

/** How the S3 HTTP layer is set up. */
export interface S3AppOptions {
  services: GatewayServices;
  route: OperationRouter;
  /** Base domain for virtual-hosted-style addressing (`bucket.<baseDomain>`); path style always works. */
  baseDomain?: string | undefined;
  /** PEM private key and certificate chain: serve HTTPS instead of HTTP. */
  https?: { key: Buffer; cert: Buffer } | undefined;
}

/** Builds the Fastify app that speaks S3: one catch-all route, dispatched through the operation table. */
export function createS3App(options: S3AppOptions): FastifyInstance {
  const { services } = options;
  const hostId = randomHex(16);
  const app = Fastify({
    loggerInstance: services.logger as FastifyBaseLogger,
    genReqId: () => newRequestId(),
    // Per-request lines are logged by Tessera itself, at debug, with the S3 request id.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 4096 },
    ...(options.https === undefined ? {} : { https: options.https }),
  }) as FastifyInstance;
  // Node answers `Expect: 100-continue` by itself unless asked not to. Tessera answers it only once
  // the request is authenticated and about to read its body (see request-body.ts), so a refused
  // upload gets its error without sending the body first.
  app.server.on('checkContinue', (request, response) => app.server.emit('request', request, response));
  app.removeAllContentTypeParsers();
  // Bodies are streamed by the handlers (through the SigV4 body decoder), never parsed by Fastify.
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-amz-request-id', request.id);
    reply.header('x-amz-id-2', hostId);
    reply.header('server', 'Tessera');
  });

  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(new S3Error('MethodNotAllowed'), request, reply));

  // CORS preflights are unauthenticated in S3: a browser sends no credentials with them.
  app.route({
    method: 'OPTIONS',
    url: '/*',
    handler: async (request, reply) => {
      const target = parseTarget(request.raw.url ?? '/', request.headers.host, options.baseDomain);
      const bucket = target.bucket;
      if (bucket === undefined) throw new S3Error('BadRequest', { message: 'A CORS preflight names a bucket.' });
      const signal = AbortSignal.timeout(services.metadataTimeoutMs);
      await answerPreflight(reply, request.headers, (s) => services.buckets.require(bucket, s), signal);
      return reply;
    },
  });

  app.route({
    method: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'],
    url: '/*',
    handler: async (request, reply) => {
      const rawUrl = request.raw.url ?? '/';
      const target = parseTarget(rawUrl, request.headers.host, options.baseDomain);
      const auth = await authenticateRequest(
        { method: request.method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers: request.headers },
        services,
      );
      const principal = auth.anonymous ? ({ kind: 'anonymous' } as const) : services.users.lookup(auth.accessKeyId)?.principal;
      if (principal === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: auth.accessKeyId } });
      const operation = options.route(request.method, target, request.headers);
      const disconnect = new AbortController();
      // Every shard request of this S3 request listens on this signal: n of them, or more on retries.
      setMaxListeners(0, disconnect.signal);
      const onClose = (): void => {
        if (!reply.raw.writableFinished) disconnect.abort(new Error('client disconnected'));
      };
      reply.raw.once('close', onClose);
      request.log.debug({ operation: operation.name, bucket: target.bucket, key: target.key }, 'request');
      try {
        const scope = { request, reply, target, auth, signal: disconnect.signal, services };
        const ctx = { ...scope, access: await authorize(scope, principal, operation.action) };
        await applyCors(ctx);
        await operation.handler(ctx);
      } finally {
        if (reply.raw.writableFinished) reply.raw.off('close', onClose);
      }
      return reply;
    },
  });
  return app;
}

/**
 * Verifies the request's signature against the cluster's keys. A key the gateway does not know yet
 * (a user added a moment ago through another gateway or the admin command) makes it re-read the
 * users once before the request is refused.
 */
async function authenticateRequest(req: AuthRequest, services: S3AppOptions['services']): Promise<AuthResult> {
  const credentials = { secretKeyFor: (accessKeyId: string) => services.users.lookup(accessKeyId)?.secretAccessKey };
  try {
    return authenticate(req, credentials, { nowMs: services.clock.nowMs() });
  } catch (err) {
    if (!(err instanceof S3Error && err.code === 'InvalidAccessKeyId')) throw err;
    await services.users.refreshSoon();
    return authenticate(req, credentials, { nowMs: services.clock.nowMs() });
  }
}

const KEPT_ON_ERROR = new Set(['x-amz-request-id', 'x-amz-id-2', 'server', 'vary']);

function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const error = toS3Error(err);
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

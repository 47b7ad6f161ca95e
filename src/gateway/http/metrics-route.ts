import type { FastifyInstance } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE, bearerAllowed } from '../../common/index.js';
import { parseTarget } from '../s3/index.js';

/** Where the gateway answers Prometheus: `/metrics`, and `/-/metrics`, which no S3 bucket can shadow. */
export const GATEWAY_METRICS_PATHS = ['/metrics', '/-/metrics'] as const;

/**
 * Answers `GET /metrics` before S3 routing. `/metrics` is also the path-style address of a bucket
 * named "metrics", so a request carrying an S3 signature (an `AWS4-HMAC-SHA256` Authorization header or
 * a presigned query) is left to S3; an unsigned one, or one with a bearer token, gets the figures. In
 * virtual-hosted style the path is an object key and S3 keeps it. `/-/metrics` is never S3's.
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  options: { baseDomain: string | undefined; token: string | undefined; text: () => Promise<string> },
): void {
  app.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '';
    if ((url !== '/metrics' && url !== '/-/metrics') || (request.method !== 'GET' && request.method !== 'HEAD')) return;
    const authorization = request.headers.authorization;
    if (url === '/metrics') {
      if (authorization !== undefined && !authorization.startsWith('Bearer ')) return;
      if (parseTarget(url, request.headers.host, options.baseDomain).bucket !== 'metrics') return;
    }
    reply.header('cache-control', 'no-store');
    if (!bearerAllowed(authorization, options.token)) {
      reply.code(401).header('www-authenticate', 'Bearer realm="tessera metrics"').type('text/plain').send('a bearer token is required\n');
      return reply;
    }
    const text = await options.text();
    reply.code(200).type(PROMETHEUS_CONTENT_TYPE).send(request.method === 'HEAD' ? undefined : text);
    return reply;
  });
}

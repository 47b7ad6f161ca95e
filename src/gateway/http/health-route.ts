import type { FastifyInstance } from 'fastify';
import { parseTarget } from '../s3/index.js';

/**
 * The gateway's own health endpoints. In path style they address bucket "-", which no S3 bucket can
 * be (names start with a letter or digit), so they never shadow an S3 request; in virtual-hosted
 * style (`Host: bucket.<baseDomain>`) the same path is an object key and is left to S3.
 */
export const GATEWAY_HEALTH_PATHS = {
  /** 200 while the process serves HTTP: for liveness probes. */
  live: '/-/health/live',
  /** 200 when the gateway holds a ring and its last ring poll reached a node; else 503: for readiness probes and load balancers. */
  ready: '/-/health/ready',
} as const;

/** What the health endpoints report. */
export interface GatewayHealth {
  ready: boolean;
  ringEpoch: number;
  ringNodes: number;
  /** Nodes the last ring poll asked and reached (gateways started from seeds). */
  ringPoll?: { asked: number; answered: number; atMs: number } | undefined;
}

/**
 * Answers GET/HEAD on GATEWAY_HEALTH_PATHS before S3 routing and authentication: an onRequest hook
 * rather than a route, so a virtual-hosted request for the same path still reaches the S3 handler.
 */
export function registerHealthRoutes(app: FastifyInstance, options: { baseDomain: string | undefined; health: () => GatewayHealth }): void {
  app.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '';
    if (url !== GATEWAY_HEALTH_PATHS.live && url !== GATEWAY_HEALTH_PATHS.ready) return;
    if (request.method !== 'GET' && request.method !== 'HEAD') return;
    if (parseTarget(url, request.headers.host, options.baseDomain).bucket !== '-') return;
    const health = options.health();
    const ok = url === GATEWAY_HEALTH_PATHS.live || health.ready;
    reply.code(ok ? 200 : 503).header('cache-control', 'no-store').type('application/json');
    reply.send(request.method === 'HEAD' ? undefined : { status: ok ? 'ok' : 'unavailable', ...health });
    return reply;
  });
}

import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import { join } from 'node:path';
import type { Logger } from '../common/index.js';
import { NODE_HEADER, WIRE_ERROR_STATUS, WireError, checkFor, verifyRequestSignature, type LinkService, type NodeHealth } from '../rpc/index.js';
import { NodeMetrics } from './node-metrics.js';
import { erasureOf, shardRef } from './node-server/query-params.js';
import { MAX_JSON_BODY_BYTES, NodeCalls } from './node-server/node-calls.js';
import { nodeHealth } from './node-server/node-health.js';
import type { NodeRoute, NodeRouteContext } from './node-server/node-route.js';
import { NODE_ROUTES } from './node-server/node-routes.js';
import { readJson } from './node-server/read-json.js';
import { prepended } from './node-server/prepended.js';
import { wireAnswerOf } from './node-server/wire-answer.js';
import type { PreparedResolver } from './prepared-resolver.js';
import type { RingStore } from './ring-store.js';
import type { ShardStore } from './shard-store.js';
import type { ForegroundActivity } from './workers/foreground.js';
import type { HealingControl } from './workers/healing-routes.js';

export { NODE_METRICS_PATH } from './node-server/node-routes.js';

/** Construction parameters of a storage node's HTTP server. */
export interface NodeServerOptions {
  nodeId: string;
  store: ShardStore;
  rings: RingStore;
  /** Reported in health when present. */
  resolver?: PreparedResolver;
  /** Background work behind the admin routes; partition digests and listings are served either way. */
  healing?: HealingControl;
  /** Called when a PUT /v1/ring adopted a newer ring. */
  onRingAdopted?: () => void;
  clusterSecret: string;
  logger: Logger;
  clock?: () => number;
  /** The node's data directory, for the LevelDB size in metrics (left out without it). */
  dataDir?: string | undefined;
  /** Bearer token GET /metrics requires; without one it is open. */
  metricsToken?: string | undefined;
  /** Told of every client-path request (the route table's foreground rows) while it is served, so background work gives way. */
  foreground?: ForegroundActivity | undefined;
}

/** The route table's row a request was routed to; undefined for one no route answers. */
function routeOf(request: FastifyRequest): NodeRoute | undefined {
  return (request.routeOptions.config as { nodeRoute?: NodeRoute }).nodeRoute;
}

/** The storage node's side of the node protocol: authenticates every request, then serves the shard store. */
export class NodeServer {
  private readonly app: FastifyInstance;
  private readonly options: NodeServerOptions;
  private readonly clock: () => number;
  /** The node's Prometheus figures. */
  readonly metrics: NodeMetrics;
  /** What the node does for a call, by route, batch or in-process link. */
  private readonly calls: NodeCalls;

  constructor(options: NodeServerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    const healing = options.healing;
    this.metrics = new NodeMetrics({
      nodeId: options.nodeId,
      health: () => this.health(),
      workStatus: healing === undefined ? undefined : () => healing.workStatus(),
      countKeys: () => options.store.countKeys(),
      metadataDir: options.dataDir === undefined ? undefined : join(options.dataDir, 'meta'),
      digests: () => this.calls.digestFigures(),
    });
    this.calls = new NodeCalls({ store: options.store, clock: this.clock, logger: options.logger, foreground: options.foreground });
    this.app = Fastify({
      loggerInstance: options.logger as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
      keepAliveTimeout: 60_000,
      // Closing cuts the connections still open, requests in flight included: a peer's upload whose
      // source stalled would otherwise hold a stopping node forever. What it cuts is a failed request
      // to its sender, and an interrupted shard write leaves nothing visible.
      forceCloseConnections: true,
    });
    this.app.removeAllContentTypeParsers();
    // Shard bodies stream to disk from their handler. A route with a body schema takes JSON: read here,
    // checked against its signed hash before it is parsed, then validated against the schema.
    this.app.addContentTypeParser('*', (request, payload, done) => {
      if (request.routeOptions.schema?.body === undefined) return done(null);
      const route = routeOf(request);
      readJson(request, payload, { limitBytes: route?.bodyLimitBytes ?? MAX_JSON_BODY_BYTES, gzip: route?.gzipBody === true }).then((body) => done(null, body), (err: Error) => done(err));
    });
    this.app.setValidatorCompiler(({ schema }) => {
      const check = checkFor(schema as TSchema);
      return (data: unknown) => {
        const problem = check.problem(data);
        return problem === null ? { value: data } : { error: new WireError('BadRequest', problem) };
      };
    });
    const { foreground } = options;
    if (foreground !== undefined) {
      this.app.addHook('onRequest', async (request, reply) => {
        if (routeOf(request)?.foreground !== true) return;
        // 'close' comes once for every response, sent or cut off.
        reply.raw.once('close', foreground.begin());
      });
    }
    this.app.addHook('onRequest', async (request) => this.authenticate(request));
    this.app.setErrorHandler((err, request, reply) => this.sendError(err, request, reply));
    this.registerRoutes();
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('node server has no TCP address');
    return { host: address.address, port: address.port };
  }

  /** Stops accepting requests and closes idle connections. */
  async close(): Promise<void> {
    await this.app.close();
  }

  private async authenticate(request: FastifyRequest): Promise<void> {
    const route = routeOf(request);
    // A route's exception holds for its bare path: with a query string, a request is signed for this node.
    const auth = route !== undefined && request.url === route.path ? (route.auth ?? 'node') : 'node';
    // Prometheus cannot sign with the cluster secret: the metrics route checks its own bearer token.
    if (auth === 'open' || auth === 'bearer') return;
    const problem = verifyRequestSignature(
      this.options.clusterSecret,
      request.method,
      request.url,
      // Every value of a repeated header apart: a signed header must come once.
      request.raw.headersDistinct,
      this.clock(),
      { nodeId: this.options.nodeId, anyNode: auth === 'any-node' },
    );
    if (problem === 'other-node') {
      throw new WireError('Unauthorized', `request signed for node ${String(request.headers[NODE_HEADER])}; this is node ${this.options.nodeId} (a node's id must be the ring's id for it)`);
    }
    if (problem !== null) throw new WireError('Unauthorized', `request signature ${problem}`);
  }

  /** Registers every row of the route table, each handed what it may use of this node. */
  private registerRoutes(): void {
    const { store, rings, healing, foreground, metricsToken, onRingAdopted } = this.options;
    const context: NodeRouteContext = {
      store,
      rings,
      calls: this.calls,
      healing,
      foreground,
      metricsToken,
      onRingAdopted: () => onRingAdopted?.(),
      health: () => this.health(),
      metricsText: () => this.metrics.text(),
    };
    for (const route of NODE_ROUTES) {
      this.app.route({
        method: route.method,
        url: route.path,
        config: { nodeRoute: route },
        ...(route.body === undefined ? {} : { schema: { body: route.body } }),
        handler: async (request, reply) => route.handler(context, request, reply),
      });
    }
  }

  /** The node's health report: GET /health, and the source of the health figures in metrics. */
  private health(): Promise<NodeHealth> {
    return nodeHealth(this.options);
  }

  /**
   * What this node serves over an in-process link (local-link.ts): its batch route and its shard
   * reads and uploads, checked, limited and counted as client traffic as their routes are. The link is the node's
   * own, handed over by the code that started it, so there is no signature to check.
   */
  linkService(): LinkService {
    const { foreground, logger } = this.options;
    return {
      batch: (text, signal) => this.calls.serveLocalBatch(text, signal),
      read: async (queryText) => {
        const end = foreground?.begin() ?? (() => undefined);
        try {
          // The link copies each chunk before it asks for the next and keeps none, so the pooled buffers
          // need no references of their own, and a direct read's chunks may be views of its buffer.
          const { sizeBytes, first, chunks } = await this.calls.openRead(Object.fromEntries(new URLSearchParams(queryText)), { transient: true });
          return { sizeBytes, chunks: first === undefined ? chunks : prepended(first, chunks), end };
        } catch (err) {
          end();
          throw err;
        }
      },
      upload: async (queryText, body, signal) => {
        const end = foreground?.begin() ?? (() => undefined);
        try {
          const query = Object.fromEntries(new URLSearchParams(queryText));
          return JSON.stringify(await this.calls.prepareFrom(shardRef(query), erasureOf(query), query, body, signal));
        } finally {
          end();
        }
      },
      refusal: wireAnswerOf,
      readFailed: (err) => logger.warn({ err }, 'shard read failed after its size was sent'),
    };
  }

  private sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const { code, message } = wireAnswerOf(err);
    if (code === 'Internal') request.log.error({ err }, 'node request failed');
    else request.log.debug({ err, code }, 'node request refused');
    // A refused request may still be sending its body: close the connection rather than read it.
    if (code === 'Unauthorized' || code === 'InsufficientStorage') reply.header('connection', 'close');
    // A shard read that fails before its first byte has already set an octet-stream type: errors are JSON.
    return reply.status(WIRE_ERROR_STATUS[code]).type('application/json').send({ code, message });
  }
}

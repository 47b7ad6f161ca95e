import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';
import type { NodeHealth } from '../../rpc/index.js';
import type { RingStore } from '../ring-store.js';
import type { ShardStore } from '../shard-store.js';
import type { ForegroundActivity } from '../workers/foreground.js';
import type { HealingControl } from '../workers/healing-routes.js';
import type { NodeCalls } from './node-calls.js';

/**
 * How a route's requests are authenticated. Every request is signed with the cluster secret for this
 * node unless its route says otherwise, and only a request for the route's bare path (no query string)
 * takes the route's exception.
 */
export type RouteAuth =
  /** Signed for this node: the default. */
  | 'node'
  /**
   * Signed for this node or for any node. Rings are one document for the whole cluster, read and
   * offered before the asker knows which node answers (a seed, an address given to ring push).
   */
  | 'any-node'
  /** Not signed: the route checks its own bearer token (Prometheus cannot sign with the cluster secret). */
  | 'bearer'
  /** Not signed and open to anyone. */
  | 'open';

/** What a route's handler may use of its node. */
export interface NodeRouteContext {
  readonly store: ShardStore;
  readonly rings: RingStore;
  readonly calls: NodeCalls;
  /** Background work behind the admin routes; absent on a node without it. */
  readonly healing: HealingControl | undefined;
  readonly foreground: ForegroundActivity | undefined;
  /** Bearer token GET /metrics requires; without one it is open. */
  readonly metricsToken: string | undefined;
  /** Told when a PUT /v1/ring adopted a newer ring. */
  onRingAdopted(): void;
  health(): Promise<NodeHealth>;
  metricsText(): Promise<string>;
}

/** One route of a storage node: the requests it answers, how they are let in, and the handler that serves them. */
export interface NodeRoute {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  /** How its requests are authenticated; 'node' when absent. */
  auth?: RouteAuth;
  /**
   * The schema of its JSON body: read whole (up to `bodyLimitBytes`), checked against its signed hash
   * before it is parsed, then validated. Without one the body is left to the handler (a shard streams to disk).
   */
  body?: TSchema;
  /** Largest JSON body it takes (inflated, when it came gzipped); MAX_JSON_BODY_BYTES when absent. */
  bodyLimitBytes?: number;
  /** Its JSON body may come gzipped (`Content-Encoding: gzip`): the signed hash is the gzip's. */
  gzipBody?: true;
  /** On the clients' data path: background work gives way while one of its requests is served (foreground.ts). */
  foreground?: true;
  handler: (node: NodeRouteContext, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** A route with a JSON body, its handler given the body as its schema types it. */
export function withBody<S extends TSchema>(
  route: Omit<NodeRoute, 'body' | 'handler'> & {
    body: S;
    handler: (node: NodeRouteContext, body: Static<S>, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  },
): NodeRoute {
  const { handler, ...rest } = route;
  return { ...rest, handler: (node, request, reply) => handler(node, request.body as Static<S>, request, reply) };
}

/** A request's query string, parsed. */
export function queryOf(request: FastifyRequest): Record<string, string | undefined> {
  return request.query as Record<string, string | undefined>;
}

/**
 * A signal that aborts when the request's client goes away before its answer is sent (the connection
 * closed under it), for work only that answer needs.
 */
export function callerGoneSignal(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort(new Error('the caller went away'));
  });
  return gone.signal;
}

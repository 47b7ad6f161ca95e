import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import { MAX_RING_DOCUMENT_BYTES, NODE_PATHS, WireError } from '../../rpc/index.js';
import { parseRing, serializeRing, type Ring } from '../../placement/index.js';
import type { RingStore } from '../ring-store.js';
import type { NodeRoute } from './node-route.js';

/** Whether the request's Accept-Encoding takes gzip (a client of this release always asks; one of an earlier release does not). */
function acceptsGzip(request: FastifyRequest): boolean {
  const accepted = request.headers['accept-encoding'];
  if (typeof accepted !== 'string') return false;
  return accepted.split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    if (coding !== 'gzip') return false;
    const weight = params.find((param) => param.startsWith('q='));
    return weight === undefined || Number(weight.slice(2)) > 0;
  });
}

/** A GET of a ring this node may hold: a 404 without one; gzipped to a client that accepts it. */
function ringRead(path: string, held: (rings: RingStore) => Ring | undefined, missing: string): NodeRoute {
  return {
    method: 'GET',
    path,
    auth: 'any-node',
    handler: async (node, request, reply) => {
      const ring = held(node.rings);
      if (ring === undefined) throw new WireError('NotFound', missing);
      reply.type('application/json').header('vary', 'accept-encoding');
      if (!acceptsGzip(request)) return reply.send(serializeRing(ring));
      return reply.header('content-encoding', 'gzip').send(await node.rings.gzippedDocument(ring));
    },
  };
}

/**
 * GET and PUT /v1/ring and GET of the previous ring: the cluster's one ring document, offered and read
 * by any node. The previous ring is what gateways that did not see the last change (started during a
 * rebalance, or skipping epochs) read from besides the current one: the keys the rebalance has not
 * moved yet are where it put them. A ring of thousands of nodes is tens of megabytes of JSON, so the
 * document may travel gzipped both ways (rpc/ring-document.ts).
 */
export const RING_ROUTES: readonly NodeRoute[] = [
  {
    method: 'PUT',
    path: NODE_PATHS.ring,
    auth: 'any-node',
    // Any JSON document: parseRing is the ring's own validator.
    body: Type.Unknown(),
    bodyLimitBytes: MAX_RING_DOCUMENT_BYTES,
    gzipBody: true,
    handler: async (node, request) => {
      let ring;
      try {
        ring = parseRing(request.body);
      } catch (err) {
        throw new WireError('BadRequest', `invalid ring: ${(err as Error).message}`);
      }
      const adopted = await node.rings.offer(ring);
      if (adopted) {
        request.log.info({ epoch: ring.epoch }, 'adopted a newer ring');
        node.onRingAdopted();
      }
      return { adopted, epoch: node.rings.current?.epoch ?? 0 };
    },
  },
  ringRead(NODE_PATHS.ring, (rings) => rings.current, 'this node holds no ring'),
  ringRead(NODE_PATHS.previousRing, (rings) => rings.previous, 'this node holds no previous ring'),
];

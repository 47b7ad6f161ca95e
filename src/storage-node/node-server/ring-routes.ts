import Type from 'typebox';
import { NODE_PATHS, WireError } from '../../rpc/index.js';
import { parseRing, serializeRing, type Ring } from '../../placement/index.js';
import type { RingStore } from '../ring-store.js';
import type { NodeRoute } from './node-route.js';

/** A GET of a ring this node may hold: a 404 without one. */
function ringRead(path: string, held: (rings: RingStore) => Ring | undefined, missing: string): NodeRoute {
  return {
    method: 'GET',
    path,
    auth: 'any-node',
    handler: async (node, _request, reply) => {
      const ring = held(node.rings);
      if (ring === undefined) throw new WireError('NotFound', missing);
      return reply.type('application/json').send(serializeRing(ring));
    },
  };
}

/**
 * GET and PUT /v1/ring and GET of the previous ring: the cluster's one ring document, offered and read
 * by any node. The previous ring is what gateways that did not see the last change (started during a
 * rebalance, or skipping epochs) read from besides the current one: the keys the rebalance has not
 * moved yet are where it put them.
 */
export const RING_ROUTES: readonly NodeRoute[] = [
  {
    method: 'PUT',
    path: NODE_PATHS.ring,
    auth: 'any-node',
    // Any JSON document: parseRing is the ring's own validator.
    body: Type.Unknown(),
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

import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { NODE_PATHS, WireError } from '../../rpc/index.js';
import { parseRing, serializeRing } from '../../placement/index.js';
import type { RingStore } from '../ring-store.js';

/** GET and PUT /v1/ring and GET of the previous ring: the cluster's one ring document, offered and read by any node. */
export function registerRingRoutes(app: FastifyInstance, rings: RingStore, onRingAdopted: (() => void) | undefined): void {
  // Any JSON document: parseRing is the ring's own validator.
  app.put(NODE_PATHS.ring, { schema: { body: Type.Unknown() } }, async (request) => {
    let ring;
    try {
      ring = parseRing(request.body);
    } catch (err) {
      throw new WireError('BadRequest', `invalid ring: ${(err as Error).message}`);
    }
    const adopted = await rings.offer(ring);
    if (adopted) {
      request.log.info({ epoch: ring.epoch }, 'adopted a newer ring');
      onRingAdopted?.();
    }
    return { adopted, epoch: rings.current?.epoch ?? 0 };
  });
  // The previous ring is what gateways that did not see the last change (started during a rebalance,
  // or skipping epochs) read from besides the current one: the keys the rebalance has not moved yet
  // are where it put them.
  const ringRoutes = [
    [NODE_PATHS.ring, () => rings.current, 'this node holds no ring'],
    [NODE_PATHS.previousRing, () => rings.previous, 'this node holds no previous ring'],
  ] as const;
  for (const [path, held, missing] of ringRoutes) {
    app.get(path, async (_request, reply) => {
      const ring = held();
      if (ring === undefined) throw new WireError('NotFound', missing);
      return reply.type('application/json').send(serializeRing(ring));
    });
  }
}

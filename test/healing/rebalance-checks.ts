import type { NodeWorkStatus } from '../../src/rpc/index.js';
import { RingLocator, type Ring } from '../../src/placement/index.js';
import { until, type HealingFleet, type HealingSlot } from './healing-fleet.js';
import type { ObjectSet } from './object-set.js';

/** What the rebalance tests ask of the rebalance figures, and how they wait for and check its end. */
const REBALANCE_TIMEOUT_MS = 180_000;

/** Node settings of the rebalance tests: a short settle time and quick retries. */
export const REBALANCE_NODE_ENV = { TESSERA_REBALANCE_SETTLE_MS: '2000', TESSERA_REBALANCE_INTERVAL_MS: '300' };

/** The rebalance figures of a node's status (HealingSnapshot['rebalance'] on the wire). */
export interface RebalanceFigures {
  epoch: number;
  done: boolean;
  scanned: number;
  moved: number;
  bytesMoved: number;
}

export function rebalanceOf(status: NodeWorkStatus): RebalanceFigures {
  return status.figures['rebalance'] as unknown as RebalanceFigures;
}

/** Waits until every given node has adopted `ring` and reports its rebalance done; returns the elapsed ms. */
export async function rebalanced(fleet: HealingFleet, slots: readonly HealingSlot[], ring: Ring): Promise<number> {
  return until(
    `rebalance to epoch ${ring.epoch}`,
    async () => {
      const statuses = await fleet.statuses(slots);
      return statuses.every((status) => status.ringEpoch === ring.epoch && rebalanceOf(status).epoch === ring.epoch && rebalanceOf(status).done);
    },
    REBALANCE_TIMEOUT_MS,
  );
}

/** Keys some running node outside the key's final set still holds a version of. */
export async function strays(objects: ObjectSet, ring: Ring, running: readonly HealingSlot[]): Promise<string[]> {
  const found: string[] = [];
  const locator = new RingLocator(ring);
  for (const key of objects.bodies.keys()) {
    const members = new Set(locator.locate(objects.bucket, key).nodes.map((node) => node.id));
    for (const slot of running) {
      if (members.has(slot.id)) continue;
      if ((await slot.client.objectStatus(objects.bucket, key)) !== null) found.push(`${key} on ${slot.id}`);
    }
  }
  return found;
}


import fc from 'fast-check';
import { slotTargets } from '../../src/placement/index.js';
import type { Ring, RingNode } from '../../src/placement/index.js';

/** A node with a predictable id and address. */
export function node(i: number, zone: string, weight = 1): RingNode {
  return { id: `node-${String(i).padStart(4, '0')}`, address: `10.0.${i >> 8}.${i & 0xff}:9100`, zone, weight };
}

/** `count` nodes dealt round-robin over `zones` zones. */
export function cluster(count: number, zones: number, weight: (i: number) => number = () => 1): RingNode[] {
  return Array.from({ length: count }, (_, i) => node(i, `zone-${i % zones}`, weight(i)));
}

/** Slots per node id. */
export function slotCounts(ring: Ring): Map<string, number> {
  const counts = new Map<string, number>(ring.nodes.map((n) => [n.id, 0]));
  for (const row of ring.table) for (const id of row) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/** A random cluster shape: enough nodes per zone that ceil(n / zones) can always be met. */
export const clusterShape = fc
  .record({
    replicas: fc.integer({ min: 1, max: 12 }),
    zones: fc.integer({ min: 1, max: 6 }),
    extra: fc.integer({ min: 0, max: 30 }),
    partitionBits: fc.integer({ min: 6, max: 10 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 }),
    weights: fc.array(fc.constantFrom(1, 1, 2, 3, 4, 0.5), { minLength: 64, maxLength: 64 }),
  })
  .map(({ replicas, zones, extra, partitionBits, seed, weights }) => {
    const perZone = Math.ceil(replicas / zones);
    const count = Math.max(replicas, perZone * zones) + extra;
    const nodes = cluster(count, zones, (i) => weights[i % weights.length]!);
    return { nodes, options: { replicas, partitionBits, seed } };
  });

/**
 * True when no node's target is above 80% of the partitions and no zone's is above 80% of what
 * its spread cap allows. A node (or zone) that must sit in nearly every partition can only get
 * there by evicting others from partitions that had nothing to give, so the true minimum
 * movement is then above the count-based one; near-minimal movement is a promise for clusters
 * with this much slack.
 */
export function hasSlack(nodes: readonly RingNode[], replicas: number, partitionBits: number): boolean {
  const partitions = 2 ** partitionBits;
  const targets = slotTargets(nodes, replicas, partitionBits);
  if (Math.max(...targets) > 0.8 * partitions) return false;
  const zones = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.weight > 0) zones.set(n.zone, (zones.get(n.zone) ?? 0) + targets[i]!);
  });
  const cap = Math.ceil(replicas / zones.size);
  return [...zones.values()].every((target) => target <= 0.8 * cap * partitions);
}

/**
 * Random clusters for the movement rules: with slack (see hasSlack) and at least 48 slots per
 * node on average. Below that, a single slot of rounding or of zone pairing is already several
 * percent of what a node holds, and "10% more than the minimum" stops meaning anything.
 */
export const roomyClusterShape = clusterShape.filter(
  ({ nodes, options }) =>
    hasSlack(nodes, options.replicas, options.partitionBits) && (options.replicas * 2 ** options.partitionBits) / nodes.length >= 48,
);

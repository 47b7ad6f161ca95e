import { zoneSpreadLimit } from './ring.js';
import type { Ring } from './ring.js';
import { clusterLayout, realTargets } from './slot-quotas.js';

/** One node's share of a ring. */
export interface NodeLoad {
  id: string;
  zone: string;
  weight: number;
  /** Shard slots (partition x shard index) the node holds. */
  slots: number;
  /** Its fair share by weight within zone-spread limits (real-valued). */
  targetSlots: number;
  /** Slots at shard index 0, the first data shard, which healthy reads hit first. */
  primaries: number;
}

/** One zone's share of a ring. */
export interface ZoneLoad {
  zone: string;
  nodes: number;
  weight: number;
  slots: number;
  targetSlots: number;
  /** Most members of this zone in any one partition. */
  maxPerPartition: number;
}

/** Balance and spread of a ring, as the CLI and the simulation report them. */
export interface RingStats {
  partitions: number;
  replicas: number;
  /** ceil(replicas / zones with weighted nodes): the spread rule's bound. */
  zoneLimit: number;
  /** Most members of one zone in any partition; at most zoneLimit when zones are large enough. */
  maxZoneMembers: number;
  /** max(slots / target) over nodes with a target: 1 is perfect, the max/mean load for equal weights. */
  balance: number;
  /** max(primaries / (slots / replicas)): how evenly shard index 0 spreads. */
  primaryBalance: number;
  nodes: NodeLoad[];
  zones: ZoneLoad[];
}

/** Counts each node's and zone's slots and compares them with the weight targets. */
export function ringStats(ring: Ring): RingStats {
  const partitions = ring.table.partitions;
  const layout = clusterLayout(ring.nodes, ring.replicas);
  const targets = realTargets(ring.nodes, layout, ring.replicas, partitions);
  const slots = ring.table.slotCounts();
  const primaries = ring.table.slotCounts(0);
  const zoneNames = [...new Set(ring.nodes.map((node) => node.zone))].sort();
  const zoneIndex = new Map(zoneNames.map((zone, z) => [zone, z]));
  const zoneOfNode = Int32Array.from(ring.nodes, (node) => zoneIndex.get(node.zone)!);
  const zoneMax = new Int32Array(zoneNames.length);
  const inRow = new Int32Array(zoneNames.length);
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < ring.replicas; i++) inRow[zoneOfNode[ring.table.nodeIndex(p, i)]!]! += 1;
    for (let i = 0; i < ring.replicas; i++) {
      const z = zoneOfNode[ring.table.nodeIndex(p, i)]!;
      zoneMax[z] = Math.max(zoneMax[z]!, inRow[z]!);
      inRow[z] = 0;
    }
  }
  const nodes: NodeLoad[] = ring.nodes.map((node, x) => ({
    id: node.id,
    zone: node.zone,
    weight: node.weight,
    slots: slots[x]!,
    targetSlots: targets[x]!,
    primaries: primaries[x]!,
  }));
  const zones: ZoneLoad[] = zoneNames.map((zone, z) => {
    const members = nodes.filter((_, x) => zoneOfNode[x] === z);
    return {
      zone,
      nodes: members.length,
      weight: members.reduce((sum, node) => sum + node.weight, 0),
      slots: members.reduce((sum, node) => sum + node.slots, 0),
      targetSlots: members.reduce((sum, node) => sum + node.targetSlots, 0),
      maxPerPartition: zoneMax[z]!,
    };
  });
  let balance = 0;
  let primaryBalance = 0;
  for (const node of nodes) {
    if (node.targetSlots > 0) balance = Math.max(balance, node.slots / node.targetSlots);
    if (node.slots > 0) primaryBalance = Math.max(primaryBalance, (node.primaries * ring.replicas) / node.slots);
  }
  return {
    partitions,
    replicas: ring.replicas,
    zoneLimit: zoneSpreadLimit(ring.replicas, layout.zones.length),
    maxZoneMembers: zoneMax.reduce((a, b) => Math.max(a, b), 0),
    balance,
    primaryBalance,
    nodes,
    zones,
  };
}

/**
 * The fewest slot moves that can turn `previous` into any ring with `next`'s per-node slot
 * counts: every slot a node gains must move in from somewhere. Moved slots divided by this is
 * the builder's overhead; `balance` says whether the counts themselves are right.
 */
export function minimumSlotMoves(previous: Ring, next: Ring): number {
  const scale = next.table.partitions / previous.table.partitions;
  const delta = next.table.slotsById();
  const kept = Math.min(previous.replicas, next.replicas);
  for (let p = 0; p < previous.table.partitions; p++) {
    for (let i = 0; i < kept; i++) {
      const id = previous.table.nodeId(p, i);
      delta.set(id, (delta.get(id) ?? 0) - scale);
    }
  }
  let moves = 0;
  for (const gained of delta.values()) moves += Math.max(0, gained);
  return moves;
}

import type { Ring } from './ring.js';

/** One partition whose node set changed: the old and new ordered sets (position = shard index). */
export interface PartitionMove {
  partition: number;
  from: string[];
  to: string[];
}

/** What a ring change asks the rebalancer to do. */
export interface RingPlan {
  fromEpoch: number;
  toEpoch: number;
  /** Numbering of `partition` in moves: the finer of the two rings, so each move names one old set and one new set. */
  partitionBits: number;
  moves: PartitionMove[];
}

/**
 * The partitions whose ordered node sets differ between two rings. When partitionBits differ,
 * moves use the finer numbering; partition p of the finer ring lies inside p >> d of the coarser.
 */
export function planChange(previous: Ring, next: Ring): RingPlan {
  const bits = Math.max(previous.partitionBits, next.partitionBits);
  const prevShift = bits - previous.partitionBits;
  const nextShift = bits - next.partitionBits;
  const moves: PartitionMove[] = [];
  for (let p = 0; p < 2 ** bits; p++) {
    const from = previous.table.row(p >> prevShift);
    const to = next.table.row(p >> nextShift);
    let same = from.length === to.length;
    for (let i = 0; same && i < from.length; i++) same = from[i] === to[i];
    if (!same) moves.push({ partition: p, from, to });
  }
  return { fromEpoch: previous.epoch, toEpoch: next.epoch, partitionBits: bits, moves };
}

/** Shard slots whose node changes under the plan (a slot = one partition's one shard index). */
export function movedSlots(plan: RingPlan): number {
  let moved = 0;
  for (const { from, to } of plan.moves) {
    const width = Math.max(from.length, to.length);
    for (let i = 0; i < width; i++) if (from[i] !== to[i] && to[i] !== undefined) moved++;
  }
  return moved;
}

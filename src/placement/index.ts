// Placement: the ring value and its file format, key lookup, the seeded builder, change plans and balance stats.
export { DEFAULT_PARTITION_BITS, MAX_PARTITION_BITS, MAX_REPLICAS, RING_VERSION, zoneSpreadLimit } from './ring.js';
export type { PlacementErrorCode, Ring, RingNode } from './ring.js';
export { parseRing, serializeRing } from './ring-format.js';
export { RingTable } from './ring-table.js';
export { RingLocator, sameNodes } from './ring-locator.js';
export type { Placement } from './ring-locator.js';
export { buildRing, FIRST_RING_EPOCH } from './ring-builder.js';
export type { BuildOptions, RingFill } from './ring-builder.js';
export { movedSlots, planChange } from './ring-plan.js';
export type { PartitionMove, RingPlan } from './ring-plan.js';
export { minimumSlotMoves, ringStats } from './ring-stats.js';
export type { NodeLoad, RingStats, ZoneLoad } from './ring-stats.js';
export { slotTargets } from './slot-quotas.js';
export { XxHash64, xxhash64 } from './xxhash64.js';
export { partitionHashRange, placementHash, placementHashHex } from './placement-hash.js';
export { estimateDurability, estimateLiveDurability, estimatedCoverage, expectedDistinctSets, nines, ringSpread } from './durability.js';
export type { DurabilityEstimate, DurabilityInput, LiveDurabilityEstimate, LiveDurabilityInput, RingSpread } from './durability.js';

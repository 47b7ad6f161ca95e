import { encodeUtf8Into } from './encode-utf8.js';
import { RING_VERSION, checkNodes, checkShape, invalidRing } from './ring.js';
import type { Ring, RingNode } from './ring.js';
import { fillPacedTable } from './paced-fill.js';
import { freezeRing } from './ring-format.js';
import { RingTable } from './ring-table.js';
import { SeededRandom } from './seeded-random.js';
import { orderByExactShare, orderByStaggeredShare } from './shard-index-order.js';
import { SlotAssigner } from './slot-assigner.js';
import type { AssignerInput } from './slot-assigner.js';
import { clusterLayout, integerQuotas } from './slot-quotas.js';
import type { ClusterLayout } from './slot-quotas.js';
import { XxHash64 } from './xxhash64.js';

/**
 * How a fresh table is filled. `urgency` (the default) places every slot through heaps of real-valued
 * urgencies; it is what every gateway deriving its ring from a node list has always built, so its
 * output never changes. `paced` schedules each node's slots on integer due rows and builds large
 * rings in half the time or less, with the same guarantees; its rings differ, so it is for rings
 * written to a file. Rebuilds from a previous ring ignore it.
 */
export type RingFill = 'urgency' | 'paced';

/** Shape and seed of a ring build; the same previous ring, members and options always give the same ring. */
export interface BuildOptions {
  replicas: number;
  partitionBits: number;
  seed: number;
  fill?: RingFill;
}

/** Per-name tie-break ranks from the seed; hashed by name so they survive other nodes joining or leaving. */
function seededRanks(names: readonly string[], seed: number): Uint32Array {
  const hasher = new XxHash64(BigInt(seed));
  let bytes = new Uint8Array(256);
  return Uint32Array.from(names, (name) => {
    if (name.length * 3 > bytes.length) bytes = new Uint8Array(name.length * 3);
    return hasher.hash(bytes, encodeUtf8Into(name, bytes, 0));
  });
}

/**
 * Seeds the table with the previous ring's assignments of nodes that can still hold data, at the
 * same positions (a position is a shard index, so keeping it is what keeps the data in place).
 * When partitionBits grew, each old partition's row is inherited by all its sub-partitions: the
 * partition is the hash's top bits, so a key's new partition lies inside its old one.
 */
function carryOver(previous: Ring, nodes: readonly RingNode[], layout: ClusterLayout, table: Int32Array, replicas: number, partitionBits: number): void {
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (layout.zoneOf[i]! >= 0) index.set(node.id, i);
  });
  // The previous ring's node indexes, as indexes into `nodes` (-1: can no longer hold data).
  const carried = Int32Array.from(previous.nodes, (node) => index.get(node.id) ?? -1);
  const partitions = 2 ** partitionBits;
  const prevBits = previous.partitionBits;
  if (previous.table.partitions !== 2 ** prevBits) {
    invalidRing('previous ring table length does not match its partitionBits');
  }
  const width = Math.min(replicas, previous.replicas);
  for (let p = 0; p < partitions; p++) {
    const source = partitionBits >= prevBits ? p >> (partitionBits - prevBits) : p << (prevBits - partitionBits);
    const base = p * replicas;
    for (let i = 0; i < width; i++) {
      const x = carried[previous.table.nodeIndex(source, i)]!;
      if (x < 0) continue;
      let duplicate = false;
      for (let j = 0; j < i; j++) if (table[base + j] === x) duplicate = true;
      if (!duplicate) table[base + i] = x;
    }
  }
}

/** Empties slots that put a zone above its cap (zones were added, or a node changed zone). */
function enforceZoneCaps(
  table: Int32Array,
  replicas: number,
  layout: ClusterLayout,
  quota: Int32Array,
  counts: Int32Array,
  order: Int32Array,
  random: SeededRandom,
): void {
  const inZone = new Int32Array(layout.zones.length);
  // Rows in seeded order: the excess of each evicted node drops as it goes, and walking rows in
  // table order would sync that rotation with any regularity in the table.
  for (const p of order) {
    const base = p * replicas;
    let over = false;
    for (let i = 0; i < replicas; i++) {
      const x = table[base + i]!;
      if (x < 0) continue;
      const z = layout.zoneOf[x]!;
      inZone[z]! += 1;
      if (inZone[z]! > layout.zoneCaps[z]!) over = true;
    }
    if (over) {
      // Evict the members furthest above quota (they would give slots away anyway); ties at
      // random so the newcomers that fill the gaps do not all land on the same shard index.
      const positions = Array.from({ length: replicas }, (_, i) => i)
        .filter((i) => table[base + i]! >= 0)
        .map((i) => {
          const x = table[base + i]!;
          return { i, x, excess: (counts[x]! - quota[x]!) / Math.max(1, quota[x]!), tie: random.nextUint32() };
        })
        .sort((a, b) => b.excess - a.excess || a.tie - b.tie);
      for (const { i, x } of positions) {
        const z = layout.zoneOf[x]!;
        if (inZone[z]! > layout.zoneCaps[z]!) {
          inZone[z]! -= 1;
          counts[x]! -= 1;
          table[base + i] = -1;
        }
      }
    }
    for (let i = 0; i < replicas; i++) {
      const x = table[base + i]!;
      if (x >= 0) inZone[layout.zoneOf[x]!] = 0;
    }
  }
}

/** Runs the slot assigner over the table in place; returns each node's slots. */
function assign(table: Int32Array, layout: ClusterLayout, input: Omit<AssignerInput, 'replicas' | 'partitions' | 'table' | 'zoneOf' | 'zoneCaps'>): Int32Array {
  const partitions = input.order.length;
  const assigner = new SlotAssigner({ ...input, replicas: table.length / partitions, partitions, table, zoneOf: layout.zoneOf, zoneCaps: layout.zoneCaps });
  assigner.run();
  return assigner.count;
}

/** The epoch of a cluster's first ring, the one built without a previous ring. */
export const FIRST_RING_EPOCH = 1;

/**
 * Builds the next ring (epoch = previous.epoch + 1, or 1) for `members`: each partition gets
 * `replicas` distinct nodes, no zone above ceil(n / zones) of them, slots split by weight, and
 * only as many slots moved from `previous` as the change requires. Pure and seeded.
 */
export function buildRing(previous: Ring | null, members: readonly RingNode[], options: BuildOptions): Ring {
  const { replicas, partitionBits, seed } = options;
  checkShape(replicas, partitionBits);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    invalidRing(`seed must be a safe integer; got ${JSON.stringify(seed)}`);
  }
  if (options.fill !== undefined && options.fill !== 'urgency' && options.fill !== 'paced') {
    invalidRing(`fill must be urgency or paced; got ${JSON.stringify(options.fill)}`);
  }
  const nodes = checkNodes(members, 'members').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const weighted = nodes.filter((node) => node.weight > 0).length;
  if (weighted < replicas) {
    invalidRing(`replicas ${replicas} needs at least ${replicas} members with weight > 0; got ${weighted}`);
  }
  const layout = clusterLayout(nodes, replicas);
  const partitions = 2 ** partitionBits;
  const ranks = seededRanks(
    nodes.map((node) => node.id),
    seed,
  );
  const zoneRanks = seededRanks(layout.zones, seed);
  const table = new Int32Array(partitions * replicas).fill(-1);
  if (previous) carryOver(previous, nodes, layout, table, replicas, partitionBits);
  // What each node holds already: nothing on a fresh table, which skips a walk of every slot.
  const counts = new Int32Array(nodes.length);
  if (previous) for (const x of table) if (x >= 0) counts[x]! += 1;
  const quota = integerQuotas(nodes, layout, replicas, partitions, counts, ranks, zoneRanks);
  const random = new SeededRandom(seed);
  const identity = new Int32Array(partitions);
  for (let p = 0; p < partitions; p++) identity[p] = p;
  const order = random.shuffle(identity);
  // An empty table breaks no cap; a rebuild may (zones were added, or a node changed zone).
  if (previous) enforceZoneCaps(table, replicas, layout, quota, counts, order, random);
  const seeded = { quota, ranks, zoneRanks, order, random };
  let count: Int32Array;
  if (previous === null && options.fill === 'paced') {
    // The assigner only finishes what the paced fill left short, as it would a rebuild; with
    // nothing short, every node holds exactly its quota.
    const short = fillPacedTable({ replicas, partitions, table, quota, zoneOf: layout.zoneOf, zoneCaps: layout.zoneCaps, order, random });
    count = short > 0 ? assign(table, layout, { ...seeded, fresh: false }) : quota;
  } else {
    count = assign(table, layout, { ...seeded, fresh: previous === null });
  }
  // On a rebuild, moving a node to another shard index would move its data.
  if (!previous && options.fill === 'paced') orderByStaggeredShare(table, replicas, count, ranks);
  else if (!previous) orderByExactShare(table, replicas, count, ranks);

  return freezeRing({
    version: RING_VERSION,
    epoch: previous ? previous.epoch + 1 : FIRST_RING_EPOCH,
    partitionBits,
    replicas,
    nodes,
    table: RingTable.fromIndexes(
      nodes.map((node) => node.id),
      replicas,
      table,
    ),
  });
}

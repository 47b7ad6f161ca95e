import fc from 'fast-check';
import { t } from 'tap';
import { buildRing, movedSlots, planChange, ringStats, serializeRing, zoneSpreadLimit } from '../../src/placement/index.js';
import type { BuildOptions, Ring, RingNode } from '../../src/placement/index.js';
import { cluster, clusterShape, hasSlack, node, slotCounts } from './clusters.js';

const RUNS = { numRuns: 40 };
const paced = (nodes: readonly RingNode[], options: BuildOptions, previous: Ring | null = null): Ring =>
  buildRing(previous, nodes, { ...options, fill: 'paced' });

/** Problems with a ring's rows: a row that is not `replicas` distinct weighted nodes, or a zone above its cap. */
function rowProblem(ring: Ring, members: readonly RingNode[]): string | null {
  const weighted = new Set(members.filter((m) => m.weight > 0).map((m) => m.id));
  for (const [p, row] of [...ring.table].entries()) {
    if (row.length !== ring.replicas || new Set(row).size !== row.length) return `table[${p}] is not ${ring.replicas} distinct nodes`;
    if (row.some((id) => !weighted.has(id))) return `table[${p}] uses a node that cannot hold data`;
  }
  const zones = new Set(members.filter((m) => m.weight > 0).map((m) => m.zone)).size;
  const stats = ringStats(ring);
  if (stats.maxZoneMembers > zoneSpreadLimit(ring.replicas, zones)) return `a zone holds ${stats.maxZoneMembers} members of one partition`;
  return null;
}

t.test('a paced ring gives every node exactly the slots the urgency fill gives it, in valid rows', (t) => {
  fc.assert(
    fc.property(clusterShape, ({ nodes, options }) => {
      const ring = paced(nodes, options);
      const problem = rowProblem(ring, nodes);
      if (problem) throw new Error(problem);
      const pacedSlots = slotCounts(ring);
      const urgencySlots = slotCounts(buildRing(null, nodes, options));
      for (const [id, slots] of urgencySlots) {
        if (pacedSlots.get(id) !== slots) throw new Error(`${id}: ${pacedSlots.get(id)} slots paced, ${slots} by urgency`);
      }
    }),
    RUNS,
  );
  t.end();
});

t.test('zones that must fill their cap in every partition still get every slot', (t) => {
  // 50 nodes in 3 zones at 4+2: each zone must hold exactly 2 members of every partition.
  const tight = cluster(50, 3);
  const ring = paced(tight, { replicas: 6, partitionBits: 12, seed: 4 });
  t.equal(rowProblem(ring, tight), null);
  t.same(ringStats(ring).zones.map((z) => z.slots), [2 * 4096, 2 * 4096, 2 * 4096]);
  // Zones smaller than the cap: 7 nodes in 4 zones.
  const small = cluster(7, 4);
  t.equal(rowProblem(paced(small, { replicas: 6, partitionBits: 9, seed: 11 }), small), null);
  t.end();
});

t.test('a paced ring is deterministic, whatever the member order, and differs by seed', (t) => {
  const nodes = cluster(40, 5, (i) => [1, 2, 0.5, 3][i % 4]!);
  const options = { replicas: 6, partitionBits: 11, seed: 3 };
  const a = serializeRing(paced(nodes, options));
  t.equal(serializeRing(paced([...nodes].reverse(), options)), a);
  t.not(serializeRing(paced(nodes, { ...options, seed: 4 })), a);
  t.not(serializeRing(buildRing(null, nodes, options)), a, 'the urgency fill, the default, builds another table');
  t.end();
});

t.test('a paced ring spreads every shard index and every node pair as evenly as the urgency fill', (t) => {
  const nodes = cluster(200, 10);
  const options = { replicas: 6, partitionBits: 13, seed: 5 };
  const pairs = (ring: Ring): number[] => {
    const counts = new Map<string, number>();
    for (const row of ring.table) {
      for (let i = 0; i < row.length; i++) {
        for (let j = i + 1; j < row.length; j++) {
          const key = row[i]! < row[j]! ? `${row[i]} ${row[j]}` : `${row[j]} ${row[i]}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
    }
    return [...counts.values()];
  };
  const fast = paced(nodes, options);
  const reference = buildRing(null, nodes, options);
  t.ok(ringStats(fast).primaryBalance <= 1.05, `shard 0 within 5% of even: ${ringStats(fast).primaryBalance}`);
  const fastPairs = pairs(fast);
  const referencePairs = pairs(reference);
  t.ok(fastPairs.length >= 0.98 * referencePairs.length, `${fastPairs.length} node pairs share a partition, ${referencePairs.length} by urgency`);
  t.ok(Math.max(...fastPairs) <= 1.25 * Math.max(...referencePairs), `the busiest pair shares ${Math.max(...fastPairs)} partitions, ${Math.max(...referencePairs)} by urgency`);
  t.end();
});

t.test('a paced ring spreads every shard index, not only shard 0, in proportion to each node\'s slots', (t) => {
  for (const weights of ['equal', 'mixed'] as const) {
    const nodes = cluster(9, 3, (i) => (weights === 'equal' ? 1 : 1 + (i % 3)));
    const ring = paced(nodes, { replicas: 6, partitionBits: 12, seed: 4 });
    const held = new Map<string, number[]>();
    for (const row of ring.table) row.forEach((id, i) => (held.get(id) ?? held.set(id, [0, 0, 0, 0, 0, 0]).get(id)!)[i]!++);
    for (const [id, perIndex] of held) {
      const mean = perIndex.reduce((a, b) => a + b, 0) / 6;
      t.ok(Math.max(...perIndex) / mean < 1.05, `${weights} weights, ${id}: ${perIndex.join(' ')}`);
    }
  }
  t.end();
});

t.test('adding a node to a paced ring moves at most 1.1 x the minimum', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 30 }), fc.nat(), (replicas, zones, extra, seed) => {
      const count = Math.max(replicas, Math.ceil(replicas / zones) * zones) + extra;
      const nodes = cluster(count, zones);
      const options = { replicas, partitionBits: 9, seed };
      if (!hasSlack(nodes, replicas, options.partitionBits)) return;
      const before = paced(nodes, options);
      const after = paced([...nodes, node(count, `zone-${seed % zones}`)], options, before);
      const ideal = (replicas * 2 ** options.partitionBits) / (count + 1);
      const m = movedSlots(planChange(before, after));
      if (m > 1.1 * ideal + 2) throw new Error(`moved ${m}, ideal ${ideal.toFixed(1)}`);
    }),
    RUNS,
  );
  t.end();
});

t.test('an unknown fill is refused with InvalidRing', (t) => {
  t.throws(() => buildRing(null, cluster(6, 1), { replicas: 6, partitionBits: 4, seed: 0, fill: 'fast' as 'paced' }), { code: 'InvalidRing' });
  t.end();
});

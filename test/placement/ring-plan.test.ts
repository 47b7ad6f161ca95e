import { t } from 'tap';
import { buildRing, minimumSlotMoves, movedSlots, planChange, ringStats } from '../../src/placement/index.js';
import { cluster, node } from './clusters.js';

const options = { replicas: 4, partitionBits: 6, seed: 11 };
const before = buildRing(null, cluster(8, 2), options);
const after = buildRing(before, [...before.nodes, node(20, 'zone-1')], options);

t.test('a plan lists exactly the partitions whose ordered sets changed, with both sets', (t) => {
  const plan = planChange(before, after);
  t.equal(plan.fromEpoch, 1);
  t.equal(plan.toEpoch, 2);
  t.equal(plan.partitionBits, 6);
  const changed = [...before.table].flatMap((row, p) => (row.join() === after.table.row(p).join() ? [] : [p]));
  t.same(plan.moves.map((m) => m.partition), changed);
  for (const move of plan.moves) {
    t.same(move.from, before.table.row(move.partition));
    t.same(move.to, after.table.row(move.partition));
  }
  // Each changed partition gained the new node in exactly one shard index.
  t.equal(movedSlots(plan), plan.moves.length);
  t.equal(movedSlots(plan), ringStats(after).nodes.find((n) => n.id === 'node-0020')!.slots);
  t.equal(minimumSlotMoves(before, after), movedSlots(plan));
  t.same(planChange(after, after).moves, [], 'no change, no moves');
  t.end();
});

t.test('plans across a partitionBits change use the finer numbering', (t) => {
  const finer = buildRing(before, before.nodes, { ...options, partitionBits: 8 });
  const plan = planChange(before, finer);
  t.equal(plan.partitionBits, 8);
  for (const move of plan.moves) t.same(move.from, before.table.row(move.partition >> 2));
  const back = planChange(finer, before);
  t.equal(back.partitionBits, 8);
  for (const move of back.moves) t.same(move.to, before.table.row(move.partition >> 2));
  t.end();
});

t.test('ringStats counts slots, shard-0 slots and zone spread', (t) => {
  const stats = ringStats(before);
  t.equal(stats.partitions, 64);
  t.equal(stats.nodes.reduce((sum, n) => sum + n.slots, 0), 64 * 4);
  t.equal(stats.nodes.reduce((sum, n) => sum + n.primaries, 0), 64);
  t.equal(stats.zoneLimit, 2);
  t.equal(stats.maxZoneMembers, 2);
  t.same(stats.zones.map((z) => [z.zone, z.nodes, z.slots]), [['zone-0', 4, 128], ['zone-1', 4, 128]]);
  t.ok(stats.balance >= 1 && stats.balance < 1.01);
  t.end();
});

import { t } from 'tap';
import { estimateDurability, estimateLiveDurability } from '../../src/placement/index.js';
import type { DurabilityInput } from '../../src/placement/index.js';

/** The embedded default: 6 nodes in one zone, 4+2, every partition on the same six nodes. */
const embedded: DurabilityInput = {
  nodes: 6,
  zones: 1,
  dataShards: 4,
  parityShards: 2,
  annualFailureRate: 0.015,
  nodeBytes: 16e12,
  repairBytesPerSecond: 50e6,
  distinctSets: 1,
};

t.test('with nothing down and no backlog, the nines now are the steady-state model\'s', async (t) => {
  const live = estimateLiveDurability({ ...embedded, nodesDown: 0, backlogSeconds: 0 });
  const steady = estimateDurability(embedded);
  t.equal(live.nines, steady.nines);
  t.equal(live.lossEventsPerYear, steady.lossEventsPerYear);
  t.equal(live.moreFailuresToLose, 3);
  t.equal(live.lossBeforeRepaired, 0, 'nothing to rebuild, no window to lose data in');
});

t.test('each node down takes nines away: fewer further failures are needed to lose a set', async (t) => {
  const rows = [0, 1, 2].map((nodesDown) => estimateLiveDurability({ ...embedded, nodesDown, backlogSeconds: embedded.nodeBytes / embedded.repairBytesPerSecond }));
  t.same(rows.map((r) => r.moreFailuresToLose), [3, 2, 1]);
  t.ok(rows[0]!.nines > rows[1]!.nines + 1, `one down: ${rows[0]!.nines.toFixed(1)} -> ${rows[1]!.nines.toFixed(1)}`);
  t.ok(rows[1]!.nines > rows[2]!.nines + 1, `two down: ${rows[1]!.nines.toFixed(1)} -> ${rows[2]!.nines.toFixed(1)}`);
  // With m down, the next failure of any of the 4 other members loses data: rate 4 lambda (1 - q).
  const lambda = -Math.log1p(-embedded.annualFailureRate);
  const steady = estimateDurability(embedded);
  t.ok(Math.abs(rows[2]!.lossEventsPerYear - 4 * lambda * (1 - steady.unavailability)) < 1e-12);
  t.equal(rows[0]!.backlogHours.toFixed(1), (16e12 / 50e6 / 3600).toFixed(1));
});

t.test('the chance of a loss before the backlog is rebuilt grows with the backlog and is the rate over its time', async (t) => {
  const short = estimateLiveDurability({ ...embedded, nodesDown: 1, backlogSeconds: 3600 });
  const long = estimateLiveDurability({ ...embedded, nodesDown: 1, backlogSeconds: 100 * 3600 });
  t.ok(long.lossBeforeRepaired > 50 * short.lossBeforeRepaired);
  const years = 3600 / (365 * 24 * 3600);
  t.ok(Math.abs(short.lossBeforeRepaired - -Math.expm1(-short.lossEventsPerYear * years)) <= 1e-18);
  t.equal(short.nines, long.nines, 'the nines now are a rate: the backlog changes only the window');
});

t.test('with more nodes down than parity, data on one set is certainly unreadable; on a wide cluster, only if a set holds them', async (t) => {
  const lost = estimateLiveDurability({ ...embedded, nodesDown: 3, backlogSeconds: 3600 });
  t.equal(lost.moreFailuresToLose, 0);
  t.equal(lost.annualLossProbability, 1);
  t.equal(lost.nines, 0);
  const wide = estimateLiveDurability({ ...embedded, nodes: 600, zones: 3, distinctSets: 65_536, nodesDown: 3, backlogSeconds: 3600 });
  t.ok(wide.lossBeforeRepaired > 0 && wide.lossBeforeRepaired < 0.5, `600 nodes, 3 down: P(a set holds all 3) ${wide.lossBeforeRepaired}`);
});

t.test('on a wide cluster a node down matters only to the sets that hold it, so fewer nines are lost', async (t) => {
  const wide: DurabilityInput = { ...embedded, nodes: 600, zones: 3, distinctSets: 65_536 };
  const small = [0, 1].map((d) => estimateLiveDurability({ ...embedded, nodesDown: d, backlogSeconds: 0 }).nines);
  const large = [0, 1].map((d) => estimateLiveDurability({ ...wide, nodesDown: d, backlogSeconds: 0 }).nines);
  t.ok(large[0]! > large[1]!, 'a node down still costs nines');
  t.ok(small[0]! - small[1]! > large[0]! - large[1]!, `6 nodes lose ${(small[0]! - small[1]!).toFixed(1)}, 600 nodes ${(large[0]! - large[1]!).toFixed(1)}`);
});

t.test('refuses impossible live states', async (t) => {
  t.throws(() => estimateLiveDurability({ ...embedded, nodesDown: 7, backlogSeconds: 0 }), RangeError);
  t.throws(() => estimateLiveDurability({ ...embedded, nodesDown: 1.5, backlogSeconds: 0 }), RangeError);
  t.throws(() => estimateLiveDurability({ ...embedded, nodesDown: 1, backlogSeconds: -1 }), RangeError);
  t.throws(() => estimateLiveDurability({ ...embedded, nodesDown: 1, backlogSeconds: Number.POSITIVE_INFINITY }), RangeError);
});

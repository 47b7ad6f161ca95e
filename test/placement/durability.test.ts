import { t } from 'tap';
import { buildRing, estimateDurability, ringSpread, ringStats } from '../../src/placement/index.js';
import type { Ring } from '../../src/placement/index.js';
import { cluster } from './clusters.js';

const SECONDS_PER_YEAR = 365 * 24 * 3600;

/** A small seeded generator (mulberry32), so the simulation is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Monte Carlo of the cluster the model describes, on the ring's real partition sets: every node
 * alternates up (exponential, rate lambda) and down for exactly the repair time; a loss event is a
 * failure while, in some set holding the failing node, m other members are down. Returns events/year.
 */
function simulateLossRate(ring: Ring, parityShards: number, lambda: number, repairYears: number, years: number, seed: number): { rate: number; events: number } {
  const random = seeded(seed);
  const count = ring.nodes.length;
  const index = new Map(ring.nodes.map((node, i) => [node.id, i]));
  // Every (m+1)-subset some set covers, keyed in base `count`.
  const covered = new Set<number>();
  const lost = parityShards + 1;
  for (const row of ring.table) {
    const members = row.map((id) => index.get(id)!).sort((a, b) => a - b);
    const pick = Array.from({ length: lost }, (_, i) => i);
    for (;;) {
      covered.add(pick.reduce((key, p) => key * count + members[p]!, 0));
      let i = lost - 1;
      while (i >= 0 && pick[i] === members.length - lost + i) i--;
      if (i < 0) break;
      pick[i]! += 1;
      for (let j = i + 1; j < lost; j++) pick[j] = pick[j - 1]! + 1;
    }
  }
  // Every failure of every node over the horizon, in time order.
  const failures: { at: number; node: number }[] = [];
  for (let node = 0; node < count; node++) {
    let at = -Math.log(1 - random()) / lambda;
    while (at < years) {
      failures.push({ at, node });
      at += repairYears - Math.log(1 - random()) / lambda;
    }
  }
  failures.sort((a, b) => a.at - b.at);
  let down: { node: number; until: number }[] = [];
  let events = 0;
  for (const { at, node } of failures) {
    down = down.filter((d) => d.until > at);
    if (down.length >= parityShards && meets(node, down.map((d) => d.node), parityShards, covered, count)) events++;
    down.push({ node, until: at + repairYears });
  }
  return { rate: events / years, events };
}

/** True when `node` and some `m` of `others` form a covered subset. */
function meets(node: number, others: number[], m: number, covered: ReadonlySet<number>, count: number): boolean {
  const choose = (start: number, chosen: number[]): boolean => {
    if (chosen.length === m) {
      const key = [node, ...chosen].sort((a, b) => a - b).reduce((k, x) => k * count + x, 0);
      return covered.has(key);
    }
    for (let i = start; i < others.length; i++) if (choose(i + 1, [...chosen, others[i]!])) return true;
    return false;
  };
  return choose(0, []);
}

/** The model's inputs for a ring, with a repair time in years expressed as node bytes over a rate. */
function modelOf(ring: Ring, dataShards: number, parityShards: number, annualFailureRate: number, repairYears: number) {
  const spread = ringSpread(ring, parityShards);
  const zones = new Set(ring.nodes.map((n) => n.zone)).size;
  return estimateDurability({
    nodes: ring.nodes.length,
    zones,
    dataShards,
    parityShards,
    annualFailureRate,
    nodeBytes: repairYears * SECONDS_PER_YEAR * 1e6,
    repairBytesPerSecond: 1e6,
    distinctSets: spread.distinctSets,
    coveredFraction: spread.coveredFraction,
    zoneMembers: ringStats(ring).maxZoneMembers,
  });
}

for (const shape of [
  { name: 'every set of a 12-node, 3-zone 4+2 ring', nodes: 12, zones: 3, bits: 8, afr: 0.4, repairYears: 0.02, years: 60_000 },
  { name: 'a 60-node, 3-zone 4+2 ring with only 16 partition sets', nodes: 60, zones: 3, bits: 4, afr: 0.4, repairYears: 0.02, years: 40_000 },
]) {
  t.test(`the model's loss rate agrees with a Monte Carlo simulation of ${shape.name}`, (t) => {
    const ring = buildRing(null, cluster(shape.nodes, shape.zones), { replicas: 6, partitionBits: shape.bits, seed: 3 });
    const model = modelOf(ring, 4, 2, shape.afr, shape.repairYears);
    const lambda = -Math.log1p(-shape.afr);
    const sim = simulateLossRate(ring, 2, lambda, shape.repairYears, shape.years, 11);
    // Poisson counting error of the simulation; the model must sit within 4 of its standard deviations.
    const sd = Math.sqrt(sim.events) / shape.years;
    t.ok(sim.events >= 400, `enough loss events to measure (${sim.events})`);
    t.ok(Math.abs(model.lossEventsPerYear - sim.rate) <= 4 * sd, `model ${model.lossEventsPerYear.toExponential(3)}/year, simulation ${sim.rate.toExponential(3)} ± ${sd.toExponential(1)}`);
    t.end();
  });
}

t.test('fewer distinct partition sets mean fewer ways for m+1 failures to meet, so fewer losses', (t) => {
  const few = modelOf(buildRing(null, cluster(60, 3), { replicas: 6, partitionBits: 4, seed: 3 }), 4, 2, 0.02, 0.005);
  const many = modelOf(buildRing(null, cluster(60, 3), { replicas: 6, partitionBits: 12, seed: 3 }), 4, 2, 0.02, 0.005);
  t.ok(few.coveredFraction < many.coveredFraction, `covered ${few.coveredFraction.toFixed(3)} < ${many.coveredFraction.toFixed(3)}`);
  t.ok(few.lossEventsPerYear < many.lossEventsPerYear);
  t.end();
});

t.test("Backblaze's 17+3 figure: the same inputs give their number times m+1, the gap between fixed and sliding repair windows", (t) => {
  // Backblaze's calculator (github.com/Backblaze/erasure-coding-durability, the basis of their
  // "11 nines" post): 17+3, annual shard failure rate 0.405 %, 6.5 days to replace a shard. It cuts
  // the year into 56 fixed periods and counts 4 failures inside one period.
  const afr = 0.00405;
  const periods = Math.floor(365 / 6.5);
  const p = afr / periods;
  let periodLoss = 0;
  for (let failed = 4; failed <= 20; failed++) {
    let c = 1;
    for (let i = 0; i < failed; i++) c = (c * (20 - i)) / (i + 1);
    periodLoss += c * p ** failed * (1 - p) ** (20 - failed);
  }
  const backblaze = -Math.expm1(periods * Math.log1p(-periodLoss));
  t.ok(backblaze > 5e-12 && backblaze < 1e-11, `Backblaze's model gives ${backblaze.toExponential(2)}/year: 11 nines`);
  const ours = estimateDurability({
    nodes: 20,
    zones: 20,
    dataShards: 17,
    parityShards: 3,
    annualFailureRate: afr,
    nodeBytes: (365 / periods) * 24 * 3600,
    repairBytesPerSecond: 1,
    distinctSets: 1,
  });
  // A failure that lands within the repair window of 3 earlier ones loses data here; theirs needs
  // all 4 in the same calendar period, which catches 1 / (m+1) of those coincidences.
  const ratio = ours.annualLossProbability / backblaze;
  t.ok(Math.abs(ratio - 4) < 0.1, `ours ${ours.annualLossProbability.toExponential(2)} = ${ratio.toFixed(3)} x theirs`);
  t.equal(Math.floor(ours.nines), 10, 'ten nines where theirs reads eleven');
  t.end();
});

t.test('a zone holding more than m shards of a set loses data with it; one holding at most m does not', (t) => {
  const base = { nodes: 60, dataShards: 8, parityShards: 4, annualFailureRate: 0.02, nodeBytes: 1e13, repairBytesPerSecond: 1e8, distinctSets: 1024 };
  t.equal(estimateDurability({ ...base, zones: 1, zoneMembers: 12 }).zoneLoss.survives, false);
  t.equal(estimateDurability({ ...base, zones: 2, zoneMembers: 6 }).zoneLoss.survives, false);
  const three = estimateDurability({ ...base, zones: 3, zoneMembers: 4 });
  t.equal(three.zoneLoss.survives, true);
  t.ok((three.zoneLoss.lossWhileRebuilding ?? 1) < 0.01);
  t.end();
});

t.test('bad model inputs are refused', (t) => {
  const base = { nodes: 6, zones: 1, dataShards: 4, parityShards: 2, annualFailureRate: 0.02, nodeBytes: 1e13, repairBytesPerSecond: 1e8, distinctSets: 1 };
  t.throws(() => estimateDurability({ ...base, nodes: 5 }), RangeError);
  t.throws(() => estimateDurability({ ...base, annualFailureRate: 1 }), RangeError);
  t.throws(() => estimateDurability({ ...base, repairBytesPerSecond: 0 }), RangeError);
  t.end();
});

import type { Ring } from './ring.js';

const SECONDS_PER_YEAR = 365 * 24 * 3600;
// Above this many (m+1)-subsets the coverage of a ring is estimated instead of counted.
const MAX_COUNTED_SUBSETS = 4_000_000;

/** A cluster as the durability model sees it: failure units (nodes), code, failure and repair rates, placement spread. */
export interface DurabilityInput {
  /** Nodes (one failure unit each: a node's disks fail together in this model). */
  nodes: number;
  /** Zones the nodes are spread over. */
  zones: number;
  dataShards: number;
  parityShards: number;
  /** Annual failure rate of a node, as a fraction (0.01 = 1 %). */
  annualFailureRate: number;
  /** Bytes stored per node: what a failure leaves to rebuild. */
  nodeBytes: number;
  /** Bytes per second at which a failed node's data is rebuilt. */
  repairBytesPerSecond: number;
  /** Distinct node sets in the placement (partitions with different members). */
  distinctSets: number;
  /** Share of all (m+1)-node subsets that lie inside some set; estimated from distinctSets when absent. */
  coveredFraction?: number;
  /** Most members of one zone in any set; zoneSpreadLimit when absent. */
  zoneMembers?: number;
}

/** What the model answers, per year. */
export interface DurabilityEstimate {
  /** Node failures per node-year: -ln(1 - AFR). */
  failuresPerNodeYear: number;
  /** Hours to rebuild one failed node's data. */
  repairHours: number;
  /** Probability that a given node is failed and not yet rebuilt at a random moment. */
  unavailability: number;
  /** Share of (m+1)-node subsets that lie inside some set (1 when every set holds every node). */
  coveredFraction: number;
  /** Data-loss events per year. */
  lossEventsPerYear: number;
  /** Probability of losing at least one object in a year. */
  annualLossProbability: number;
  /** -log10(annualLossProbability): 11 means 99.999999999 %. */
  nines: number;
  /** Expected bytes of object data lost per year. */
  expectedBytesLostPerYear: number;
  /**
   * A whole zone lost at once: whether data survives it, and if so the probability that further
   * failures lose data before the zone's nodes are rebuilt (each at the repair rate, in parallel).
   */
  zoneLoss: { zoneMembers: number; survives: boolean; lossWhileRebuilding: number | null };
}

/** ln C(n, r) for 0 <= r <= n. */
function logChoose(n: number, r: number): number {
  if (r < 0 || r > n) return Number.NEGATIVE_INFINITY;
  let sum = 0;
  const k = Math.min(r, n - r);
  for (let i = 1; i <= k; i++) sum += Math.log(n - k + i) - Math.log(i);
  return sum;
}

/** 1 - (1 - p)^count without losing tiny values. */
function atLeastOnce(p: number, count: number): number {
  if (p >= 1) return count > 0 ? 1 : 0;
  return -Math.expm1(count * Math.log1p(-p));
}

/** Share of (m+1)-subsets of `nodes` nodes that `sets` random n-sets cover. */
export function estimatedCoverage(nodes: number, setSize: number, lost: number, sets: number): number {
  const perSet = Math.exp(logChoose(setSize, lost) - logChoose(nodes, lost));
  return atLeastOnce(perSet, sets);
}

/** Expected distinct sets among `partitions` rows drawn from every n-subset of `nodes` nodes. */
export function expectedDistinctSets(nodes: number, setSize: number, partitions: number): number {
  const possible = Math.exp(logChoose(nodes, setSize));
  return possible * atLeastOnce(1 / possible, partitions);
}

/**
 * The rare-event model stated in docs/durability.md. Nodes fail independently at rate
 * lambda = -ln(1 - AFR) and stay failed for T = nodeBytes / repair rate; a node is down with
 * probability q = lambda T / (1 + lambda T). Data is lost when a node fails while, in some set
 * holding it, m others are down: with J ~ Binomial(N - 1, q) nodes down, that happens with
 * probability 1 - (1 - c)^C(J, m), c the share of (m+1)-subsets some set covers.
 */
export function estimateDurability(input: DurabilityInput): DurabilityEstimate {
  const { nodes: n, zones, dataShards: k, parityShards: m, annualFailureRate: afr } = input;
  const width = k + m;
  if (!(n >= width) || !(k >= 1) || !(m >= 0) || !(zones >= 1) || !(afr > 0 && afr < 1)) {
    throw new RangeError('durability model needs nodes >= k + m, k >= 1, m >= 0, zones >= 1 and 0 < AFR < 1');
  }
  if (!(input.nodeBytes > 0) || !(input.repairBytesPerSecond > 0) || !(input.distinctSets >= 1)) {
    throw new RangeError('durability model needs positive node bytes, repair rate and set count');
  }
  const lambda = -Math.log1p(-afr);
  const repairYears = input.nodeBytes / input.repairBytesPerSecond / SECONDS_PER_YEAR;
  const q = (lambda * repairYears) / (1 + lambda * repairYears);
  const covered = input.coveredFraction ?? estimatedCoverage(n, width, m + 1, input.distinctSets);
  const rate = lossRate(n, m, lambda, q, covered);
  const zoneMembers = input.zoneMembers ?? Math.ceil(width / zones);
  const survives = zones > 1 && zoneMembers <= m;
  let lossWhileRebuilding: number | null = null;
  if (survives) {
    const rest = n - Math.ceil(n / zones);
    const spare = m - zoneMembers;
    const restCovered = estimatedCoverage(rest, width - zoneMembers, spare + 1, input.distinctSets);
    lossWhileRebuilding = -Math.expm1(-lossRate(rest, spare, lambda, q, restCovered) * repairYears);
  }
  const annual = -Math.expm1(-rate);
  // A loss event destroys the partitions whose sets hold all m+1 failed nodes.
  const storedBytes = (n * input.nodeBytes * k) / width;
  const lostShare = Math.min(1, Math.exp(logChoose(width, m + 1) - logChoose(n, m + 1)) / covered);
  return {
    failuresPerNodeYear: lambda,
    repairHours: repairYears * 365 * 24,
    unavailability: q,
    coveredFraction: covered,
    lossEventsPerYear: rate,
    annualLossProbability: annual,
    nines: nines(annual),
    expectedBytesLostPerYear: rate * storedBytes * lostShare,
    zoneLoss: { zoneMembers, survives, lossWhileRebuilding },
  };
}

/** Loss events per year: N lambda (1 - q) sum_j P(J = j) (1 - (1 - c)^C(j, m)), J ~ Binomial(N - 1, q). */
function lossRate(nodes: number, m: number, lambda: number, q: number, covered: number): number {
  if (m === 0) return nodes * lambda * (1 - q) * covered;
  const others = nodes - 1;
  let sum = 0;
  for (let j = m; j <= others; j++) {
    const logPmf = logChoose(others, j) + j * Math.log(q) + (others - j) * Math.log1p(-q);
    const term = Math.exp(logPmf) * atLeastOnce(covered, Math.exp(logChoose(j, m)));
    sum += term;
    if (j > others * q + 10 && term < sum * 1e-15) break;
  }
  return nodes * lambda * (1 - q) * sum;
}

/** -log10 of a loss probability (Infinity for 0). */
export function nines(lossProbability: number): number {
  return lossProbability <= 0 ? Number.POSITIVE_INFINITY : -Math.log10(lossProbability);
}

/** How spread a ring's placement is: its distinct node sets, and the share of (m+1)-subsets they cover. */
export interface RingSpread {
  distinctSets: number;
  coveredFraction: number;
  /** True when coveredFraction was counted subset by subset; false when estimated from distinctSets. */
  counted: boolean;
}

/** Counts a ring's distinct sets and, while small enough, exactly which (m+1)-subsets of nodes they cover. */
export function ringSpread(ring: Ring, parityShards: number): RingSpread {
  const sets = new Map<string, Int32Array>();
  for (let p = 0; p < ring.table.partitions; p++) {
    const members = Int32Array.from({ length: ring.replicas }, (_, i) => ring.table.nodeIndex(p, i)).sort();
    sets.set(members.join(','), members);
  }
  const nodeCount = ring.nodes.length;
  const width = ring.replicas;
  const lost = parityShards + 1;
  const perSet = Math.exp(logChoose(width, lost));
  const possible = Math.exp(logChoose(nodeCount, lost));
  // Subsets are keyed as numbers in base nodeCount, exact below 2^53.
  if (lost > width || sets.size * perSet > MAX_COUNTED_SUBSETS || lost * Math.log2(Math.max(2, nodeCount)) > 53) {
    return { distinctSets: sets.size, coveredFraction: lost > width ? 0 : estimatedCoverage(nodeCount, width, lost, sets.size), counted: false };
  }
  const seen = new Set<number>();
  const pick = new Int32Array(lost);
  for (const members of sets.values()) {
    // Every lost-sized subset of the set, as its rank in base nodeCount.
    for (let i = 0; i < lost; i++) pick[i] = i;
    for (;;) {
      let key = 0;
      for (let i = 0; i < lost; i++) key = key * nodeCount + members[pick[i]!]!;
      seen.add(key);
      let i = lost - 1;
      while (i >= 0 && pick[i] === width - lost + i) i--;
      if (i < 0) break;
      pick[i]! += 1;
      for (let j = i + 1; j < lost; j++) pick[j] = pick[j - 1]! + 1;
    }
  }
  return { distinctSets: sets.size, coveredFraction: seen.size / possible, counted: true };
}

/** The cluster as it is now: the durability inputs, plus the nodes down and how long the repair backlog takes. */
export interface LiveDurabilityInput extends DurabilityInput {
  /** Nodes not answering now. */
  nodesDown: number;
  /** Seconds until what is down or pending now is rebuilt at the repair rate. */
  backlogSeconds: number;
}

/** What the model answers for the cluster's present state. */
export interface LiveDurabilityEstimate {
  nodesDown: number;
  /** Further members of one set whose loss loses data: m + 1 - nodesDown (0 when data may already be unreadable). */
  moreFailuresToLose: number;
  /** Loss events per year while the cluster stays as it is now. */
  lossEventsPerYear: number;
  /** The annual loss probability at that rate. */
  annualLossProbability: number;
  /** -log10(annualLossProbability): the cluster's nines now. */
  nines: number;
  /** Hours until the backlog is rebuilt. */
  backlogHours: number;
  /** Probability of losing data before the backlog is rebuilt (with more than m down: that some set already lost m + 1). */
  lossBeforeRepaired: number;
}

/**
 * The model of estimateDurability applied to the present state (docs/durability.md, "Live"): with d
 * nodes down, the sets that hold all of them have m - d spare shards, so data is lost when
 * m + 1 - d more of one such set fail; those sets are taken as the share C(n, d) / C(N, d) of the
 * distinct sets, spread over the N - d nodes still up. Its rate, while nothing is rebuilt, gives
 * the nines now, and over the backlog's repair time the probability of a loss before it is rebuilt.
 * With no node down this is the steady-state rate. With more than m down, the loss probability is
 * that some set holds m + 1 of the nodes down.
 */
export function estimateLiveDurability(input: LiveDurabilityInput): LiveDurabilityEstimate {
  const steady = estimateDurability(input);
  const { nodes: n, dataShards: k, parityShards: m, nodesDown: d } = input;
  if (!Number.isInteger(d) || d < 0 || d > n || !(input.backlogSeconds >= 0) || !Number.isFinite(input.backlogSeconds)) {
    throw new RangeError('live durability needs 0 <= nodes down <= nodes and a finite backlog time >= 0');
  }
  const width = k + m;
  const backlogYears = input.backlogSeconds / SECONDS_PER_YEAR;
  const backlogHours = backlogYears * 365 * 24;
  if (d > m) {
    const covered = estimatedCoverage(n, width, m + 1, input.distinctSets);
    const lost = Math.min(1, atLeastOnce(covered, Math.exp(logChoose(d, m + 1))));
    return { nodesDown: d, moreFailuresToLose: 0, lossEventsPerYear: Number.POSITIVE_INFINITY, annualLossProbability: lost, nines: nines(lost), backlogHours, lossBeforeRepaired: lost };
  }
  let rate = steady.lossEventsPerYear;
  if (d > 0) {
    const spare = m - d;
    const rest = n - d;
    const setsWithDown = input.distinctSets * Math.exp(logChoose(width, d) - logChoose(n, d));
    const covered = rest < width - d ? 0 : estimatedCoverage(rest, width - d, spare + 1, Math.max(setsWithDown, Number.MIN_VALUE));
    rate = lossRate(rest, spare, steady.failuresPerNodeYear, steady.unavailability, covered);
  }
  const annual = -Math.expm1(-rate);
  return {
    nodesDown: d,
    moreFailuresToLose: m + 1 - d,
    lossEventsPerYear: rate,
    annualLossProbability: annual,
    nines: nines(annual),
    backlogHours,
    lossBeforeRepaired: -Math.expm1(-rate * backlogYears),
  };
}

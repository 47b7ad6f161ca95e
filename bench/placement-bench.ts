/**
 * Placement simulation: builds rings for clusters of 10, 100, 1,000 and 10,000 nodes (4+2, so 6 replicas; the
 * 10,000-node cluster also as 8+4, 12 replicas) and reports build
 * time, lookups per second, balance, zone spread, and the slots moved when a node joins, a node leaves and a whole
 * zone is lost, each divided by the theoretical minimum (the slots the joining node must receive, or the slots the
 * departed nodes held). Every cluster runs twice: equal weights, and mixed weights (1, 2, 4 and 8, as in a cluster
 * bought over several years). For each ring it also reports the ring file's size (plain and gzipped), the CPU time to
 * parse, validate and compile it for lookups, and the heap a gateway holding the ring and its locator keeps.
 * Run with `npm run bench:placement` (PLACEMENT_BENCH_NODES=10000 runs only that size, both codes). Not part of `npm test`.
 */
import { cpus, loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import {
  RingLocator,
  buildRing,
  movedSlots,
  parseRing,
  serializeRing,
  planChange,
  ringStats,
  slotTargets,
  type Ring,
  type RingNode,
} from '../src/placement/index.js';

const SEED = 1;
const LOOKUP_KEYS = 100_000;
const LOOKUP_ROUNDS = 7;

interface Scenario {
  /** Data + parity shards, so the replicas per partition: 6 for 4+2, 12 for 8+4. */
  replicas: number;
  nodes: number;
  zones: number;
  partitionBits: number;
  weights: 'equal' | 'mixed';
}

const SCENARIOS: Scenario[] = [
  { replicas: 6, nodes: 10, zones: 3, partitionBits: 10, weights: 'equal' },
  { replicas: 6, nodes: 10, zones: 3, partitionBits: 10, weights: 'mixed' },
  { replicas: 6, nodes: 100, zones: 10, partitionBits: 14, weights: 'equal' },
  { replicas: 6, nodes: 100, zones: 10, partitionBits: 14, weights: 'mixed' },
  { replicas: 6, nodes: 1000, zones: 20, partitionBits: 16, weights: 'equal' },
  { replicas: 6, nodes: 1000, zones: 20, partitionBits: 16, weights: 'mixed' },
  { replicas: 6, nodes: 10000, zones: 100, partitionBits: 20, weights: 'equal' },
  { replicas: 12, nodes: 10000, zones: 100, partitionBits: 20, weights: 'equal' },
];

/** Build time targets: 2 s up to 1,000 nodes, 3 s for the 10,000-node, 2^20-partition ring. */
const buildTargetMs = (s: Scenario): number => (s.nodes >= 10000 ? 3000 : 2000);

const MIXED = [1, 2, 4, 8];

function member(i: number, zones: number, weights: Scenario['weights']): RingNode {
  return {
    id: `node-${String(i).padStart(4, '0')}`,
    address: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}:9100`,
    zone: `zone-${String(i % zones).padStart(2, '0')}`,
    weight: weights === 'equal' ? 1 : MIXED[(i * 7) % MIXED.length]!,
  };
}

/** CPU milliseconds of this (single-threaded) process: on a shared machine wall time measures the neighbours too. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const started = cpuMs();
  const value = fn();
  return { value, ms: cpuMs() - started };
}

function slotsOf(ring: Ring, ids: ReadonlySet<string>): number {
  let held = 0;
  for (const row of ring.table) for (const id of row) if (ids.has(id)) held++;
  return held;
}

/** Median lookups per CPU second of RingLocator.locate() over realistic keys, after a warm-up round. */
function lookupsPerSecond(ring: Ring): number {
  const keys = Array.from({ length: LOOKUP_KEYS }, (_, i) => `photos/2024/${(i * 2654435761) >>> 0}/IMG_${i}.jpg`);
  const locator = new RingLocator(ring);
  let sink = 0;
  const rates: number[] = [];
  for (let round = 0; round <= LOOKUP_ROUNDS; round++) {
    const started = cpuMs();
    for (const key of keys) sink += locator.locate('camera-uploads', key).partition;
    const rate = LOOKUP_KEYS / ((cpuMs() - started) / 1000);
    if (round > 0) rates.push(rate);
  }
  if (sink < 0) throw new Error('unreachable');
  return rates.sort((a, b) => a - b)[rates.length >> 1]!;
}

/** Heap in use after a full collection when the process runs with --expose-gc, else as it stands. */
function heapBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

interface Result {
  scenario: Scenario;
  buildMs: number;
  derivedMs: number;
  fileBytes: number;
  gzipBytes: number;
  loadMs: number;
  heldBytes: number;
  lookups: number;
  balance: number;
  weightError: number;
  primaryBalance: number;
  spread: string;
  add: { ratio: number; share: number; ms: number };
  remove: { ratio: number; share: number };
  zoneLoss: { ratio: number; share: number };
}

function simulate(scenario: Scenario): Result {
  const { replicas, nodes: count, zones, partitionBits, weights } = scenario;
  // A ring file as tessera ring create writes it (the paced fill); a gateway deriving its ring from
  // the same node list builds with the urgency fill, timed on its own.
  const options = { replicas, partitionBits, seed: SEED, fill: 'paced' as const };
  const members = Array.from({ length: count }, (_, i) => member(i, zones, weights));
  const totalSlots = replicas * 2 ** partitionBits;
  const built = timed(() => buildRing(null, members, options));
  const derivedMs = timed(() => buildRing(null, members, { ...options, fill: 'urgency' })).ms;
  const ring = built.value;
  // What a gateway holds and does with the ring file: the text arrives, is parsed, validated and compiled.
  const text = serializeRing(ring);
  const gzipBytes = gzipSync(text).length;
  const before = heapBytes();
  const loaded = timed(() => new RingLocator(parseRing(text)));
  const heldBytes = heapBytes() - before;
  if (loaded.value.nodesOf(0).length !== replicas) throw new Error('unreachable');
  const stats = ringStats(ring);
  const weightError = Math.max(...stats.nodes.map((n) => Math.abs(n.slots - n.targetSlots) / n.targetSlots));

  // A node joins: the minimum is what it must end up holding.
  const joiner = { ...member(count, zones, weights), id: 'joiner' };
  const grown = timed(() => buildRing(ring, [...members, joiner], options));
  const joinerIndex = grown.value.nodes.findIndex((n) => n.id === 'joiner');
  const joinerTarget = slotTargets(grown.value.nodes, replicas, partitionBits)[joinerIndex]!;
  const addMoved = movedSlots(planChange(ring, grown.value));

  // A node leaves: the minimum is the slots it held.
  const leaver = members[Math.floor(count / 2)]!;
  const shrunk = buildRing(ring, members.filter((n) => n.id !== leaver.id), options);
  const leaverHeld = slotsOf(ring, new Set([leaver.id]));
  const removeMoved = movedSlots(planChange(ring, shrunk));

  // A whole zone is lost: the minimum is the slots its nodes held.
  const lostZone = members[0]!.zone;
  const lost = new Set(members.filter((n) => n.zone === lostZone).map((n) => n.id));
  const survivors = buildRing(ring, members.filter((n) => !lost.has(n.id)), options);
  const zoneHeld = slotsOf(ring, lost);
  const zoneMoved = movedSlots(planChange(ring, survivors));

  return {
    scenario,
    buildMs: built.ms,
    derivedMs,
    fileBytes: text.length,
    gzipBytes,
    loadMs: loaded.ms,
    heldBytes,
    lookups: lookupsPerSecond(ring),
    balance: stats.balance,
    weightError,
    primaryBalance: stats.primaryBalance,
    spread: `${stats.maxZoneMembers}/${stats.zoneLimit}`,
    add: { ratio: addMoved / joinerTarget, share: addMoved / totalSlots, ms: grown.ms },
    remove: { ratio: removeMoved / leaverHeld, share: removeMoved / totalSlots },
    zoneLoss: { ratio: zoneMoved / zoneHeld, share: zoneMoved / totalSlots },
  };
}

function render(results: Result[]): string {
  const header = [
    'shards', 'nodes', 'zones', 'weights', 'partitions', 'build ms', 'derived ms', 'lookups/s', 'balance', 'max weight err',
    'shard-0 bal', 'zone spread', 'add node', 'remove node', 'lose zone', 'rebuild ms', 'ring file (gzip)', 'load ms', 'held MB',
  ];
  const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0);
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const moved = (m: { ratio: number; share: number }): string => `${m.ratio.toFixed(3)}x (${pct(m.share)})`;
  const rows = results.map((r) => [
    `${r.scenario.replicas - r.scenario.replicas / 3}+${r.scenario.replicas / 3}`,
    String(r.scenario.nodes),
    String(r.scenario.zones),
    r.scenario.weights,
    `2^${r.scenario.partitionBits}`,
    r.buildMs.toFixed(0),
    r.derivedMs.toFixed(0),
    `${(r.lookups / 1e6).toFixed(2)} M`,
    r.balance.toFixed(4),
    pct(r.weightError),
    r.primaryBalance.toFixed(3),
    r.spread,
    moved(r.add),
    moved(r.remove),
    moved(r.zoneLoss),
    r.add.ms.toFixed(0),
    `${mb(r.fileBytes)} MB (${mb(r.gzipBytes)} MB)`,
    r.loadMs.toFixed(0),
    mb(r.heldBytes),
  ]);
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const line = (row: string[]): string => `| ${row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const load = loadavg()[0]!.toFixed(1);
process.stdout.write(`placement simulation: 4+2 (6 replicas) and 8+4 (12), seed ${SEED}, Node ${process.version}, ${cpu} x${cpus().length}, load ${load}\n\n`);
const only = process.env.PLACEMENT_BENCH_NODES;
const results = SCENARIOS.filter((s) => only === undefined || String(s.nodes) === only).map(simulate);
process.stdout.write(`${render(results)}\n\n`);
process.stdout.write(
  [
    'build ms, rebuild ms (adding a node) and lookups/s are per CPU second of this single-threaded process, so a busy',
    'machine does not skew them; lookups are RingLocator.locate() calls over 100,000 distinct ~50-byte keys.',
    'build ms: a fresh ring as tessera ring create writes it (paced fill), which every other column describes;',
    'derived ms: the same members built as a gateway derives its ring from a node list (urgency fill).',
    'balance: max over nodes of slots / weight target (max/mean slot load for equal weights); max weight err: worst',
    'relative distance from the weight target; shard-0 bal: max over nodes of shard-0 slots / (slots / replicas);',
    'zone spread: most members of one zone in a partition / ceil(replicas / zones). Moves: slots moved / theoretical',
    'minimum (new node\'s target; departed node\'s or zone\'s slots), with the share of all data moved in brackets.',
    'ring file: serializeRing() size, gzipped in brackets; load ms: CPU time to parse, validate and compile the file for',
    'lookups (parseRing + RingLocator); held MB: heap kept by the parsed ring and its locator (exact with --expose-gc).',
    '',
  ].join('\n'),
);

const failures: string[] = [];
for (const r of results) {
  const name = `${r.scenario.nodes} nodes ${r.scenario.replicas} replicas ${r.scenario.weights}`;
  const target = buildTargetMs(r.scenario);
  if (r.buildMs >= target) failures.push(`${name}: build ${r.buildMs.toFixed(0)} ms >= ${target / 1000} s`);
  if (r.lookups < 1e6) failures.push(`${name}: ${r.lookups.toFixed(0)} lookups/s < 1 M`);
  if (r.weightError > 0.02) failures.push(`${name}: weight error ${(100 * r.weightError).toFixed(2)}% > 2%`);
  if (r.add.ratio > 1.1) failures.push(`${name}: adding a node moved ${r.add.ratio.toFixed(3)}x the minimum > 1.1x`);
  if (r.remove.ratio > 1.1) failures.push(`${name}: removing a node moved ${r.remove.ratio.toFixed(3)}x its slots > 1.1x`);
  const [held, limit] = r.spread.split('/').map(Number);
  if (held! > limit!) failures.push(`${name}: zone spread ${r.spread}`);
}
process.stdout.write(failures.length === 0 ? 'all targets met (build < 2 s, < 3 s at 10,000 nodes, >= 1 M lookups/s, weights within 2%, moves <= 1.1x, spread within limit)\n' : `targets missed:\n  ${failures.join('\n  ')}\n`);
process.exitCode = failures.length === 0 ? 0 : 1;

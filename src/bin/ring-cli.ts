import { access, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { TesseraError } from '../common/index.js';
import {
  DEFAULT_PARTITION_BITS,
  RingLocator,
  buildRing,
  minimumSlotMoves,
  movedSlots,
  parseRing,
  planChange,
  ringStats,
  serializeRing,
} from '../placement/index.js';
import type { Ring, RingFill, RingNode } from '../placement/index.js';
import { RING_USAGE } from './help.js';

/** Where the ring CLI writes: plain strings, so tests capture them and the entry point forwards them. */
export interface RingCliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** Replicas for a new ring when --replicas is not given: the default 4+2 erasure layout. */
const DEFAULT_REPLICAS = 6;

/** A mistake in the command line; `full` asks for the whole usage text rather than a pointer to it. */
export class UsageError extends TesseraError<'Usage'> {
  readonly full: boolean;

  constructor(message: string, full = false) {
    super('Usage', message);
    this.full = full;
  }
}

/**
 * How `--fill` fills a new ring's table; paced unless told. A ring written to a file is read as it
 * is, so it may use the faster fill; only rings derived from a node list keep the urgency fill.
 */
export function fillOption(value: string | undefined): RingFill {
  if (value === undefined || value === 'paced') return 'paced';
  if (value === 'urgency') return 'urgency';
  throw new UsageError(`--fill must be paced or urgency; got ${JSON.stringify(value)}`);
}

function usage(message: string, full = false): never {
  throw new UsageError(message, full);
}

const OPTIONS = {
  node: { type: 'string', multiple: true },
  nodes: { type: 'string' },
  replicas: { type: 'string' },
  'partition-bits': { type: 'string' },
  seed: { type: 'string' },
  fill: { type: 'string' },
  force: { type: 'boolean' },
  out: { type: 'string' },
  'data-shards': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

function integerOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) usage(`--${name} must be an integer; got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseWeight(text: string, where: string): number {
  const weight = Number(text);
  if (text.trim() === '' || !Number.isFinite(weight) || weight < 0) usage(`${where}: weight must be a number >= 0; got ${JSON.stringify(text)}`);
  return weight;
}

/** Parses a node spec of the ring commands: ID=HOST:PORT[,zone=ZONE][,weight=W]. */
export function parseNodeSpec(spec: string): RingNode {
  const eq = spec.indexOf('=');
  if (eq <= 0) usage(`--node ${JSON.stringify(spec)}: expected ID=HOST:PORT[,zone=ZONE][,weight=W]`);
  const [address = '', ...extras] = spec.slice(eq + 1).split(',');
  const node: RingNode = { id: spec.slice(0, eq), address, zone: 'default', weight: 1 };
  for (const extra of extras) {
    const [key, value = ''] = extra.split('=', 2);
    if (key === 'zone') node.zone = value;
    else if (key === 'weight') node.weight = parseWeight(value, `--node ${node.id}`);
    else usage(`--node ${node.id}: unknown field ${JSON.stringify(key)} (zone and weight are known)`);
  }
  return node;
}

/** Reads a --nodes file: an array of {id, address, zone?, weight?} or an object with such a "nodes" array. */
export async function readNodesFile(path: string): Promise<RingNode[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new SyntaxError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
  const list = Array.isArray(doc) ? doc : (doc as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(list)) usage(`${path}: expected a JSON array of nodes or an object with a "nodes" array`);
  // Missing zone and weight take the same defaults as the cluster config.
  return list.map((entry: Record<string, unknown>) => ({ zone: 'default', weight: 1, ...entry }) as RingNode);
}

/** Reads and validates a ring file; errors name the file. */
export async function loadRing(path: string): Promise<Ring> {
  try {
    return parseRing(await readFile(path, 'utf8'));
  } catch (err) {
    if (err instanceof TesseraError) throw new TesseraError(err.code, `${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Writes beside the target and renames, so a reader never sees half a ring. */
export async function writeRing(path: string, ring: Ring): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, serializeRing(ring));
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

function table(rows: (string | number)[][], rightAligned: ReadonlySet<number>): string {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells
    .map((row) => row.map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd())
    .join('\n')
    .concat('\n');
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

const percent = (part: number, whole: number): string => `${whole === 0 ? '0.0' : ((100 * part) / whole).toFixed(1)}%`;

function describeChange(previous: Ring, next: Ring): string {
  const plan = planChange(previous, next);
  const moved = movedSlots(plan);
  const slots = next.table.partitions * next.replicas;
  const minimum = minimumSlotMoves(previous, next);
  const ratio = minimum > 0 ? ` (${(moved / minimum).toFixed(2)}x the minimum ${Math.ceil(minimum)})` : '';
  return `epoch ${plan.fromEpoch} -> ${plan.toEpoch}: ${moved} of ${slots} slots move (${percent(moved, slots)}) in ${plan.moves.length} partitions${ratio}\n`;
}

/** `tessera ring show`'s report: balance per node and per zone. */
export function showRing(path: string, ring: Ring): string {
  const stats = ringStats(ring);
  const nodesById = new Map(ring.nodes.map((node) => [node.id, node]));
  const zones = stats.zones.filter((zone) => zone.weight > 0).length;
  const slots = stats.partitions * stats.replicas;
  let out = `${path}: epoch ${ring.epoch}, ${plural(stats.partitions, 'partition')} (bits ${ring.partitionBits}), `;
  out += `${plural(stats.replicas, 'replica')}, ${plural(ring.nodes.length, 'node')} in ${plural(zones, 'zone')}, ${slots} slots\n`;
  out += `balance ${stats.balance.toFixed(3)} (max slots/target; 1 is perfect), shard-0 balance ${stats.primaryBalance.toFixed(3)}, `;
  out += `zone spread ${stats.maxZoneMembers} per partition (limit ${stats.zoneLimit})\n\n`;
  const nodeRows: (string | number)[][] = [['NODE', 'ZONE', 'ADDRESS', 'WEIGHT', 'SLOTS', 'TARGET', 'DIFF', 'SHARD0']];
  for (const node of stats.nodes) {
    const diff = node.targetSlots > 0 ? `${node.slots >= node.targetSlots ? '+' : ''}${percent(node.slots - node.targetSlots, node.targetSlots)}` : '-';
    nodeRows.push([node.id, node.zone, nodesById.get(node.id)!.address, node.weight, node.slots, node.targetSlots.toFixed(1), diff, node.primaries]);
  }
  out += table(nodeRows, new Set([3, 4, 5, 6, 7]));
  out += '\n';
  const zoneRows: (string | number)[][] = [['ZONE', 'NODES', 'WEIGHT', 'SLOTS', 'TARGET', 'SHARE', 'MAX/PARTITION']];
  for (const zone of stats.zones) {
    zoneRows.push([zone.zone, zone.nodes, zone.weight, zone.slots, zone.targetSlots.toFixed(1), percent(zone.slots, slots), zone.maxPerPartition]);
  }
  out += table(zoneRows, new Set([1, 2, 3, 4, 5, 6]));
  if (stats.maxZoneMembers > stats.zoneLimit) {
    out += `\nwarning: a partition holds ${stats.maxZoneMembers} members of one zone, above ceil(${stats.replicas}/${zones}) = ${stats.zoneLimit}: `;
    out += 'some zones have too few nodes to spread every partition; losing such a zone can lose data.\n';
  }
  const stranded = stats.nodes.filter((node) => node.weight === 0 && node.slots > 0);
  if (stranded.length > 0) out += `\nnote: zero-weight nodes still holding slots: ${stranded.map((node) => node.id).join(', ')}\n`;
  return out;
}

function diffRings(previous: Ring, next: Ring): string {
  const plan = planChange(previous, next);
  const before = previous.table.slotsById();
  const after = next.table.slotsById();
  const gained = new Map<string, number>();
  const lost = new Map<string, number>();
  const bump = (map: Map<string, number>, id: string | undefined): void => {
    if (id !== undefined) map.set(id, (map.get(id) ?? 0) + 1);
  };
  for (const { from, to } of plan.moves) {
    for (let i = 0; i < Math.max(from.length, to.length); i++) {
      if (from[i] === to[i]) continue;
      bump(lost, from[i]);
      bump(gained, to[i]);
    }
  }
  const ids = [...new Set([...previous.nodes.map((n) => n.id), ...next.nodes.map((n) => n.id)])].sort();
  const rows: (string | number)[][] = [['NODE', 'BEFORE', 'AFTER', 'GAINED', 'LOST']];
  for (const id of ids) {
    const had = previous.nodes.some((n) => n.id === id);
    const has = next.nodes.some((n) => n.id === id);
    rows.push([id, had ? (before.get(id) ?? 0) : '-', has ? (after.get(id) ?? 0) : '-', gained.get(id) ?? 0, lost.get(id) ?? 0]);
  }
  return describeChange(previous, next) + '\n' + table(rows, new Set([1, 2, 3, 4]));
}

function locateObject(ring: Ring, bucket: string, key: string, dataShards: number | undefined, json: boolean): string {
  const locator = new RingLocator(ring);
  const { partition, nodes } = locator.locate(bucket, key);
  const handoffs = locator.handoffs(partition);
  const role = (shardIndex: number): string => (dataShards === undefined ? '' : shardIndex < dataShards ? 'data' : 'parity');
  if (json) {
    const shards = nodes.map((node, shardIndex) => ({ shardIndex, ...(dataShards === undefined ? {} : { role: role(shardIndex) }), ...node }));
    return `${JSON.stringify({ bucket, key, epoch: ring.epoch, partition, shards, handoffs: handoffs.map((node) => node.id) })}\n`;
  }
  let out = `bucket ${JSON.stringify(bucket)} key ${JSON.stringify(key)}: partition ${partition} of ${ring.table.partitions} (epoch ${ring.epoch})\n\n`;
  const header = dataShards === undefined ? ['SHARD', 'NODE', 'ZONE', 'ADDRESS'] : ['SHARD', 'ROLE', 'NODE', 'ZONE', 'ADDRESS'];
  const rows: (string | number)[][] = [header];
  nodes.forEach((node, shardIndex) => {
    const cells = [shardIndex, node.id, node.zone, node.address];
    if (dataShards !== undefined) cells.splice(1, 0, role(shardIndex));
    rows.push(cells);
  });
  out += table(rows, new Set([0]));
  const shown = handoffs.slice(0, 8).map((node) => node.id);
  if (shown.length > 0) out += `\nhandoffs, in order: ${shown.join(', ')}${handoffs.length > shown.length ? ', ...' : ''}\n`;
  return out;
}

async function changeRing(path: string, values: Values, members: (ring: Ring) => RingNode[], io: RingCliIo): Promise<void> {
  const previous = await loadRing(path);
  const seed = integerOption(values.seed, 'seed', 0);
  const next = buildRing(previous, members(previous), { replicas: previous.replicas, partitionBits: previous.partitionBits, seed });
  const target = values.out ?? path;
  await writeRing(target, next);
  io.stdout(`wrote ${target}\n${describeChange(previous, next)}`);
}

async function run(args: string[], io: RingCliIo): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    io.stdout(RING_USAGE);
    return;
  }
  const arity = (count: number, shape: string): void => {
    if (rest.length !== count) usage(`${command} takes ${shape}`);
  };
  switch (command) {
    case 'create': {
      arity(1, 'RING');
      const path = rest[0]!;
      const members = [...(values.node ?? []).map(parseNodeSpec), ...(values.nodes ? await readNodesFile(values.nodes) : [])];
      if (members.length === 0) usage('create needs nodes: --node SPEC (repeatable) or --nodes FILE');
      if (!values.force && (await access(path).then(() => true, () => false))) usage(`${path} exists; pass --force to replace it`);
      const replicas = integerOption(values.replicas, 'replicas', DEFAULT_REPLICAS);
      const partitionBits = integerOption(values['partition-bits'], 'partition-bits', DEFAULT_PARTITION_BITS);
      const ring = buildRing(null, members, { replicas, partitionBits, seed: integerOption(values.seed, 'seed', 0), fill: fillOption(values.fill) });
      await writeRing(path, ring);
      io.stdout(`wrote ${path}\n${showRing(path, ring)}`);
      return;
    }
    case 'add': {
      arity(1, 'RING --node SPEC...');
      const added = (values.node ?? []).map(parseNodeSpec);
      if (added.length === 0) usage('add needs at least one --node SPEC');
      await changeRing(rest[0]!, values, (ring) => {
        for (const node of added) if (ring.nodes.some((n) => n.id === node.id)) usage(`node ${node.id} is already in the ring`);
        return [...ring.nodes, ...added];
      }, io);
      return;
    }
    case 'remove': {
      if (rest.length < 2) usage('remove takes RING ID...');
      const [path, ...ids] = rest as [string, ...string[]];
      await changeRing(path, values, (ring) => {
        for (const id of ids) if (!ring.nodes.some((n) => n.id === id)) usage(`node ${id} is not in the ring`);
        return ring.nodes.filter((node) => !ids.includes(node.id));
      }, io);
      return;
    }
    case 'reweight': {
      arity(3, 'RING ID WEIGHT');
      const [path, id, text] = rest as [string, string, string];
      const weight = parseWeight(text, `reweight ${id}`);
      await changeRing(path, values, (ring) => {
        if (!ring.nodes.some((n) => n.id === id)) usage(`node ${id} is not in the ring`);
        return ring.nodes.map((node) => (node.id === id ? { ...node, weight } : node));
      }, io);
      return;
    }
    case 'show': {
      arity(1, 'RING');
      io.stdout(showRing(rest[0]!, await loadRing(rest[0]!)));
      return;
    }
    case 'diff': {
      arity(2, 'OLD NEW');
      io.stdout(diffRings(await loadRing(rest[0]!), await loadRing(rest[1]!)));
      return;
    }
    case 'locate': {
      arity(3, 'RING BUCKET KEY');
      const dataShards = values['data-shards'] === undefined ? undefined : integerOption(values['data-shards'], 'data-shards', 0);
      io.stdout(locateObject(await loadRing(rest[0]!), rest[1]!, rest[2]!, dataShards, values.json ?? false));
      return;
    }
    case undefined:
      usage('missing command', true);
    default:
      usage(`unknown command ${JSON.stringify(command)}`, true);
  }
}

/** Runs `tessera ring ...`: 0 on success, 1 when the work failed (bad ring, file error), 2 on a usage error. */
export async function runRingCli(args: string[], io: RingCliIo): Promise<number> {
  try {
    await run(args, io);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      const help = err instanceof UsageError && err.full ? `\n${RING_USAGE}` : '(tessera ring --help for usage)\n';
      io.stderr(`tessera ring: ${(err as Error).message}\n${help}`);
      return 2;
    }
    // A bad ring or node list, or a file the system refused: the operator's to fix, not a crash.
    if (err instanceof TesseraError || err instanceof SyntaxError || typeof code === 'string') {
      io.stderr(`tessera ring: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

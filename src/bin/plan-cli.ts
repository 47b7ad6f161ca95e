import { parseArgs } from 'node:util';
import { TesseraError, type Env } from '../common/index.js';
import { DEFAULT_PARTITION_BITS, MAX_PARTITION_BITS, estimateDurability, expectedDistinctSets, ringStats, ringSpread, zoneSpreadLimit } from '../placement/index.js';
import type { DurabilityEstimate, DurabilityInput } from '../placement/index.js';
import { UsageError, loadRing } from './ring-cli.js';

/** Where the planner writes. */
export interface PlanCliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const OPTIONS = {
  ec: { type: 'string' },
  afr: { type: 'string' },
  'disk-size': { type: 'string' },
  'repair-rate': { type: 'string' },
  nodes: { type: 'string' },
  zones: { type: 'string' },
  'partition-bits': { type: 'string' },
  ring: { type: 'string' },
  measured: { type: 'boolean' },
  config: { type: 'string' },
  data: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

// Each list is short and every combination is one row: bound what one command line can ask for.
const MAX_LIST = 8;
const MAX_ROWS = 256;
const MAX_NODES = 1_000_000;

function usage(message: string): never {
  throw new UsageError(message);
}

/** A comma list of positive numbers, each checked by `valid`. */
function numberList(value: string | undefined, name: string, valid: (x: number) => boolean, fallback?: number): number[] {
  if (value === undefined) {
    if (fallback === undefined) usage(`--${name} is required`);
    return [fallback];
  }
  const parts = value.split(',');
  if (parts.length > MAX_LIST) usage(`--${name} takes at most ${MAX_LIST} values`);
  return parts.map((part) => {
    const x = /^\d+(\.\d+)?$/.test(part) ? Number(part) : Number.NaN;
    if (!valid(x)) usage(`--${name}: ${JSON.stringify(part)} is out of range`);
    return x;
  });
}

interface Layout {
  name: string;
  dataShards: number;
  parityShards: number;
}

/** "K+M" or "Rx" (R replicas: one data shard and R - 1 copies). */
function parseLayouts(value: string | undefined): Layout[] {
  if (value === undefined) usage('--ec is required (e.g. --ec 4+2)');
  const parts = value.split(',');
  if (parts.length > MAX_LIST) usage(`--ec takes at most ${MAX_LIST} values`);
  return parts.map((part) => {
    const ec = /^(\d{1,2})\+(\d{1,2})$/.exec(part);
    const replicas = /^(\d{1,2})x$/.exec(part);
    const k = ec ? Number(ec[1]) : replicas ? 1 : 0;
    const m = ec ? Number(ec[2]) : replicas ? Number(replicas[1]) - 1 : -1;
    if (k < 1 || m < 0 || k + m > 64) usage(`--ec: ${JSON.stringify(part)} must be K+M (K >= 1, K+M <= 64) or Rx`);
    return { name: ec ? `${k}+${m}` : `${m + 1}x`, dataShards: k, parityShards: m };
  });
}

/** One row of the planner's table: the question and the model's answer. */
export interface PlanRow {
  layout: string;
  nodes: number;
  zones: number;
  distinctSets: number;
  repairMBps: number;
  estimate: DurabilityEstimate;
}

/** The table's rows, and the combinations that cannot exist (say 8+4 on 6 nodes). */
export interface Plan {
  rows: PlanRow[];
  skipped: string[];
}

/** Every combination of the options, estimated; a single impossible combination is a usage error. */
export async function planDurability(values: Partial<Record<keyof typeof OPTIONS, string | boolean>>): Promise<Plan> {
  const str = (name: keyof typeof OPTIONS): string | undefined => (typeof values[name] === 'string' ? values[name] : undefined);
  const layouts = parseLayouts(str('ec'));
  const [afrPct] = numberList(str('afr'), 'afr', (x) => x > 0 && x < 100);
  const [diskTB] = numberList(str('disk-size'), 'disk-size', (x) => x > 0 && x <= 1e6);
  const rates = numberList(str('repair-rate'), 'repair-rate', (x) => x > 0 && x <= 1e6);
  const ringPath = str('ring');
  const rows: PlanRow[] = [];
  const skipped: string[] = [];
  const common = { annualFailureRate: afrPct! / 100, nodeBytes: diskTB! * 1e12 };
  // One row per repair rate for a layout on a cluster shape; `shape` is what the ring or the options say of it.
  const addRows = (layout: (typeof layouts)[number], shape: Pick<DurabilityInput, 'nodes' | 'zones' | 'distinctSets' | 'zoneMembers'> & { coveredFraction?: number }): void => {
    for (const rate of rates) {
      const input: DurabilityInput = { ...common, ...shape, dataShards: layout.dataShards, parityShards: layout.parityShards, repairBytesPerSecond: rate * 1e6 };
      rows.push({ layout: layout.name, nodes: shape.nodes, zones: shape.zones, distinctSets: shape.distinctSets, repairMBps: rate, estimate: estimateDurability(input) });
    }
  };
  if (ringPath !== undefined) {
    if (str('nodes') !== undefined || str('zones') !== undefined) usage('give --ring or --nodes/--zones, not both');
    const ring = await loadRing(ringPath);
    const stats = ringStats(ring);
    const zones = new Set(ring.nodes.filter((n) => n.weight > 0).map((n) => n.zone)).size;
    const nodes = ring.nodes.filter((n) => n.weight > 0).length;
    for (const layout of layouts) {
      if (layout.dataShards + layout.parityShards !== ring.replicas) {
        usage(`--ec ${layout.name} places ${layout.dataShards + layout.parityShards} shards; the ring places ${ring.replicas}`);
      }
      const spread = ringSpread(ring, layout.parityShards);
      addRows(layout, { nodes, zones, distinctSets: spread.distinctSets, coveredFraction: spread.coveredFraction, zoneMembers: stats.maxZoneMembers });
    }
    return { rows, skipped };
  }
  const nodeCounts = numberList(str('nodes'), 'nodes', (x) => Number.isInteger(x) && x >= 1 && x <= MAX_NODES);
  const zoneCounts = numberList(str('zones'), 'zones', (x) => Number.isInteger(x) && x >= 1 && x <= MAX_NODES, 1);
  const [bits] = numberList(str('partition-bits'), 'partition-bits', (x) => Number.isInteger(x) && x <= MAX_PARTITION_BITS, DEFAULT_PARTITION_BITS);
  const combinations = layouts.length * nodeCounts.length * zoneCounts.length * rates.length;
  if (combinations > MAX_ROWS) usage(`at most ${MAX_ROWS} combinations`);
  const impossible = (message: string): void => {
    if (combinations === 1) usage(message);
    skipped.push(message);
  };
  for (const layout of layouts) {
    const width = layout.dataShards + layout.parityShards;
    for (const nodes of nodeCounts) {
      if (nodes < width) {
        impossible(`${nodes} nodes cannot hold ${layout.name}: it needs ${width}`);
        continue;
      }
      for (const zones of zoneCounts) {
        if (zones > nodes) {
          impossible(`${zones} zones need at least as many nodes; got ${nodes}`);
          continue;
        }
        const distinctSets = Math.max(1, Math.round(expectedDistinctSets(nodes, width, 2 ** bits!)));
        addRows(layout, { nodes, zones, distinctSets, zoneMembers: zoneSpreadLimit(width, zones) });
      }
    }
  }
  return { rows, skipped };
}

function formatBytes(bytes: number): string {
  if (bytes < 1) return `${bytes.toExponential(0)} B`;
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let x = bytes;
  let u = 0;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return x >= 100 || u === 0 ? `${x.toFixed(0)} ${units[u]}` : `${x.toPrecision(2)} ${units[u]}`;
}

function formatHours(hours: number): string {
  return hours < 48 ? `${hours.toFixed(1)} h` : `${(hours / 24).toFixed(1)} d`;
}

function zoneCell(row: PlanRow): string {
  const zone = row.estimate.zoneLoss;
  if (row.zones === 1) return 'all data (1 zone)';
  if (!zone.survives) return `data lost (${zone.zoneMembers} > m shards per zone)`;
  return `survives; P(loss) ${(zone.lossWhileRebuilding ?? 0).toExponential(1)} until rebuilt`;
}

/** The planner's table, as Markdown. */
export function renderPlan(rows: readonly PlanRow[]): string {
  const header = ['layout', 'nodes', 'zones', 'sets', 'repair', 'rebuild', 'P(loss)/year', 'nines', 'lost/year', 'zone lost'];
  const body = rows.map((row) => [
    row.layout,
    String(row.nodes),
    String(row.zones),
    String(row.distinctSets),
    `${row.repairMBps} MB/s`,
    formatHours(row.estimate.repairHours),
    row.estimate.annualLossProbability.toExponential(1),
    Number.isFinite(row.estimate.nines) ? row.estimate.nines.toFixed(1) : 'inf',
    formatBytes(row.estimate.expectedBytesLostPerYear),
    zoneCell(row),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]): string => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/**
 * --measured: the repair rate the running cluster's nodes measured (the median of their rebuild
 * rates, as `admin status` reads it), from the nodes of --config or the embedded cluster of --data.
 */
async function measuredRate(values: { config?: string | undefined; data?: string | undefined }, env: Env): Promise<string> {
  const { resolveTarget } = await import('./admin-cli.js');
  const { readMeasuredRepairRate } = await import('./live-durability.js');
  const { NodeClient } = await import('../rpc/index.js');
  const target = await resolveTarget(values.config, values.data, env);
  const clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
  try {
    const bytesPerSecond = await readMeasuredRepairRate(clients, AbortSignal.timeout(10_000));
    return String(Math.max(0.001, Math.round(bytesPerSecond / 1e3) / 1e3));
  } catch (err) {
    throw new TesseraError('MeasuredRateUnknown', `--measured: ${(err as Error).message}`, { cause: err });
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** `tessera plan durability ...`. */
export async function runPlanCli(args: string[], io: PlanCliIo, env: Env = {}): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    if (positionals[0] !== 'durability' || positionals.length > 1) usage('usage: tessera plan durability ... (tessera plan --help)');
    if (values.measured === true) {
      if (values['repair-rate'] !== undefined) usage('give --repair-rate or --measured, not both');
      values['repair-rate'] = await measuredRate(values, env);
    } else if (values.config !== undefined || values.data !== undefined) {
      usage('--config and --data name the cluster --measured reads');
    }
    const { rows, skipped } = await planDurability(values);
    if (values.json === true) {
      io.stdout(`${JSON.stringify({ rows, skipped }, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      return 0;
    }
    const afr = String(values.afr);
    const disk = String(values['disk-size']);
    io.stdout(
      `durability: nodes fail independently at ${afr}% a year, each holding ${disk} TB; a failed node is rebuilt at the repair rate;\n` +
        'data is lost when a node fails while m others of one of its partition sets are being rebuilt (docs/durability.md)\n' +
        (values.measured === true ? `repair rate ${values['repair-rate']} MB/s: measured by the cluster's nodes (the median of their rebuild rates)\n\n` : '\n') +
        `${renderPlan(rows)}\n\n` +
        'sets: distinct partition sets (more sets, more ways for m+1 failures to meet in one); nines: -log10 P(loss)/year;\n' +
        'lost/year: expected bytes of object data lost per year; zone lost: one whole zone down at once.\n' +
        skipped.map((line) => `skipped: ${line}\n`).join(''),
    );
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      io.stderr(`tessera plan: ${(err as Error).message}\n(tessera plan --help for usage)\n`);
      return 2;
    }
    if (err instanceof TesseraError || err instanceof SyntaxError || err instanceof RangeError || typeof code === 'string') {
      io.stderr(`tessera plan: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

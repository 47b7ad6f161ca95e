import { DEFAULT_PARTITION_BITS, estimateLiveDurability, expectedDistinctSets, parseRing, ringSpread, type LiveDurabilityEstimate, type Ring } from '../placement/index.js';
import { DEFAULTS, GatewaySettings, type Env } from '../common/index.js';
import type { NodeClient, NodeHealth, NodeWorkStatus } from '../rpc/index.js';
import { gatewayConfigFrom, readConfigFile } from './config-files.js';

/** What `admin status` assumes where the cluster has no figure of its own; each can be given on the command line. */
export const LIVE_DEFAULTS = { afrPct: 1.5, diskSizeTB: 16, repairMBps: 50 } as const;

/** One node's status as `admin status` read it, or why it could not. */
export type LiveStatusRow = NodeWorkStatus | { nodeId: string; error: string };

/** The erasure layout the cluster writes new objects with. */
export interface LiveLayout {
  dataShards: number;
  parityShards: number;
}

/** The cluster's live inputs to the durability model, each with where it came from. */
export interface LiveState {
  nodes: number;
  nodesDown: number;
  zones: number;
  distinctSets: number;
  /** True when zones and sets were read from a ring a node holds. */
  fromRing: boolean;
  layout: LiveLayout;
  /** Bytes per node: the most any node reports holding, or the assumed disk size when none reports it. */
  nodeBytes: number;
  nodeBytesMeasured: boolean;
  /** Bytes/s one node's data is rebuilt at: the median of the nodes' measured repair rates, or the assumed rate. */
  repairBytesPerSecond: number;
  repairMeasured: boolean;
  /** Seconds to rebuild what is down and pending now at that rate. */
  backlogSeconds: number;
  estimate: LiveDurabilityEstimate;
}

/** Median of the repair rates (bytes/s) the nodes have measured; null when no node has rebuilt anything yet. */
export function measuredRepairRate(rows: readonly LiveStatusRow[]): number | null {
  const rates = rows
    .filter((row): row is NodeWorkStatus => !('error' in row) && row.figures.repair.rebuildMs > 0 && row.figures.repair.mbPerSecond > 0)
    .map((row) => row.figures.repair.mbPerSecond * 1e6)
    .sort((a, b) => a - b);
  if (rates.length === 0) return null;
  const mid = rates.length >> 1;
  return rates.length % 2 === 1 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
}

/**
 * The cluster's nines now, from the statuses `admin status` read, each answering node's health
 * (its used bytes) and the ring one of them holds. Nodes that did not answer count as down.
 */
export async function readLiveState(
  clients: readonly NodeClient[],
  rows: readonly LiveStatusRow[],
  layout: LiveLayout,
  assumed: { afrPct: number; diskSizeTB: number; repairMBps: number },
  signal: AbortSignal,
): Promise<LiveState> {
  const up = rows.map((row) => !('error' in row));
  const health = await Promise.all(clients.map((client, i) => (up[i] === true ? client.health({ signal }).catch(() => null) : Promise.resolve(null))));
  const ring = await firstRing(clients, up, signal);
  const width = layout.dataShards + layout.parityShards;
  const nodes = ring?.nodes.filter((node) => node.weight > 0).length ?? clients.length;
  const zones = ring === null ? 1 : new Set(ring.nodes.filter((node) => node.weight > 0).map((node) => node.zone)).size;
  const distinctSets =
    ring !== null && ring.replicas === width
      ? ringSpread(ring, layout.parityShards).distinctSets
      : Math.max(1, Math.round(expectedDistinctSets(Math.max(nodes, width), width, 2 ** DEFAULT_PARTITION_BITS)));
  const used = health.map((h) => usedBytesOf(h)).filter((bytes): bytes is number => bytes !== null);
  const nodeBytesMeasured = used.length > 0 && Math.max(...used) > 0;
  const nodeBytes = nodeBytesMeasured ? Math.max(...used) : assumed.diskSizeTB * 1e12;
  const measured = measuredRepairRate(rows);
  const repairBytesPerSecond = measured ?? assumed.repairMBps * 1e6;
  const nodesDown = up.filter((answered) => !answered).length;
  // Down nodes are rebuilt in parallel, each at the repair rate; each node works through its own pending
  // repairs at that rate too (a pending item weighs what the node's average key does).
  let pendingBytes = 0;
  rows.forEach((row, i) => {
    if ('error' in row || row.figures.repair.pending === 0) return;
    const bytes = usedBytesOf(health[i] ?? null) ?? nodeBytes;
    pendingBytes = Math.max(pendingBytes, (row.figures.repair.pending * bytes) / Math.max(1, row.figures.scrub.keysTotal));
  });
  const backlogSeconds = Math.max(nodesDown > 0 ? nodeBytes : 0, pendingBytes) / repairBytesPerSecond;
  const estimate = estimateLiveDurability({
    nodes: Math.max(nodes, width),
    zones,
    dataShards: layout.dataShards,
    parityShards: layout.parityShards,
    annualFailureRate: assumed.afrPct / 100,
    nodeBytes,
    repairBytesPerSecond,
    distinctSets,
    nodesDown,
    backlogSeconds,
  });
  return { nodes, nodesDown, zones, distinctSets, fromRing: ring !== null, layout, nodeBytes, nodeBytesMeasured, repairBytesPerSecond, repairMeasured: measured !== null, backlogSeconds, estimate };
}

function usedBytesOf(health: NodeHealth | null): number | null {
  return typeof health?.usedBytes === 'number' ? health.usedBytes : null;
}

/** The ring the first answering node holds; null when none holds one (a static node list). */
async function firstRing(clients: readonly NodeClient[], up: readonly boolean[], signal: AbortSignal): Promise<Ring | null> {
  for (let i = 0; i < clients.length; i++) {
    if (up[i] !== true) continue;
    try {
      const document = await clients[i]!.fetchRing({ signal });
      if (document !== null) return parseRing(document);
    } catch {
      // Ask the next node.
    }
  }
  return null;
}

/** `admin status`'s cluster line: the nines now and the inputs they came from. */
export function formatLiveState(state: LiveState, afrPct: number): string {
  const { estimate, layout } = state;
  const m = layout.parityShards;
  const nines = Number.isFinite(estimate.nines) ? estimate.nines.toFixed(1) : 'inf';
  const size = (bytes: number): string => (bytes >= 1e12 ? `${(bytes / 1e12).toFixed(1)} TB` : bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`);
  const risk =
    state.nodesDown > m
      ? `${state.nodesDown} down, more than ${m} parity: P(some set already lost) ${estimate.lossBeforeRepaired.toExponential(1)}`
      : `${state.nodesDown} down: ${estimate.moreFailuresToLose} more failures in one set lose data`;
  const backlog =
    state.backlogSeconds === 0
      ? 'no repair backlog'
      : `repair backlog ${hours(estimate.backlogHours)}, P(loss before rebuilt) ${estimate.lossBeforeRepaired.toExponential(1)}`;
  return (
    `cluster    nines now ${nines} (P(loss)/year ${estimate.annualLossProbability.toExponential(1)}); ${risk}; ${backlog}\n` +
    `           ${layout.dataShards}+${m} on ${state.nodes} nodes, ${state.zones} zone${state.zones === 1 ? '' : 's'}, ${state.distinctSets} sets${state.fromRing ? '' : ' (expected; no ring)'}; ` +
    `${size(state.nodeBytes)} per node${state.nodeBytesMeasured ? '' : ' assumed (no node reports used bytes; --disk-size)'}; ` +
    `repair ${(state.repairBytesPerSecond / 1e6).toFixed(1)} MB/s ${state.repairMeasured ? 'measured' : 'assumed (none measured yet; --repair-rate)'}; AFR ${afrPct} % (--afr)\n`
  );
}

function hours(h: number): string {
  if (h < 1 / 60) return `${(h * 3600).toFixed(1)} s`;
  return h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} d`;
}

/** The erasure layout new objects are written with: the gateway configuration's, or the embedded cluster's (its environment or defaults). */
export async function erasureLayout(config: string | undefined, env: Env): Promise<LiveLayout> {
  if (config !== undefined) {
    const { erasure } = gatewayConfigFrom(await readConfigFile(config), env);
    return { dataShards: erasure.dataShards, parityShards: erasure.parityShards };
  }
  const settings = GatewaySettings.properties.erasure.properties;
  const dataShards = Number(env[settings.dataShards.env] ?? DEFAULTS.dataShards);
  const parityShards = Number(env[settings.parityShards.env] ?? DEFAULTS.parityShards);
  if (!Number.isInteger(dataShards) || dataShards < 1 || !Number.isInteger(parityShards) || parityShards < 0) throw new Error('the embedded cluster\'s erasure layout is not whole numbers');
  return { dataShards, parityShards };
}

/** The repair rate (bytes/s) the nodes have measured, read as `admin status` reads it; throws when none has rebuilt anything yet. */
export async function readMeasuredRepairRate(clients: readonly NodeClient[], signal: AbortSignal): Promise<number> {
  const answers = await Promise.allSettled(clients.map((client) => client.workStatus({ signal })));
  const rows = answers.flatMap((answer) => (answer.status === 'fulfilled' ? [answer.value] : []));
  if (rows.length === 0) throw new Error('no node answered');
  const rate = measuredRepairRate(rows);
  if (rate === null) throw new Error(`none of the ${rows.length} nodes that answered has rebuilt anything since it started, so there is no measured repair rate; give --repair-rate`);
  return rate;
}

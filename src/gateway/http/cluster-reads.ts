import { inspectObject, type ListPathDeps } from '../data-path/index.js';
import type { AccessDeps } from './auth-deps.js';
import { s3VersionId, versionIdParam } from '../s3/index.js';
import { deliveryTotals } from './console-events.js';

/**
 * The cluster's own state as the console's pages and the admin API read it: the ring and each node's
 * health, each node's background work, and one object version's shard map. One implementation for
 * both, so a page and an API call answer alike.
 */

/** What the cluster reads need: the nodes and ring, the erasure layout, and the target definitions (for delivery figures). */
export type ClusterReadDeps = Pick<ListPathDeps, 'cluster' | 'erasure'> & Pick<AccessDeps, 'users'>;

/** Longest a cluster read waits for one node. */
const NODE_TIMEOUT_MS = 5_000;

/**
 * Each node's background work (scrub, repair, rebalance), or why the node did not say; and the delivery
 * of event notifications and replication per target, summed over the nodes that answered.
 */
export async function healing(services: Pick<ClusterReadDeps, 'cluster' | 'users'>): Promise<unknown> {
  const nodes = await Promise.all(
    services.cluster.allNodes().map(async (node) => {
      try {
        return { nodeId: node.nodeId, status: await node.workStatus({ signal: AbortSignal.timeout(NODE_TIMEOUT_MS) }) };
      } catch (err) {
        return { nodeId: node.nodeId, error: (err as Error).message };
      }
    }),
  );
  const reports = nodes.flatMap((node) => ('status' in node ? [node.status.events ?? []] : []));
  return { nodes, events: deliveryTotals(reports, (target) => services.users.targetDefinition(target)) };
}

/**
 * One object version's record, placement and the health of each of its shards: `tessera admin object`'s
 * report, with the record's S3 fields. `parts=true` reads every part of a multipart object as well
 * (each part is an object of its own size, so the console's page does not ask for it).
 */
export async function objectShards(services: Pick<ClusterReadDeps, 'cluster'>, query: URLSearchParams): Promise<unknown> {
  const bucket = query.get('bucket') ?? '';
  const key = query.get('key') ?? '';
  // A version by its S3 id (`null` included), current or not; without one, the newest.
  const versionId = versionIdParam(query.get('versionId') ?? undefined, key);
  const cluster = services.cluster;
  const { report, record } = await inspectObject({ ring: cluster.current, locate: (b, k) => cluster.locate(b, k), clientFor: (node) => cluster.clientFor(node) }, bucket, key, {
    versionId,
    parts: query.get('parts') === 'true',
    timeoutMs: NODE_TIMEOUT_MS,
  });
  const found = record === undefined ? { found: false } : { found: true, s3VersionId: s3VersionId(record), etag: record.etag, contentType: record.contentType, lastModifiedMs: record.lastModifiedMs };
  return { ...report, requestedVersionId: versionId ?? null, ...found };
}

/** One node of the overview: its place in the ring and, when it answered, its health. */
export interface OverviewNode {
  id: string;
  address: string;
  zone: string;
  weight: number;
  /** Ring slots (partition x shard) it holds, and its share by weight. */
  slots: number;
  idealSlots: number;
  /** ok, degraded, ... as the node says; `unreachable` when it did not answer, `unknown` when no client is open to it. */
  state: string;
  freeBytes?: number;
  capacityBytes?: number | null;
  usedBytes?: number | null;
  ringEpoch?: number;
  quarantinedShards?: number;
  error?: string;
}

/** The ring and every node of it. */
export interface ClusterOverview {
  ringEpoch: number;
  partitions: number;
  erasure: { dataShards: number; parityShards: number };
  zones: string[];
  nodes: OverviewNode[];
}

/**
 * The ring (epoch, partitions, zones, each node's slots and its ideal share by weight) and each node's
 * health: state, free and used space, the ring epoch it holds, quarantined shards.
 */
export async function clusterOverview(services: Pick<ClusterReadDeps, 'cluster' | 'erasure'>): Promise<ClusterOverview> {
  const ring = services.cluster.current;
  const slots = ring.table.slotsById();
  const clients = new Map(services.cluster.allNodes().map((client) => [client.nodeId, client]));
  const nodes = await Promise.all(
    ring.nodes.map(async (node) => {
      const base = { id: node.id, address: node.address, zone: node.zone, weight: node.weight, slots: slots.get(node.id) ?? 0 };
      const client = clients.get(node.id);
      if (client === undefined) return { ...base, state: 'unknown' };
      try {
        const health = await client.health({ signal: AbortSignal.timeout(NODE_TIMEOUT_MS) });
        return {
          ...base,
          state: health.status,
          freeBytes: health.freeBytes,
          capacityBytes: health.capacityBytes ?? null,
          usedBytes: health.usedBytes ?? null,
          ringEpoch: health.ringEpoch,
          quarantinedShards: health.quarantinedShards ?? 0,
        };
      } catch (err) {
        return { ...base, state: 'unreachable', error: (err as Error).message };
      }
    }),
  );
  const totalSlots = ring.table.partitions * ring.replicas;
  const totalWeight = ring.nodes.reduce((sum, n) => sum + n.weight, 0);
  return {
    ringEpoch: ring.epoch,
    partitions: ring.table.partitions,
    erasure: services.erasure,
    zones: [...new Set(ring.nodes.map((n) => n.zone))].sort(),
    nodes: nodes.map((n) => ({ ...n, idealSlots: totalWeight === 0 ? 0 : Math.round((totalSlots * n.weight) / totalWeight) })),
  };
}

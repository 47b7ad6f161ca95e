import pLimit from 'p-limit';
import { objectLayout } from '../erasure/index.js';
import { parseRing, RingLocator, type Ring } from '../placement/index.js';
import { NodeClient, UPLOADS_BUCKET, inspectShards, markLossEffects, type PartRef, type ShardReport } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';

export type { ShardReport };

/** Parts inspected at once: each reads every shard of its part from its own node set. */
const PART_CONCURRENCY = 4;

/** One part of a multipart object: where its own version's shards are and how healthy each is. */
export interface PartReport {
  partNumber: number;
  sizeBytes: number;
  etag: string;
  /** The part's internal key and version (in the uploads bucket), which its shards are stored under. */
  key: string;
  versionId: string;
  partition: number;
  dataShards: number;
  parityShards: number;
  /** Stripes of k × block size the part's body is cut into; every shard holds one block of each. */
  stripes: number;
  /** Bytes each shard should hold, from the stripe layout; null when no node holds the part's record. */
  expectedShardBytes: number | null;
  healthyShards: number;
  shards: ShardReport[];
}

/** Where an object is and how healthy it is. */
export interface ObjectReport {
  bucket: string;
  key: string;
  versionId: string | null;
  ringEpoch: number;
  partition: number;
  dataShards: number;
  parityShards: number;
  sizeBytes: number | null;
  ageSeconds: number | null;
  deleted: boolean;
  /** Multipart objects: the parts are versions of their own, each spread over its own node set. */
  parts: number;
  healthyShards: number;
  /** The object's own record on its node set (a multipart object's manifest there carries no shard). */
  shards: ShardReport[];
  /** Multipart objects: every part checked shard by shard, in part order; empty for other objects. */
  partReports: PartReport[];
  /** Multipart objects: the fewest healthy shards of any part (what decides whether the object reads); else null. */
  weakestPartHealthyShards: number | null;
  /**
   * Multipart objects: what losing each node that holds a part's shard would mean for a read of the
   * whole object (the worst over the parts), and which parts it would touch; empty for other objects.
   */
  partLossByNode: NodeLoss[];
}

/** What losing one node would mean for a multipart object, over all its parts. */
export interface NodeLoss {
  nodeId: string;
  ifLost: ShardReport['ifLost'];
  /** Parts whose read the loss would change (a reconstruction, or the part lost). */
  parts: number[];
}

const LOSS_ORDER: readonly ShardReport['ifLost'][] = ['no effect', 'read rebuilds from parity', 'unreadable'];

/** Per node, the worst effect its loss has on any part, and the parts it changes. */
function lossByNode(parts: readonly PartReport[]): NodeLoss[] {
  const byNode = new Map<string, NodeLoss>();
  for (const part of parts) {
    for (const shard of part.shards) {
      const entry = byNode.get(shard.nodeId) ?? { nodeId: shard.nodeId, ifLost: 'no effect', parts: [] };
      if (LOSS_ORDER.indexOf(shard.ifLost) > LOSS_ORDER.indexOf(entry.ifLost)) entry.ifLost = shard.ifLost;
      if (shard.ifLost !== 'no effect') entry.parts.push(part.partNumber);
      byNode.set(shard.nodeId, entry);
    }
  }
  return [...byNode.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/**
 * `tessera admin object BUCKET KEY`: asks every node of the key's set (from the ring the nodes hold)
 * for its newest version, reads each shard through the node's checksummed path, and says what the loss
 * of each node would mean: nothing (a parity shard), a read that reconstructs (a data shard), or an
 * unreadable object (fewer than k healthy shards would be left).
 */
export async function inspectObject(
  target: AdminTarget,
  bucket: string,
  key: string,
  options: { versionId?: string | undefined; nowMs?: number; timeoutMs?: number } = {},
): Promise<ObjectReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ring = await ringOf(target, timeoutMs);
  const placement = new RingLocator(ring).locate(bucket, key);
  const pool = new Map<string, NodeClient>();
  const clientFor = (node: { id: string; address: string }): NodeClient => {
    let client = pool.get(node.id);
    if (client === undefined) {
      client = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 2 });
      pool.set(node.id, client);
    }
    return client;
  };
  const clients = placement.nodes.map(clientFor);
  try {
    const health = await inspectShards(clients, bucket, key, { versionId: options.versionId, timeoutMs, dataShards: ring.replicas });
    const newest = health.record;
    const nowMs = options.nowMs ?? Date.now();
    const limit = pLimit(PART_CONCURRENCY);
    const partReports = newest?.deleted === false && newest.parts !== undefined ? await Promise.all(newest.parts.map((part) => limit(() => inspectPart(ring, part, clientFor, timeoutMs)))) : [];
    return {
      bucket,
      key,
      versionId: options.versionId ?? newest?.versionId ?? null,
      ringEpoch: ring.epoch,
      partition: placement.partition,
      dataShards: newest?.erasure.dataShards ?? ring.replicas,
      parityShards: newest?.erasure.parityShards ?? 0,
      sizeBytes: newest?.sizeBytes ?? null,
      ageSeconds: newest === undefined ? null : Math.max(0, Math.round((nowMs - newest.lastModifiedMs) / 1000)),
      deleted: newest?.deleted ?? false,
      parts: newest?.parts?.length ?? 0,
      healthyShards: health.healthyShards,
      shards: health.shards,
      partReports,
      weakestPartHealthyShards: partReports.length === 0 ? null : Math.min(...partReports.map((p) => p.healthyShards)),
      partLossByNode: lossByNode(partReports),
    };
  } finally {
    await Promise.all([...pool.values()].map((client) => client.close()));
  }
}

/** Reads every shard of one part's version from the part's own node set, checking each block's checksum. */
async function inspectPart(ring: Ring, part: PartRef, clientFor: (node: { id: string; address: string }) => NodeClient, timeoutMs: number): Promise<PartReport> {
  const placement = new RingLocator(ring).locate(UPLOADS_BUCKET, part.key);
  const health = await inspectShards(placement.nodes.map(clientFor), UPLOADS_BUCKET, part.key, { versionId: part.versionId, timeoutMs, dataShards: ring.replicas });
  const record = health.record;
  const layout = record === undefined ? undefined : objectLayout(record.storedSizeBytes ?? record.sizeBytes, record.erasure.dataShards, record.erasure.blockSizeBytes);
  const expected = layout?.shardSizeBytes ?? null;
  // A shard that reads back clean but is not the size the layout gives has lost or gained bytes.
  const shards = health.shards.map((shard): ShardReport =>
    shard.state === 'ok' && expected !== null && shard.sizeBytes !== null && shard.sizeBytes !== expected
      ? { ...shard, state: 'corrupt', detail: `holds ${shard.sizeBytes} bytes, the layout gives ${expected}` }
      : shard,
  );
  markLossEffects(shards, record?.erasure.dataShards ?? ring.replicas);
  const healthy = shards.filter((s) => s.state === 'ok').length;
  return {
    partNumber: part.partNumber,
    sizeBytes: part.sizeBytes,
    etag: part.etag,
    key: part.key,
    versionId: part.versionId,
    partition: placement.partition,
    dataShards: record?.erasure.dataShards ?? ring.replicas,
    parityShards: record?.erasure.parityShards ?? 0,
    stripes: layout?.stripeCount ?? 0,
    expectedShardBytes: expected,
    healthyShards: healthy,
    shards,
  };
}

async function ringOf(target: AdminTarget, timeoutMs: number): Promise<ReturnType<typeof parseRing>> {
  let newest: ReturnType<typeof parseRing> | undefined;
  for (const node of target.nodes) {
    const client = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 });
    try {
      const document = await client.fetchRing({ signal: AbortSignal.timeout(timeoutMs) });
      if (document !== null) {
        const ring = parseRing(document);
        if (newest === undefined || ring.epoch > newest.epoch) newest = ring;
      }
    } catch {
      // Ask the next node.
    } finally {
      await client.close();
    }
  }
  if (newest === undefined) throw new Error('no node answered with a ring');
  return newest;
}

/** The report as a person reads it. */
export function formatObjectReport(report: ObjectReport): string {
  const lines = [
    `s3://${report.bucket}/${report.key}`,
    `  version    ${report.versionId ?? '(none found)'}${report.deleted ? ' (delete marker)' : ''}`,
    `  size       ${report.sizeBytes === null ? '?' : `${report.sizeBytes} bytes`}, age ${report.ageSeconds === null ? '?' : `${report.ageSeconds} s`}` +
      (report.parts > 0 ? `, multipart: ${report.parts} parts stored as versions of their own` : ''),
    `  placement  ring epoch ${report.ringEpoch}, partition ${report.partition}, ${report.dataShards}+${report.parityShards}`,
    `  health     ${report.healthyShards} of ${report.shards.length} shards healthy` +
      (report.healthyShards < report.dataShards ? ' — UNREADABLE' : report.healthyShards < report.shards.length ? ' — below full redundancy' : ''),
    '',
    ...shardTable(report.shards, '  '),
  ];
  if (report.partReports.length > 0) {
    const weakest = report.weakestPartHealthyShards ?? 0;
    const worst = report.partReports.find((p) => p.healthyShards === weakest);
    lines.push(
      '',
      `  parts      ${report.partReports.length} parts checked shard by shard; weakest part ${worst?.partNumber ?? '?'} has ${weakest} of ${worst?.shards.length ?? '?'} shards healthy` +
        (worst !== undefined && weakest < worst.dataShards ? ' — OBJECT UNREADABLE' : worst !== undefined && weakest < worst.shards.length ? ' — below full redundancy' : ''),
    );
    lines.push('', '  node            if this node is lost (over all parts)');
    for (const loss of report.partLossByNode) {
      lines.push(`  ${loss.nodeId.padEnd(14)}  ${loss.ifLost}${loss.parts.length === 0 ? '' : ` (part${loss.parts.length === 1 ? '' : 's'} ${loss.parts.join(', ')})`}`);
    }
    for (const part of report.partReports) {
      lines.push(
        '',
        `  part ${part.partNumber}: ${part.sizeBytes} bytes, ${part.stripes} stripe${part.stripes === 1 ? '' : 's'} of ${part.dataShards}+${part.parityShards}, ` +
          `${part.expectedShardBytes ?? '?'} bytes per shard, partition ${part.partition}, ${part.healthyShards} of ${part.shards.length} shards healthy` +
          (part.healthyShards < part.dataShards ? ' — UNREADABLE' : part.healthyShards < part.shards.length ? ' — below full redundancy' : ''),
        ...shardTable(part.shards, '    '),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function shardTable(shards: readonly ShardReport[], indent: string): string[] {
  return [
    `${indent}shard  node            state        bytes       if this node is lost`,
    ...shards.map(
      (shard) =>
        `${indent}${String(shard.shardIndex).padEnd(5)}  ${shard.nodeId.padEnd(14)}  ${shard.state.padEnd(11)}  ${String(shard.sizeBytes ?? '-').padEnd(10)}  ${shard.ifLost}` +
        (shard.detail === null ? '' : `  (${shard.detail})`),
    ),
  ];
}

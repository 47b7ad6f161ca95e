import { parseRing, RingLocator } from '../placement/index.js';
import { NodeClient, inspectShards, type ShardReport } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';

export type { ShardReport };

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
  shards: ShardReport[];
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
  const clients = placement.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
  try {
    const health = await inspectShards(clients, bucket, key, { versionId: options.versionId, timeoutMs, dataShards: ring.replicas });
    const newest = health.record;
    const nowMs = options.nowMs ?? Date.now();
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
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
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
    '  shard  node            state        bytes       if this node is lost',
  ];
  for (const shard of report.shards) {
    lines.push(
      `  ${String(shard.shardIndex).padEnd(5)}  ${shard.nodeId.padEnd(14)}  ${shard.state.padEnd(11)}  ${String(shard.sizeBytes ?? '-').padEnd(10)}  ${shard.ifLost}` +
        (shard.detail === null ? '' : `  (${shard.detail})`),
    );
  }
  return `${lines.join('\n')}\n`;
}

import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { objectLayout } from '../erasure/index.js';
import { parseRing, RingLocator } from '../placement/index.js';
import { NodeClient, NodeError, type ObjectRecord } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';

/** One member of an object's node set, as `tessera admin object` reports it. */
export interface ShardReport {
  shardIndex: number;
  nodeId: string;
  address: string;
  /** ok: the node served the shard and every checksum held; missing: no shard of this version; corrupt: a checksum failed; unreachable: no answer. */
  state: 'ok' | 'missing' | 'corrupt' | 'unreachable';
  /** The version the node holds as newest (may be older than the object's), null when it holds none. */
  versionId: string | null;
  sizeBytes: number | null;
  detail: string | null;
  /** What losing this node would mean for a read of the object. */
  ifLost: 'no effect' | 'read rebuilds from parity' | 'unreadable';
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
    const statuses = await Promise.allSettled(clients.map((client) => client.objectStatus(bucket, key, { signal: AbortSignal.timeout(timeoutMs) })));
    let newest: ObjectRecord | undefined;
    for (const status of statuses) {
      if (status.status !== 'fulfilled' || status.value === null) continue;
      const record = status.value.record;
      if (options.versionId !== undefined ? record.versionId === options.versionId : newest === undefined || record.versionId > newest.versionId) newest = record;
    }
    const versionId = options.versionId ?? newest?.versionId ?? null;
    const shards: ShardReport[] = await Promise.all(
      placement.nodes.map(async (node, i): Promise<ShardReport> => {
        const status = statuses[i];
        const base = { shardIndex: i, nodeId: node.id, address: node.address, ifLost: 'no effect' as const };
        if (status === undefined || status.status === 'rejected') {
          return { ...base, state: 'unreachable', versionId: null, sizeBytes: null, detail: (status?.reason as Error | undefined)?.message ?? null };
        }
        const held = status.value;
        const heldVersion = held?.record.versionId ?? null;
        if (versionId === null || newest === undefined || newest.deleted || newest.parts !== undefined) {
          return { ...base, state: held === null ? 'missing' : 'ok', versionId: heldVersion, sizeBytes: held?.shardSizeBytes ?? null, detail: null };
        }
        const expectedBytes = objectLayout(newest.sizeBytes, newest.erasure.dataShards, newest.erasure.blockSizeBytes).shardSizeBytes;
        if (expectedBytes === 0) return { ...base, state: held === null ? 'missing' : 'ok', versionId: heldVersion, sizeBytes: 0, detail: null };
        try {
          const stream = await clients[i]!.readShard({ bucket, key, versionId, shardIndex: i }, 0, expectedBytes, { signal: AbortSignal.timeout(timeoutMs) });
          let read = 0;
          await pipeline(stream, new Writable({ write: (chunk: Buffer, _encoding, done) => ((read += chunk.length), done()) }));
          if (read !== expectedBytes) return { ...base, state: 'corrupt', versionId: heldVersion, sizeBytes: read, detail: `served ${read} of ${expectedBytes} bytes` };
          return { ...base, state: 'ok', versionId: heldVersion, sizeBytes: expectedBytes, detail: null };
        } catch (err) {
          const code = err instanceof NodeError ? err.code : undefined;
          const state = code === 'NotFound' ? 'missing' : code === 'Unavailable' ? 'unreachable' : 'corrupt';
          return { ...base, state, versionId: heldVersion, sizeBytes: null, detail: (err as Error).message };
        }
      }),
    );
    const k = newest?.erasure.dataShards ?? ring.replicas;
    const healthy = shards.filter((s) => s.state === 'ok').length;
    for (const shard of shards) {
      const left = healthy - (shard.state === 'ok' ? 1 : 0);
      shard.ifLost = left < k ? 'unreadable' : shard.state === 'ok' && shard.shardIndex < k ? 'read rebuilds from parity' : 'no effect';
    }
    const nowMs = options.nowMs ?? Date.now();
    return {
      bucket,
      key,
      versionId,
      ringEpoch: ring.epoch,
      partition: placement.partition,
      dataShards: k,
      parityShards: newest?.erasure.parityShards ?? 0,
      sizeBytes: newest?.sizeBytes ?? null,
      ageSeconds: newest === undefined ? null : Math.max(0, Math.round((nowMs - newest.lastModifiedMs) / 1000)),
      deleted: newest?.deleted ?? false,
      parts: newest?.parts?.length ?? 0,
      healthyShards: healthy,
      shards,
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

import { inspectObjectVersion, type ObjectReport } from '../gateway/index.js';
import { parseRing, RingLocator, type RingNode } from '../placement/index.js';
import { NodeClient, type ShardReport } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';

export type { ObjectReport, ShardReport };

/**
 * `tessera admin object BUCKET KEY` against the nodes: the ring they hold, then the report the admin
 * API's `GET objects?parts=true` answers (gateway/data-path/object-report.ts), every part included.
 */
export async function inspectObject(
  target: AdminTarget,
  bucket: string,
  key: string,
  options: { versionId?: string | undefined; nowMs?: number; timeoutMs?: number } = {},
): Promise<ObjectReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ring = await ringOf(target, timeoutMs);
  const pool = new Map<string, NodeClient>();
  const clientFor = (node: RingNode): NodeClient => {
    let client = pool.get(node.id);
    if (client === undefined) {
      client = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 2 });
      pool.set(node.id, client);
    }
    return client;
  };
  try {
    const locator = new RingLocator(ring);
    const { report } = await inspectObjectVersion({ ring, locate: (b, k) => locator.locate(b, k), clientFor }, bucket, key, { ...options, timeoutMs, parts: true });
    return report;
  } finally {
    await Promise.all([...pool.values()].map((client) => client.close()));
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

import pLimit from 'p-limit';
import { objectLayout } from '../../erasure/index.js';
import type { Placement, Ring, RingNode } from '../../placement/index.js';
import { inspectShards, markLossEffects, UPLOADS_BUCKET, type NodeClient, type ObjectRecord, type PartRef, type ShardReport } from '../../rpc/index.js';

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

/** The ring to place by, and a client for each node it names. */
export interface InspectionCluster {
  ring: Ring;
  /** The key's placement in `ring`, from a locator compiled once (compiling one walks the whole table). */
  locate(bucket: string, key: string): Placement;
  clientFor(node: RingNode): NodeClient;
}

/** What to inspect beyond the key: a version (else the newest), and whether a multipart object's parts are read too. */
export interface InspectionOptions {
  versionId?: string | undefined;
  /** Read every part's shards (each part is an object of its own size); without it partReports is empty. */
  parts?: boolean | undefined;
  nowMs?: number | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Where an object version is and how healthy it is: asks every node of the key's set for the version
 * (the newest without one), reads each shard through the node's checksummed path, and says what the
 * loss of each node would mean: nothing (a parity shard), a read that reconstructs (a data shard), or
 * an unreadable object (fewer than k healthy shards would be left). `tessera admin object` and the
 * admin API's `GET objects` both answer this; `record` is the version's record, when a node held it.
 */
export async function inspectObject(
  cluster: InspectionCluster,
  bucket: string,
  key: string,
  options: InspectionOptions = {},
): Promise<{ report: ObjectReport; record: ObjectRecord | undefined }> {
  const { ring } = cluster;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const placement = cluster.locate(bucket, key);
  const health = await inspectShards(placement.nodes.map((node) => cluster.clientFor(node)), bucket, key, { versionId: options.versionId, timeoutMs, dataShards: ring.replicas });
  const newest = health.record;
  const nowMs = options.nowMs ?? Date.now();
  const limit = pLimit(PART_CONCURRENCY);
  const partReports =
    options.parts === true && newest?.deleted === false && newest.parts !== undefined
      ? await Promise.all(newest.parts.map((part) => limit(() => inspectPart(cluster, part, timeoutMs))))
      : [];
  const report: ObjectReport = {
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
  return { report, record: newest };
}

/** Reads every shard of one part's version from the part's own node set, checking each block's checksum. */
async function inspectPart(cluster: InspectionCluster, part: PartRef, timeoutMs: number): Promise<PartReport> {
  const { ring } = cluster;
  const placement = cluster.locate(UPLOADS_BUCKET, part.key);
  const health = await inspectShards(placement.nodes.map((node) => cluster.clientFor(node)), UPLOADS_BUCKET, part.key, { versionId: part.versionId, timeoutMs, dataShards: ring.replicas });
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


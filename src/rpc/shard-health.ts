import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNewerVersion } from './newest-record.js';
import type { NodeClient } from './node-client.js';
import type { ObjectRecord } from './object-record.js';
import { NodeError } from './wire-errors.js';
import { shardRefOf } from './shard-identity.js';

/** One member of an object's node set: its shard's state and what losing the node would mean. */
export interface ShardReport {
  shardIndex: number;
  nodeId: string;
  address: string;
  /** ok: the node served the shard and every checksum held; missing: no shard of this version; corrupt: a checksum failed; unreachable: no answer. */
  state: 'ok' | 'missing' | 'corrupt' | 'unreachable';
  /** The version the node holds as newest, null when it holds none. */
  versionId: string | null;
  sizeBytes: number | null;
  detail: string | null;
  /** What losing this node would mean for a read of the object. */
  ifLost: 'no effect' | 'read rebuilds from parity' | 'unreadable';
}

/** The health of every shard of one object version across its node set. */
export interface ShardHealth {
  /** The version inspected (the newest one found, or the one asked for); undefined when no node holds one. */
  record: ObjectRecord | undefined;
  healthyShards: number;
  shards: ShardReport[];
}

/**
 * Asks every node of a key's set (element i holds shard i) for its newest version (or for the version
 * named, current or not), reads each shard of
 * the version through the node's checksummed path, and says what losing each node would cost a read:
 * nothing (a parity shard), a reconstruction (a data shard), or the object (fewer than k healthy left).
 * Multipart manifests and delete markers carry no shard: a node holding the record counts as healthy.
 */
export async function inspectShards(
  nodes: readonly NodeClient[],
  bucket: string,
  key: string,
  options: { versionId?: string | undefined; timeoutMs: number; dataShards: number },
): Promise<ShardHealth> {
  const { versionId: wanted } = options;
  const statuses = await Promise.allSettled(
    nodes.map((node) => {
      const signal = AbortSignal.timeout(options.timeoutMs);
      // A named version may be noncurrent: ask for it by id, not for the node's newest.
      return wanted === undefined ? node.objectStatus(bucket, key, { signal }) : node.versionStatus(bucket, key, wanted, { signal });
    }),
  );
  let newest: ObjectRecord | undefined;
  for (const status of statuses) {
    if (status.status !== 'fulfilled' || status.value === null) continue;
    const record = status.value.record;
    // Asked by id, every answer is that version ('null' names the key's null version by its stored id).
    if (newest === undefined || isNewerVersion(record.versionId, newest.versionId)) newest = record;
  }
  const versionId = newest?.versionId ?? wanted;
  const shards = await Promise.all(
    nodes.map(async (node, i): Promise<ShardReport> => {
      const status = statuses[i];
      const base = { shardIndex: i, nodeId: node.nodeId, address: node.address, ifLost: 'no effect' as const };
      if (status === undefined || status.status === 'rejected') {
        return { ...base, state: 'unreachable', versionId: null, sizeBytes: null, detail: (status?.reason as Error | undefined)?.message ?? null };
      }
      const held = status.value;
      const heldVersion = held?.record.versionId ?? null;
      const withoutShard = newest === undefined || newest.deleted || newest.parts !== undefined;
      if (versionId === undefined || withoutShard || held === null || held.shardSizeBytes === 0) {
        const state = held === null || (versionId !== undefined && heldVersion !== versionId && !withoutShard) ? 'missing' : 'ok';
        return { ...base, state, versionId: heldVersion, sizeBytes: held?.shardSizeBytes ?? null, detail: null };
      }
      const expectedBytes = held.shardSizeBytes;
      try {
        const ref = newest?.versionId === versionId ? shardRefOf(newest, i) : { bucket, key, versionId, shardIndex: i };
        const stream = await node.readShard(ref, 0, expectedBytes, { signal: AbortSignal.timeout(options.timeoutMs) });
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
  const k = newest?.erasure.dataShards ?? options.dataShards;
  markLossEffects(shards, k);
  return { record: newest, healthyShards: shards.filter((s) => s.state === 'ok').length, shards };
}

/** Sets each shard's `ifLost` from the states of all of them, for a version of k data shards. */
export function markLossEffects(shards: ShardReport[], dataShards: number): void {
  const healthy = shards.filter((s) => s.state === 'ok').length;
  for (const shard of shards) {
    const left = healthy - (shard.state === 'ok' ? 1 : 0);
    shard.ifLost = left < dataShards ? 'unreadable' : shard.state === 'ok' && shard.shardIndex < dataShards ? 'read rebuilds from parity' : 'no effect';
  }
}

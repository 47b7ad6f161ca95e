import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { NODE_PATHS, WireError, type NodeWorkStatus, type PartitionDigest, type PartitionEntriesResponse, type PartitionEntry } from '../../rpc/index.js';
import type { ShardStore } from '../shard-store.js';

/** What the admin routes ask of a node's background work. */
export interface HealingControl {
  workStatus(): NodeWorkStatus;
  startScrub(fast: boolean): void;
}

const MAX_ENTRIES = 1_000;

/**
 * The signed node routes of background work: partition digests and listings (for peers' audits) and
 * the operator's status and scrub. The node server's hook has authenticated every request already.
 */
export function registerHealingRoutes(app: FastifyInstance, store: ShardStore, control: HealingControl | undefined): void {
  app.get(NODE_PATHS.partitionDigest, async (request): Promise<PartitionDigest> => {
    const query = request.query as Record<string, string | undefined>;
    const shape = partitionParams(query);
    if (shape === null) throw new WireError('BadRequest', 'bad partition');
    return partitionDigest(store, shape.partition, shape.bits);
  });
  app.get(NODE_PATHS.partitionEntries, async (request): Promise<PartitionEntriesResponse> => {
    const query = request.query as Record<string, string | undefined>;
    const shape = partitionParams(query);
    const limit = Number(query['limit'] ?? MAX_ENTRIES);
    if (shape === null || !Number.isInteger(limit) || limit < 1 || limit > MAX_ENTRIES) throw new WireError('BadRequest', 'bad partition listing');
    const after =
      query['afterHash'] === undefined ? null : { hashHex: query['afterHash'], bucket: query['afterBucket'] ?? '', key: query['afterKey'] ?? '' };
    const shift = BigInt(64 - shape.bits);
    const from = BigInt(shape.partition) << shift;
    const to = (BigInt(shape.partition) + 1n) << shift;
    const page = after === null ? await firstPage(store, from, to, limit + 1) : await store.metadata.hashIndexPage(after, limit + 1, to);
    const entries: PartitionEntry[] = [];
    for (const entry of page.slice(0, limit)) {
      const stored = await store.metadata.getObject(entry.bucket, entry.key);
      if (stored !== undefined) entries.push({ ...entry, record: stored.record, shardIndex: stored.shardIndex });
    }
    return { entries, truncated: page.length > limit };
  });
  app.get(NODE_PATHS.adminStatus, async (): Promise<NodeWorkStatus> => {
    if (control === undefined) throw new WireError('NotFound', 'no background work on this node');
    return control.workStatus();
  });
  app.post(NODE_PATHS.adminScrub, async (request) => {
    if (control === undefined) throw new WireError('NotFound', 'no background work on this node');
    control.startScrub((request.query as Record<string, string | undefined>)['fast'] === '1');
    return {};
  });
}

/** The digest of the versions this node holds in one partition. */
export async function partitionDigest(store: ShardStore, partition: number, bits: number): Promise<PartitionDigest> {
  const hash = createHash('sha256');
  let count = 0;
  for await (const entry of store.metadata.partitionKeys(partition, bits)) {
    const stored = await store.metadata.getObject(entry.bucket, entry.key);
    if (stored === undefined) continue;
    hash.update(`${entry.bucket}\0${entry.key}\0${stored.record.versionId}\0${stored.record.deleted ? 1 : 0}\n`);
    count += 1;
  }
  return { partition, count, digest: hash.digest('hex') };
}

async function firstPage(store: ShardStore, from: bigint, to: bigint, limit: number): Promise<{ hashHex: string; bucket: string; key: string }[]> {
  const page: { hashHex: string; bucket: string; key: string }[] = [];
  for await (const entry of store.metadata.hashRange(from, to)) {
    page.push(entry);
    if (page.length >= limit) break;
  }
  return page;
}

function partitionParams(query: Record<string, string | undefined>): { partition: number; bits: number } | null {
  const partition = Number(query['partition']);
  const bits = Number(query['bits']);
  if (!Number.isInteger(bits) || bits < 0 || bits > 20 || !Number.isInteger(partition) || partition < 0 || partition >= 2 ** bits) return null;
  return { partition, bits };
}

import { createHash } from 'node:crypto';
import { partitionHashRange } from '../../placement/index.js';
import { MAX_PARTITION_BITS, NODE_PATHS, WireError, type NodeWorkStatus, type PartitionDigest, type PartitionEntriesResponse, type PartitionEntry, type PartitionGoneResponse, type PartitionVersionsResponse } from '../../rpc/index.js';
import type { VersionCursor } from '../metadata-store.js';
import type { ShardStore } from '../shard-store.js';
import { callerGoneSignal, queryOf, type NodeRoute } from '../node-server/node-route.js';

/** What the admin routes ask of a node's background work. */
export interface HealingControl {
  workStatus(): NodeWorkStatus;
  startScrub(fast: boolean): void;
}

const MAX_ENTRIES = 1_000;

/** Refuses an admin request on a node without background work. */
function controlOf(control: HealingControl | undefined): HealingControl {
  if (control === undefined) throw new WireError('NotFound', 'no background work on this node');
  return control;
}

/**
 * The signed node routes of background work: partition digests and listings (for peers' audits) and
 * the operator's status and scrub. The node server's hook has authenticated every request already.
 */
export const HEALING_ROUTES: readonly NodeRoute[] = [
  {
    method: 'GET',
    path: NODE_PATHS.partitionDigest,
    handler: async (node, request, reply): Promise<PartitionDigest> => {
      const shape = partitionParams(queryOf(request));
      if (shape === null) throw new WireError('BadRequest', 'bad partition');
      return node.calls.partitionDigest(shape.partition, shape.bits, callerGoneSignal(reply));
    },
  },
  { method: 'GET', path: NODE_PATHS.partitionEntries, handler: async (node, request) => partitionEntries(node.store, queryOf(request)) },
  {
    method: 'GET',
    path: NODE_PATHS.partitionVersions,
    handler: async (node, request): Promise<PartitionVersionsResponse> => {
      const page = versionPageQuery(queryOf(request));
      if (page === null) throw new WireError('BadRequest', 'bad partition version listing');
      const { rows, truncated } = await node.store.versionRows.versionPage(page.after, page.limit, page.from, page.to);
      return { entries: rows.map((row) => ({ hashHex: row.hashHex, bucket: row.bucket, key: row.key, record: row.stored.record, shardIndex: row.stored.shardIndex })), truncated };
    },
  },
  {
    method: 'GET',
    path: NODE_PATHS.partitionGone,
    handler: async (node, request): Promise<PartitionGoneResponse> => {
      const page = versionPageQuery(queryOf(request));
      if (page === null) throw new WireError('BadRequest', 'bad partition tombstone listing');
      const { rows, truncated } = await node.store.versionRows.versionGonePage(page.after, page.limit, page.from, page.to);
      return { gone: rows, truncated };
    },
  },
  { method: 'GET', path: NODE_PATHS.adminStatus, handler: async (node): Promise<NodeWorkStatus> => controlOf(node.healing).workStatus() },
  {
    method: 'POST',
    path: NODE_PATHS.adminScrub,
    handler: async (node, request) => {
      controlOf(node.healing).startScrub(queryOf(request)['fast'] === '1');
      return {};
    },
  },
];

/** GET of a partition's keys a page at a time, each with the record this node holds. */
async function partitionEntries(store: Pick<ShardStore, 'keyRows'>, query: Record<string, string | undefined>): Promise<PartitionEntriesResponse> {
  const shape = partitionParams(query);
  const limit = Number(query['limit'] ?? MAX_ENTRIES);
  if (shape === null || !Number.isInteger(limit) || limit < 1 || limit > MAX_ENTRIES) throw new WireError('BadRequest', 'bad partition listing');
  const after = query['afterHash'] === undefined ? null : { hashHex: query['afterHash'], bucket: query['afterBucket'] ?? '', key: query['afterKey'] ?? '' };
  const { from, to } = partitionHashRange(shape.partition, shape.bits);
  const page = after === null ? await firstPage(store, from, to, limit + 1) : await store.keyRows.hashIndexPage(after, limit + 1, to);
  const entries: PartitionEntry[] = [];
  for (const entry of page.slice(0, limit)) {
    const stored = await store.keyRows.getObject(entry.bucket, entry.key);
    if (stored !== undefined) entries.push({ ...entry, record: stored.record, shardIndex: stored.shardIndex });
  }
  return { entries, truncated: page.length > limit };
}

/**
 * The digest of the versions this node holds in one partition: every version row of every key (a
 * versioned bucket's noncurrent versions and delete markers too), so a member that lost or missed any
 * version, or kept one deleted by id, differs. Read from the partition's version marks, one range in
 * digest order, a thousand at a time; stops between reads once `signal` aborts. The text hashed is
 * the one earlier releases hashed from the version rows, so members of either agree.
 */
export async function partitionDigest(store: Pick<ShardStore, 'versionRows'>, partition: number, bits: number, signal?: AbortSignal): Promise<PartitionDigest> {
  const hash = createHash('sha256');
  const { from, to } = partitionHashRange(partition, bits);
  let count = 0;
  signal?.throwIfAborted();
  for await (const marks of store.versionRows.versionMarks(from, to)) {
    for (const mark of marks) hash.update(`${mark.bucket}\0${mark.key}\0${mark.versionId}\0${mark.deleted ? 1 : 0}\n`);
    count += marks.length;
    signal?.throwIfAborted();
  }
  return { partition, count, digest: hash.digest('hex') };
}

/** A partition version or tombstone page request's parameters; null when malformed. */
function versionPageQuery(query: Record<string, string | undefined>): { from: bigint; to: bigint; after: VersionCursor | null; limit: number } | null {
  const shape = partitionParams(query);
  const limit = Number(query['limit'] ?? MAX_ENTRIES);
  if (shape === null || !Number.isInteger(limit) || limit < 1 || limit > MAX_ENTRIES) return null;
  const afterHash = query['afterHash'];
  const after = afterHash === undefined ? null : { hashHex: afterHash, bucket: query['afterBucket'] ?? '', key: query['afterKey'] ?? '', versionId: query['afterVersion'] ?? '' };
  return { ...partitionHashRange(shape.partition, shape.bits), after, limit };
}

async function firstPage(store: Pick<ShardStore, 'keyRows'>, from: bigint, to: bigint, limit: number): Promise<{ hashHex: string; bucket: string; key: string }[]> {
  const page: { hashHex: string; bucket: string; key: string }[] = [];
  for await (const entry of store.keyRows.hashRange(from, to)) {
    page.push(entry);
    if (page.length >= limit) break;
  }
  return page;
}

function partitionParams(query: Record<string, string | undefined>): { partition: number; bits: number } | null {
  const partition = Number(query['partition']);
  const bits = Number(query['bits']);
  return isPartitionOf(partition, bits) ? { partition, bits } : null;
}

/** Whether `partition` is one of a ring's 2^bits partitions, for a number of bits a node accepts. */
export function isPartitionOf(partition: number, bits: number): boolean {
  return Number.isInteger(bits) && bits >= 0 && bits <= MAX_PARTITION_BITS && Number.isInteger(partition) && partition >= 0 && partition < 2 ** bits;
}

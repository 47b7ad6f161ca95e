import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/index.js';
import { RingLocator, parseRing, type Ring } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import type { TestCluster } from '../../test/helpers/cluster.js';

/** The secret test/helpers/cluster.ts starts its nodes with. */
const CLUSTER_SECRET = 'test-cluster-secret';

/** Repair figures of one node, as `admin status` reports them. */
export interface RepairFigures {
  done: number;
  failed: number;
  pending: number;
  shardsRebuilt: number;
  bytesRebuilt: number;
  quarantinedShards: number;
  /** Audit passes this node finished (a pass ends when it has checked every partition it leads). */
  auditPasses: number;
  /** Scrub passes this node finished. */
  scrubPasses: number;
}

/**
 * Signed node-protocol access to the nodes of an in-process cluster, for what a repair benchmark does
 * to them: read their figures, start scrub passes, wipe and restart one, delete its shard files.
 */
export class ClusterNodes {
  private readonly cluster: TestCluster;
  private clients: NodeClient[];

  constructor(cluster: TestCluster) {
    this.cluster = cluster;
    this.clients = cluster.nodes.map((node, i) => this.clientOf(i, node));
  }

  get count(): number {
    return this.clients.length;
  }

  /** The ring the nodes hold, parsed and as its document (the gateway hands it to them in the background; waits for it). */
  async ring(timeoutMs = 10_000): Promise<{ ring: Ring; doc: unknown }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const doc = await this.client(0).fetchRing({ signal: AbortSignal.timeout(5_000) });
      if (doc !== null) return { ring: parseRing(doc), doc };
      if (performance.now() > deadline) throw new Error('node-0 holds no ring');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Repair figures of every node, in node order. */
  async repairFigures(): Promise<RepairFigures[]> {
    return Promise.all(
      this.clients.map(async (client) => {
        const status = await client.workStatus({ signal: AbortSignal.timeout(10_000) });
        const repair = status.figures['repair'] as unknown as Omit<RepairFigures, 'quarantinedShards' | 'auditPasses' | 'scrubPasses'>;
        const audit = status.figures['audit'] as unknown as { passes: number };
        const scrub = status.figures['scrub'] as unknown as { passes: number };
        return { ...repair, quarantinedShards: status.quarantinedShards, auditPasses: audit.passes, scrubPasses: scrub.passes };
      }),
    );
  }

  /** Starts a fast (unthrottled) scrub and audit pass on the given nodes. */
  async startScrub(indexes: readonly number[]): Promise<void> {
    await Promise.all(indexes.map((i) => this.client(i).startScrub(true, { signal: AbortSignal.timeout(10_000) })));
  }

  /**
   * Stops node i and starts it again on the same port. `wipe` removes its whole data directory first (it
   * restarts empty and is handed `ring`); `deleteFiles` removes only its shard files (inline shards, in
   * LevelDB, stay), which its start-up recovery quarantines, so its repair queue is full when it starts.
   * Returns the number of shard files deleted.
   */
  async restart(index: number, damage: { wipe: true; ring: unknown } | { deleteFiles: true }): Promise<number> {
    const old = this.cluster.nodes[index];
    if (old === undefined) throw new Error(`no node ${index}`);
    const port = old.address.port;
    await old.close();
    const dataDir = join(this.cluster.dataDir, `node-${index}`);
    let deleted = 0;
    if ('wipe' in damage) await rm(dataDir, { recursive: true, force: true });
    else deleted = await deleteShardFiles(dataDir);
    const fresh = new StorageNode({ nodeId: `node-${index}`, dataDir, host: '127.0.0.1', port, clusterSecret: CLUSTER_SECRET, logger: silentLogger() });
    await fresh.start();
    // The cluster's close() closes whatever sits in this slot.
    this.cluster.nodes[index] = fresh;
    await this.client(index).close();
    this.clients[index] = this.clientOf(index, fresh);
    if ('wipe' in damage) await this.client(index).offerRing(damage.ring, { signal: AbortSignal.timeout(5_000) });
    return deleted;
  }

  /**
   * Checks that node `index` holds its shard of every key, as the ring places it, and that the whole
   * shard reads back (the node verifies every chunk's checksum as it sends). Returns the problems found.
   */
  async shardProblems(ring: Ring, index: number, bucket: string, keys: readonly string[]): Promise<string[]> {
    const client = this.client(index);
    const nodeId = `node-${index}`;
    const locator = new RingLocator(ring);
    const problems: string[] = [];
    let next = 0;
    const check = async (): Promise<void> => {
      for (let i = next++; i < keys.length; i = next++) {
        const key = keys[i] as string;
        const position = locator.locate(bucket, key).nodes.findIndex((node) => node.id === nodeId);
        if (position < 0) continue;
        try {
          const status = await client.objectStatus(bucket, key, { signal: AbortSignal.timeout(10_000) });
          if (status === null || status.shardIndex !== position) {
            problems.push(`${key}: ${nodeId} holds shard ${String(status?.shardIndex)}, not ${position}`);
            continue;
          }
          const ref = { bucket, key, versionId: status.record.versionId, shardIndex: position };
          const stream = await client.readShard(ref, 0, Number.MAX_SAFE_INTEGER, { signal: AbortSignal.timeout(30_000) });
          for await (const _chunk of stream) {
            // Reading to the end is the check.
          }
        } catch (err) {
          problems.push(`${key}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, check));
    return problems;
  }

  /** Closes the clients (not the nodes). */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private client(index: number): NodeClient {
    const client = this.clients[index];
    if (client === undefined) throw new Error(`no node ${index}`);
    return client;
  }

  private clientOf(index: number, node: StorageNode): NodeClient {
    return new NodeClient({ nodeId: `node-${index}`, address: `127.0.0.1:${node.address.port}`, clusterSecret: CLUSTER_SECRET, connections: 4 });
  }
}

async function deleteShardFiles(dataDir: string): Promise<number> {
  const root = join(dataDir, 'shards');
  const files: string[] = [];
  for (const dir of await readdir(root)) for (const name of await readdir(join(root, dir))) files.push(join(root, dir, name));
  await Promise.all(files.map((file) => rm(file)));
  return files.length;
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { until } from '../helpers/until.js';
import { parseGatewayConfig, silentLogger, type NodeHealingConfig } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { RingLocator, parseRing, type RingNode } from '../../src/placement/index.js';
import { NodeClient, type ObjectStatus } from '../../src/rpc/index.js';
import { StorageNode, type ShardStore } from '../../src/storage-node/index.js';
import { bucketName } from '../helpers/bytes.js';
import { TEST_CREDENTIALS } from '../helpers/cluster.js';

const SECRET = 'gc-test-cluster-secret';

/** The collector's figures as a node reports them. */
export interface GcFigures {
  passes: number;
  tombstonesDropped: number;
  tombstonesKept: number;
  uploadsAborted: number;
  partsDropped: number;
  orphanFilesRemoved: number;
  tmpFilesRemoved: number;
  bytesFreed: number;
}

/** Six in-process nodes (4+2) with the background pacing a test gives, a gateway, an SDK client and a bucket. */
export interface GcCluster {
  s3: S3Client;
  bucket: string;
  dataDirs: string[];
  /** A signed client for node i. */
  node(index: number): NodeClient;
  /** Node i's shard store, while it runs (a test reads its registry: where each shard's data lives). */
  store(index: number): ShardStore;
  /** The ids of the nodes of a key's set, in ring order, as indices into the node list. */
  setOf(bucket: string, key: string): Promise<number[]>;
  /** What each node holds of a key (null: nothing). */
  statuses(bucket: string, key: string): Promise<(ObjectStatus | null)[]>;
  gcFigures(index: number): Promise<GcFigures>;
  /** Sum of one collector figure over every node. */
  total(figure: keyof GcFigures): Promise<number>;
  stopNode(index: number): Promise<void>;
  /** Starts a stopped node again on its port and data (it keeps the ring it held). */
  startNode(index: number): Promise<void>;
}

/** Starts the cluster; torn down (data removed) when `t` ends. */
export async function startGcCluster(t: { teardown(fn: () => unknown): void }, healing: Partial<NodeHealingConfig>): Promise<GcCluster> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-gc-'));
  const logger = silentLogger();
  const nodes: (StorageNode | null)[] = [];
  const ports: number[] = [];
  const dataDirs = Array.from({ length: 6 }, (_, i) => join(root, `node-${i}`));
  const clients: NodeClient[] = [];
  const start = async (i: number): Promise<void> => {
    const node = new StorageNode({ nodeId: `node-${i}`, dataDir: dataDirs[i] as string, host: '127.0.0.1', port: ports[i] ?? 0, clusterSecret: SECRET, logger, reserveBytes: 0, healing: { rebalanceSettleMs: 0, rebalanceIntervalMs: 100, ...healing } });
    await node.start();
    nodes[i] = node;
    ports[i] = node.address.port;
  };
  let gateway: Gateway | undefined;
  let s3: S3Client | undefined;
  t.teardown(async () => {
    s3?.destroy();
    for (const client of clients) await client.close();
    await gateway?.close();
    for (const node of nodes) await node?.close();
    await rm(root, { recursive: true, force: true });
  });
  for (let i = 0; i < 6; i += 1) await start(i);
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ ...TEST_CREDENTIALS }],
    clusterSecret: SECRET,
    erasure: { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 },
    nodes: ports.map((port, i) => ({ id: `node-${i}`, address: `127.0.0.1:${port}`, zone: 'test' })),
    // The collector, not the gateway's fault handling, is under test: timeouts a loaded machine cannot trip,
    // so every write reaches all six nodes (a node cut off as a straggler would change the counts).
    metadataTimeoutMs: 60_000,
    stallTimeoutMs: 60_000,
  });
  gateway = new Gateway({ config, logger });
  const { port } = await gateway.start();
  s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { ...TEST_CREDENTIALS }, maxAttempts: 1 });
  const bucket = bucketName('gc');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 0; i < 6; i += 1) clients.push(new NodeClient({ nodeId: `node-${i}`, address: `127.0.0.1:${ports[i]}`, clusterSecret: SECRET, connections: 2 }));
  const client = (i: number): NodeClient => clients[i] as NodeClient;
  // Every node must hold the ring the gateway hands out before its collector can judge anything.
  await until('every node holds the ring', async () => (await Promise.all(clients.map((c) => c.fetchRing()))).every((ring) => ring !== null), 10_000);
  // The audit pass each node starts on adopting the ring must be over, or with a long audit interval a
  // test would still see it copying records while it watches the collector. A pass is a digest round per
  // partition the node leads: on a machine loaded by other suites the six take well over 30 s (seen at a
  // load average of 15), so the wait allows minutes; it ends as soon as every node has finished.
  await until(
    'every node finished its first audit pass',
    async () => (await Promise.all(clients.map(async (c) => ((await c.workStatus()).figures['audit'] as { passes: number }).passes))).every((passes) => passes >= 1),
    180_000,
  );
  const ring = new RingLocator(parseRing(JSON.stringify(await client(0).fetchRing())));
  const gcFigures = async (i: number): Promise<GcFigures> => (await client(i).workStatus({ signal: AbortSignal.timeout(5_000) })).figures['gc'] as unknown as GcFigures;
  return {
    store(index) {
      const node = nodes[index];
      if (node === null || node === undefined) throw new Error(`node-${index} is not running`);
      return node.parts.store;
    },
    s3,
    bucket,
    dataDirs,
    node: client,
    async setOf(b, key) {
      return ring.locate(b, key).nodes.map((node: RingNode) => Number(node.id.slice('node-'.length)));
    },
    async statuses(b, key) {
      return Promise.all(clients.map((c) => c.objectStatus(b, key, { signal: AbortSignal.timeout(5_000) })));
    },
    gcFigures,
    async total(figure) {
      let sum = 0;
      for (let i = 0; i < 6; i += 1) sum += (await gcFigures(i))[figure];
      return sum;
    },
    async stopNode(i) {
      await nodes[i]?.close();
      nodes[i] = null;
    },
    async startNode(i) {
      await start(i);
    },
  };
}

/** Waits until node `index` has finished `count` more collector passes than it had when called. */
export async function morePasses(cluster: GcCluster, indices: readonly number[], count: number, timeoutMs = 15_000): Promise<void> {
  const start = await Promise.all(indices.map(async (i) => (await cluster.gcFigures(i)).passes));
  await until(
    `${count} more collector passes`,
    async () => (await Promise.all(indices.map(async (i, n) => (await cluster.gcFigures(i)).passes - (start[n] as number) >= count))).every(Boolean),
    timeoutMs,
  );
}

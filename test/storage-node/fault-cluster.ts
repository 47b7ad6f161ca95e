import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { localS3Client } from '../helpers/cluster.js';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode, type StorageNodeOptions } from '../../src/storage-node/index.js';

const SECRET = 'fault-cluster-secret';

/** Per-node options a fault test may set (capacity, inline threshold, a data directory elsewhere). */
export type NodeOverrides = Partial<Pick<StorageNodeOptions, 'capacityBytes' | 'reserveBytes' | 'inlineMaxShardBytes' | 'segmentMaxShardBytes' | 'segmentSizeBytes' | 'dataDir'>>;

/** A gateway and six in-process nodes (4+2) whose nodes can be given their own limits, stopped and restarted. */
export interface FaultCluster {
  /** One attempt per request: every refusal is seen. */
  s3: S3Client;
  /** The SDK's standard retries, as applications have them: for writes a test needs done, not watched. */
  writer: S3Client;
  nodes: StorageNode[];
  dataDirs: string[];
  /** A signed client for node i, to look at one node's shards directly. */
  nodeClient(index: number): NodeClient;
  /** Stops node i and starts it again on the same port and data (start-up recovery runs). */
  restartNode(index: number, overrides?: NodeOverrides): Promise<void>;
  close(): Promise<void>;
}

/** Starts the cluster under `root`; node i gets `overrides[i]`. */
export async function startFaultCluster(root: string, overrides: Record<number, NodeOverrides> = {}): Promise<FaultCluster> {
  const logger = silentLogger();
  const nodes: StorageNode[] = [];
  const dataDirs: string[] = [];
  const start = async (i: number, port: number, extra: NodeOverrides): Promise<StorageNode> => {
    const dataDir = extra.dataDir ?? join(root, `node-${i}`);
    dataDirs[i] = dataDir;
    const node = new StorageNode({ nodeId: `node-${i}`, host: '127.0.0.1', port, clusterSecret: SECRET, logger, reserveBytes: 0, ...extra, dataDir });
    await node.start();
    return node;
  };
  for (let i = 0; i < 6; i += 1) nodes.push(await start(i, 0, overrides[i] ?? {}));
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ accessKeyId: 'fault-access', secretAccessKey: 'fault-secret' }],
    clusterSecret: SECRET,
    erasure: { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 },
    nodes: nodes.map((node, i) => ({ id: `node-${i}`, address: `127.0.0.1:${node.address.port}`, zone: 'test' })),
    metadataTimeoutMs: 2_000,
    stallTimeoutMs: 2_000,
  });
  const gateway = new Gateway({ config, logger });
  const { port } = await gateway.start();
  const credentials = { accessKeyId: 'fault-access', secretAccessKey: 'fault-secret' };
  const s3 = localS3Client(`http://127.0.0.1:${port}`, credentials, { maxAttempts: 1 });
  const writer = localS3Client(`http://127.0.0.1:${port}`, credentials);
  const clients: NodeClient[] = [];
  const stopped = new Set<number>();
  return {
    s3,
    writer,
    nodes,
    dataDirs,
    nodeClient(index) {
      const client = new NodeClient({ nodeId: `node-${index}`, address: `127.0.0.1:${nodes[index]?.address.port}`, clusterSecret: SECRET });
      clients.push(client);
      return client;
    },
    async restartNode(index, extra = {}) {
      const node = nodes[index] as StorageNode;
      const port = node.address.port;
      stopped.add(index);
      await node.close();
      nodes[index] = await start(index, port, { ...overrides[index], ...extra });
      stopped.delete(index);
    },
    async close() {
      s3.destroy();
      writer.destroy();
      for (const client of clients) await client.close();
      await gateway.close();
      for (const [i, node] of nodes.entries()) if (!stopped.has(i)) await node.close();
    },
  };
}

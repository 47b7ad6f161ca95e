import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseGatewayConfig, silentLogger } from '../../../src/common/index.js';
import { Gateway, ringFromConfig } from '../../../src/gateway/index.js';
import { NodeServer, RingStore, StorageNode, type ShardStore } from '../../../src/storage-node/index.js';
import { localS3Client } from '../../helpers/cluster.js';
import { shardImagesOn } from '../../helpers/shard-images.js';
import { openStore } from '../store-fixture.js';

/**
 * A storage node built from its parts (store, ring store, server), so a test holds its store: it can
 * delete the node's shard files while it is down and run a healing worker of its own on the store.
 */
export class VictimNode {
  store!: ShardStore;
  rings!: RingStore;
  private server: NodeServer | undefined;
  port = 0;
  readonly dataDir: string;
  private readonly nodeId: string;
  private readonly clusterSecret: string;

  constructor(dataDir: string, nodeId: string, clusterSecret: string) {
    this.dataDir = dataDir;
    this.nodeId = nodeId;
    this.clusterSecret = clusterSecret;
  }

  /** Opens the store and serves it, on the port it had before if it was started already. */
  async start(): Promise<void> {
    this.store = await openStore(this.dataDir, { reserveBytes: 0 });
    this.rings = new RingStore(this.dataDir);
    await this.rings.open();
    this.server = new NodeServer({ nodeId: this.nodeId, store: this.store, rings: this.rings, clusterSecret: this.clusterSecret, logger: silentLogger() });
    this.port = (await this.server.listen('127.0.0.1', this.port)).port;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    await this.store.close();
  }

  /** Removes every shard file and segment (a lost disk's data, its metadata kept); returns how many shard images they held. */
  async deleteShardData(): Promise<number> {
    const images = await shardImagesOn(this.dataDir);
    for (const path of new Set(images.map((image) => image.path))) await rm(path);
    return images.length;
  }
}

/** Six nodes behind a gateway, node-1 a VictimNode the test holds; the others run without healing. */
export interface VictimCluster {
  victim: VictimNode;
  s3: S3Client;
  close(): Promise<void>;
}

/**
 * Starts the victim (node-1) and five ordinary nodes (healing off, so that only the test's own workers
 * repair), a gateway over the six (4+2, 64 KiB blocks) with one key pair, and hands the victim the ring.
 */
export async function startVictimCluster(root: string, clusterSecret: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<VictimCluster> {
  const logger = silentLogger();
  const victim = new VictimNode(join(root, 'node-1'), 'node-1', clusterSecret);
  await victim.start();
  const sources: StorageNode[] = [];
  for (const i of [0, 2, 3, 4, 5]) {
    const node = new StorageNode({ nodeId: `node-${i}`, dataDir: join(root, `node-${i}`), host: '127.0.0.1', port: 0, clusterSecret, logger, healing: false, resolveEveryMs: 0 });
    await node.start();
    sources.push(node);
  }
  const address = (i: number): string => `127.0.0.1:${i === 1 ? victim.port : sources[i === 0 ? 0 : i - 1]?.address.port}`;
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [credentials],
    clusterSecret,
    erasure: { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 },
    nodes: Array.from({ length: 6 }, (_, i) => ({ id: `node-${i}`, address: address(i), zone: 'test' })),
  });
  const gateway = new Gateway({ config, logger });
  const { port } = await gateway.start();
  const s3 = localS3Client(`http://127.0.0.1:${port}`, credentials);
  await victim.rings.offer(ringFromConfig(config));
  return {
    victim,
    s3,
    async close() {
      s3.destroy();
      await gateway.close();
      await victim.stop().catch(() => undefined);
      for (const node of sources) await node.close();
    },
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { localS3Client, TEST_CREDENTIALS } from './cluster.js';
import { parseGatewayConfig, silentLogger, type GatewayConfig } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { buildRing, RingLocator, serializeRing, type Ring, type RingNode } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';

const SECRET = 'moving-cluster-secret';
const RING_OPTIONS = { replicas: 6, partitionBits: 4, seed: 7 } as const;

/**
 * A cluster caught in the middle of a ring change: twelve in-process storage nodes with their background
 * work off (so nothing is moved unless a test moves it), ring 1 on the first six, ring 2 built from it
 * on all twelve. Gateways are real (4+2, real HTTP) and each holds the rings it was given: one started on
 * ring 1 that adopts ring 2 knows both, as a gateway running through a change does.
 */
export interface MovingCluster {
  ring1: Ring;
  ring2: Ring;
  /** A node client per storage node, for checking what each node holds. */
  nodes: ReadonlyMap<string, NodeClient>;
  /**
   * Starts a gateway holding `rings` in order (the last is its current ring, the one before its
   * previous), with `settings` added to its configuration; an SDK client of it that does not retry.
   */
  gateway(rings: readonly Ring[], settings?: Record<string, unknown>): Promise<{ gateway: Gateway; s3: S3Client }>;
  /** Offers ring 2 to every node and to `gateways`. */
  changeRing(gateways: readonly Gateway[]): Promise<void>;
  /** A key of `bucket` whose set under ring 2 shares no node with its set under ring 1 (the usual case when a cluster doubles). */
  movedKey(bucket: string, prefix: string): string;
  /** The clients of the key's set under `ring`, in shard order. */
  setOf(ring: Ring, bucket: string, key: string): NodeClient[];
  /** Stops a storage node for the rest of the test: calls to it are refused. */
  stopNode(nodeId: string): Promise<void>;
}

/** Starts a MovingCluster; everything is closed and removed when `t` ends. Nodes hold ring 1 until changeRing. */
export async function startMovingCluster(t: { teardown(fn: () => unknown): void }): Promise<MovingCluster> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-moving-'));
  const logger = silentLogger();
  const storageNodes = new Map<string, StorageNode>();
  const gateways: Gateway[] = [];
  const s3Clients: S3Client[] = [];
  const clients = new Map<string, NodeClient>();
  t.teardown(async () => {
    for (const client of s3Clients) client.destroy();
    for (const gateway of gateways) await gateway.close();
    await Promise.all([...clients.values()].map((client) => client.close()));
    for (const node of storageNodes.values()) await node.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const members: RingNode[] = [];
  for (let i = 0; i < 12; i += 1) {
    const id = `node-${i}`;
    const node = new StorageNode({ nodeId: id, dataDir: join(dataDir, id), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger, reserveBytes: 0, healing: false });
    storageNodes.set(id, node);
    const { port } = await node.start();
    const address = `127.0.0.1:${port}`;
    members.push({ id, address, zone: 'test', weight: 1 });
    clients.set(id, new NodeClient({ nodeId: id, address, clusterSecret: SECRET }));
  }
  const ring1 = buildRing(null, members.slice(0, 6), RING_OPTIONS);
  const ring2 = buildRing(ring1, members, RING_OPTIONS);
  const offer = (ring: Ring): Promise<unknown> => {
    const document: unknown = JSON.parse(serializeRing(ring));
    return Promise.all([...clients.values()].map((client) => client.offerRing(document)));
  };
  await offer(ring1);
  const locators = new Map([ring1, ring2].map((ring) => [ring, new RingLocator(ring)]));
  const setOf = (ring: Ring, bucket: string, key: string): NodeClient[] => {
    const locator = locators.get(ring) ?? new RingLocator(ring);
    return locator.locate(bucket, key).nodes.map((node) => {
      const client = clients.get(node.id);
      if (client === undefined) throw new Error(`ring names unknown node ${node.id}`);
      return client;
    });
  };
  return {
    ring1,
    ring2,
    nodes: clients,
    async gateway(rings, settings = {}) {
      const [first, ...later] = rings;
      if (first === undefined) throw new Error('a gateway needs a ring');
      const config: GatewayConfig = parseGatewayConfig({
        listen: '127.0.0.1:0',
        credentials: [{ ...TEST_CREDENTIALS }],
        clusterSecret: SECRET,
        erasure: { dataShards: 4, parityShards: 2 },
        nodes: first.nodes.map((node) => ({ id: node.id, address: node.address, zone: node.zone })),
        metadataTimeoutMs: 5_000,
        stallTimeoutMs: 5_000,
        ...settings,
      });
      const gateway = new Gateway({ config, logger, ring: first });
      gateways.push(gateway);
      await gateway.start();
      for (const ring of later) await gateway.updateRing(ring);
      const s3 = localS3Client(`http://127.0.0.1:${gateway.address.port}`, TEST_CREDENTIALS, { maxAttempts: 1 });
      s3Clients.push(s3);
      return { gateway, s3 };
    },
    async changeRing(targets) {
      await offer(ring2);
      for (const gateway of targets) await gateway.updateRing(ring2);
    },
    movedKey(bucket, prefix) {
      for (let i = 0; i < 10_000; i += 1) {
        const key = `${prefix}${i}`;
        const before = new Set(setOf(ring1, bucket, key).map((node) => node.nodeId));
        if (setOf(ring2, bucket, key).every((node) => !before.has(node.nodeId))) return key;
      }
      throw new Error(`no key with prefix ${prefix} moves to a wholly new set`);
    },
    setOf,
    async stopNode(nodeId) {
      const node = storageNodes.get(nodeId);
      storageNodes.delete(nodeId);
      await node?.close();
    },
  };
}

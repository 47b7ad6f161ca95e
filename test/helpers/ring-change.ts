import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { buildRing, RingLocator, serializeRing, type Ring, type RingNode } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { GcWorker } from '../../src/storage-node/workers/gc-worker.js';
import { HealingFigures } from '../../src/storage-node/workers/healing-figures.js';
import { PeerClients } from '../../src/storage-node/workers/peer-clients.js';
import { RebalanceWorker } from '../../src/storage-node/workers/rebalance-worker.js';
import { localS3Client, TEST_CREDENTIALS } from './cluster.js';

/**
 * A cluster for ring changes whose background work the test steps itself: real storage nodes (LevelDB,
 * files, the node protocol) started without healing, a rebalance worker and a collector per node driven
 * by hand, and gateways in this process. Ring 1 places keys on the first `initial` nodes; `grow()` builds
 * ring 2 over every node from it (as `tessera ring add` does) and offers it to every node and gateway,
 * so a test can act in the window after a ring change and before the rebalance has moved a key.
 */

const SECRET = 'ring-change-secret';
/** 4+2 over six-node sets; 16 partitions, so half of them change set when six nodes become twelve. */
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 } as const;
const RING_OPTIONS = { replicas: 6, partitionBits: 4, seed: 7 } as const;
const DAY_MS = 86_400_000;

export class RingChangeCluster {
  readonly nodes: StorageNode[];
  readonly members: RingNode[];
  ring: Ring;
  /** The ring `grow()` replaced. */
  previousRing: Ring | undefined;
  readonly gateways: Gateway[] = [];
  private readonly root: string;
  private readonly clients: NodeClient[];
  private readonly s3Clients: S3Client[] = [];
  private readonly peers = new PeerClients(SECRET);
  private readonly rebalancers: RebalanceWorker[];

  private constructor(root: string, nodes: StorageNode[], members: RingNode[], ring: Ring) {
    this.root = root;
    this.nodes = nodes;
    this.members = members;
    this.ring = ring;
    this.clients = this.members.map((member) => new NodeClient({ nodeId: member.id, address: member.address, clusterSecret: SECRET, connections: 2 }));
    this.rebalancers = nodes.map(
      (node, i) =>
        new RebalanceWorker({ nodeId: `n${i}`, ...node.parts, peers: this.peers, figures: new HealingFigures(), logger: silentLogger(), settleMs: 0 }),
    );
  }

  /** `count` nodes, ring 1 over the first `initial`, one gateway on it, and `buckets` created. */
  static async start(options: { count: number; initial: number; buckets: readonly string[] }): Promise<RingChangeCluster> {
    const root = await mkdtemp(join(tmpdir(), 'tessera-ring-change-'));
    const nodes: StorageNode[] = [];
    try {
      for (let i = 0; i < options.count; i += 1) {
        const node = new StorageNode({ nodeId: `n${i}`, dataDir: join(root, `n${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), reserveBytes: 0, healing: false });
        await node.start();
        nodes.push(node);
      }
    } catch (err) {
      await Promise.all(nodes.map((node) => node.close()));
      await rm(root, { recursive: true, force: true });
      throw err;
    }
    const members = nodes.map((node, i) => ({ id: `n${i}`, address: `127.0.0.1:${node.address.port}`, zone: 'z', weight: 1 }));
    const cluster = new RingChangeCluster(root, nodes, members, buildRing(null, members.slice(0, options.initial), RING_OPTIONS));
    await cluster.offerToNodes(cluster.ring);
    const gateway = await cluster.startGateway();
    for (const bucket of options.buckets) await cluster.s3(gateway).send(new CreateBucketCommand({ Bucket: bucket }));
    return cluster;
  }

  /** A gateway on the current ring (it knows no previous one). */
  async startGateway(): Promise<Gateway> {
    const config = parseGatewayConfig({
      listen: '127.0.0.1:0',
      credentials: [{ ...TEST_CREDENTIALS }],
      clusterSecret: SECRET,
      erasure: ERASURE,
      nodes: this.ring.nodes.map((node) => ({ id: node.id, address: node.address, zone: node.zone })),
      metadataTimeoutMs: 10_000,
      stallTimeoutMs: 10_000,
    });
    const gateway = new Gateway({ config, logger: silentLogger(), ring: this.ring });
    await gateway.start();
    this.gateways.push(gateway);
    return gateway;
  }

  /** A client of `gateway` that does not retry. */
  s3(gateway: Gateway = this.gateways[0] as Gateway): S3Client {
    const client = localS3Client(`http://127.0.0.1:${gateway.address.port}`, TEST_CREDENTIALS, { maxAttempts: 1 });
    this.s3Clients.push(client);
    return client;
  }

  /** Ring 2: every node, built from the current ring; offered to every node and to the gateways started so far. */
  async grow(): Promise<void> {
    this.previousRing = this.ring;
    this.ring = this.nextRing();
    await this.offerToNodes(this.ring);
    for (const gateway of this.gateways) await gateway.updateRing(this.ring);
  }

  /** The ring `grow()` will build, for choosing keys before the change. */
  nextRing(): Ring {
    return buildRing(this.ring, this.members, RING_OPTIONS);
  }

  /** The ids of a key's set under `ring`. */
  static setOf(ring: Ring, bucket: string, key: string): string[] {
    return new RingLocator(ring).locate(bucket, key).nodes.map((node) => node.id);
  }

  /** A key of `bucket` (named `prefix` and a number) whose sets under `from` and `to` share `shared` slots. */
  static keyWithShared(from: Ring, to: Ring, bucket: string, prefix: string, shared: number): string {
    for (let i = 0; i < 100_000; i += 1) {
      const key = `${prefix}${i}`;
      const before = RingChangeCluster.setOf(from, bucket, key);
      const after = RingChangeCluster.setOf(to, bucket, key);
      if (before.filter((id, slot) => after[slot] === id).length === shared) return key;
    }
    throw new Error(`no key of ${bucket} keeps ${shared} slots`);
  }

  /** Node `id`'s signed client. */
  client(id: string): NodeClient {
    return this.clients[this.index(id)] as NodeClient;
  }

  /** Runs node `id`'s rebalance until it goes idle; whether its epoch is done. */
  async rebalance(id: string): Promise<boolean> {
    const worker = this.rebalancers[this.index(id)] as RebalanceWorker;
    const signal = unlimitedSignal();
    for (let steps = 0; steps < 1_000; steps += 1) if ((await worker.step(signal)).idle) break;
    return worker.settled(this.ring.epoch);
  }

  /** Rebalance passes on every node, `passes` times; the nodes whose epoch is still not done. */
  async rebalanceAll(passes = 2): Promise<string[]> {
    let unsettled: string[] = [];
    for (let pass = 0; pass < passes; pass += 1) {
      unsettled = [];
      for (const member of this.members) if (!(await this.rebalance(member.id))) unsettled.push(member.id);
    }
    return unsettled;
  }

  /**
   * One collector pass on node `id` with its clock `daysAhead` days on (past every settle time and,
   * from 2 days, the tombstone grace); what it dropped.
   */
  async collect(id: string, daysAhead: number): Promise<HealingFigures['gc']> {
    const node = this.nodes[this.index(id)] as StorageNode;
    const figures = new HealingFigures();
    const rebalancer = this.rebalancers[this.index(id)] as RebalanceWorker;
    const gc = new GcWorker({
      nodeId: id,
      ...node.parts,
      peers: this.peers,
      figures,
      logger: silentLogger(),
      tombstoneGraceMs: DAY_MS,
      uploadExpiryMs: 30 * DAY_MS,
      settleMs: 3_600_000,
      placementSettled: () => rebalancer.settled(this.ring.epoch),
      clock: () => Date.now() + daysAhead * DAY_MS,
    });
    const signal = unlimitedSignal();
    for (let steps = 0; steps < 5_000; steps += 1) if ((await gc.step(signal)).idle) break;
    return figures.gc;
  }

  async close(): Promise<void> {
    for (const client of this.s3Clients) client.destroy();
    for (const gateway of this.gateways) await gateway.close().catch(() => undefined);
    for (const client of this.clients) await client.close();
    await this.peers.close();
    for (const node of this.nodes) await node.close().catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }

  private index(id: string): number {
    const index = this.members.findIndex((member) => member.id === id);
    if (index < 0) throw new Error(`no node ${id}`);
    return index;
  }

  private async offerToNodes(ring: Ring): Promise<void> {
    for (const client of this.clients) await client.offerRing(JSON.parse(serializeRing(ring)));
  }
}

/** A signal that is never aborted, for worker steps; each peer call of a step listens to it, as the node's own runner allows. */
function unlimitedSignal(): AbortSignal {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return signal;
}

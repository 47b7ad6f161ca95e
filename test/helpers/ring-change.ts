import { setMaxListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
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

const SECRET = 'ring-change-secret';
const NODE_COUNT = 12;
const FIRST_MEMBERS = 6;
const RING_OPTIONS = { replicas: 6, partitionBits: 4, seed: 7 } as const;
/** Small blocks, so the few hundred KB the tests write span several stripes. */
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 } as const;
const DAY_MS = 86_400_000;

/** Where a gateway gets its rings: the rings it holds from the start (the last current, the one before it previous), a ring file, or seed nodes. */
export type RingSource = { rings: readonly Ring[] } | { ringFile: string } | { seeds: string[] };

/** The part of a tap test the cluster needs: the end of the test closes it. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/** One storage node with what the test drives it by. */
interface NodeHandle {
  member: RingNode;
  node: StorageNode;
  /** Signed client of the node's protocol, for checking and changing what the node holds. */
  client: NodeClient;
  /** The node's rebalance, stepped by `rebalance`: a node started without healing runs none itself. */
  rebalancer: RebalanceWorker;
  stopped: boolean;
}

/**
 * A cluster caught in a ring change, for tests that act between the change and the rebalance: twelve
 * real storage nodes (LevelDB, files, the node protocol) in this process, started without healing so
 * nothing moves unless the test steps a node's rebalance or collector itself, and real gateways (4+2,
 * real HTTP) that each hold the rings they were given or learn them as a deployed gateway does.
 *
 * The rings are fixed values: ring 1 on nodes n0..n5; ring 2 built from it over all twelve (as
 * `tessera ring add` does), so half of the 16 partitions move to a set of added nodes only; ring 3
 * built from ring 2 over n0..n5 again, so every moved partition moves back. Until `changeRing` only
 * ring 1's members hold it: as in a deployed cluster, the added nodes first hear of ring 2, so they
 * know no previous ring and a gateway must find it on the others.
 */
export class RingChangeCluster {
  /** Every node as a ring member, n0..n11 in order. */
  readonly members: readonly RingNode[];
  /** Epoch 1: n0..n5. */
  readonly ring1: Ring;
  /** Epoch 2: all twelve, from ring 1; a partition either keeps its set slot for slot or moves wholly to added nodes. */
  readonly ring2: Ring;
  /** Epoch 3: n0..n5 again, from ring 2. */
  readonly ring3: Ring;
  private readonly root: string;
  private readonly byId: ReadonlyMap<string, NodeHandle>;
  private readonly peers = new PeerClients(SECRET);
  private readonly gateways: Gateway[] = [];
  private readonly s3Clients: S3Client[] = [];
  private readonly locators = new Map<Ring, RingLocator>();

  private constructor(root: string, nodes: readonly StorageNode[]) {
    this.root = root;
    const handles = nodes.map((node, i): NodeHandle => {
      const member = { id: `n${i}`, address: `127.0.0.1:${node.address.port}`, zone: 'z', weight: 1 };
      const client = new NodeClient({ nodeId: member.id, address: member.address, clusterSecret: SECRET });
      const rebalancer = new RebalanceWorker({ nodeId: member.id, ...node.parts, peers: this.peers, figures: new HealingFigures(), logger: silentLogger(), settleMs: 0 });
      return { member, node, client, rebalancer, stopped: false };
    });
    this.members = handles.map((handle) => handle.member);
    this.byId = new Map(handles.map((handle) => [handle.member.id, handle]));
    this.ring1 = buildRing(null, this.members.slice(0, FIRST_MEMBERS), RING_OPTIONS);
    this.ring2 = buildRing(this.ring1, [...this.members], RING_OPTIONS);
    this.ring3 = buildRing(this.ring2, this.members.slice(0, FIRST_MEMBERS), RING_OPTIONS);
  }

  /** Starts the nodes and gives ring 1 to its members; everything is closed and removed when `t` ends. */
  static async start(t: Teardown): Promise<RingChangeCluster> {
    const root = await mkdtemp(join(tmpdir(), 'tessera-ring-change-'));
    const nodes: StorageNode[] = [];
    try {
      for (let i = 0; i < NODE_COUNT; i += 1) {
        const node = new StorageNode({ nodeId: `n${i}`, dataDir: join(root, `n${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), reserveBytes: 0, healing: false });
        nodes.push(node);
        await node.start();
      }
    } catch (err) {
      await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
      await rm(root, { recursive: true, force: true });
      throw err;
    }
    const cluster = new RingChangeCluster(root, nodes);
    t.teardown(() => cluster.close());
    await cluster.offer(cluster.ring1, cluster.ring1.nodes);
    return cluster;
  }

  /**
   * Starts a gateway on `source` with `settings` added to its configuration; an SDK client of it that
   * does not retry, so each answer is the gateway's own.
   */
  async gateway(source: RingSource, settings: Record<string, unknown> = {}): Promise<{ gateway: Gateway; s3: S3Client }> {
    const [first, ...later] = 'rings' in source ? source.rings : [];
    // Given rings, the gateway names the first one's nodes; given a file or seeds, it reads them there.
    const ringSettings = 'rings' in source ? { nodes: (first?.nodes ?? []).map((node) => ({ id: node.id, address: node.address, zone: node.zone })) } : source;
    const config = parseGatewayConfig({
      listen: '127.0.0.1:0',
      credentials: [{ ...TEST_CREDENTIALS }],
      clusterSecret: SECRET,
      erasure: ERASURE,
      metadataTimeoutMs: 10_000,
      stallTimeoutMs: 10_000,
      ...ringSettings,
      ...settings,
    });
    const gateway = new Gateway({ config, logger: silentLogger(), ...(first === undefined ? {} : { ring: first }) });
    this.gateways.push(gateway);
    await gateway.start();
    for (const ring of later) await gateway.updateRing(ring);
    const s3 = localS3Client(`http://127.0.0.1:${gateway.address.port}`, TEST_CREDENTIALS, { maxAttempts: 1 });
    this.s3Clients.push(s3);
    return { gateway, s3 };
  }

  /** The change: offers ring 2 to every node, as `tessera ring push` does, then to `gateways`; nothing is moved. */
  async changeRing(gateways: readonly Gateway[]): Promise<void> {
    await this.offer(this.ring2, this.members);
    for (const gateway of gateways) await gateway.updateRing(this.ring2);
  }

  /** A ring file named `name` in the cluster's directory holding `ring`; its path. */
  async ringFile(name: string, ring: Ring): Promise<string> {
    const path = join(this.root, name);
    await writeFile(path, serializeRing(ring));
    return path;
  }

  /** The ids of a key's set under `ring`, in shard order. */
  setOf(ring: Ring, bucket: string, key: string): string[] {
    let locator = this.locators.get(ring);
    if (locator === undefined) {
      locator = new RingLocator(ring);
      this.locators.set(ring, locator);
    }
    return locator.locate(bucket, key).nodes.map((node) => node.id);
  }

  /** How many slots of a key's set hold the same node under `from` and `to`. */
  sharedSlots(bucket: string, key: string, from: Ring = this.ring1, to: Ring = this.ring2): number {
    const after = this.setOf(to, bucket, key);
    return this.setOf(from, bucket, key).filter((id, slot) => after[slot] === id).length;
  }

  /**
   * A key of `bucket` (`prefix` and a number) whose sets under `from` and `to` share `shared` slots:
   * from ring 1 to ring 2, 0 is a key moving to a set of added nodes only and 6 one that stays.
   */
  keyWithShared(bucket: string, prefix: string, shared: number, from: Ring = this.ring1, to: Ring = this.ring2): string {
    for (let i = 0; i < 100_000; i += 1) {
      const key = `${prefix}${i}`;
      if (this.sharedSlots(bucket, key, from, to) === shared) return key;
    }
    throw new Error(`no key of ${bucket} keeps ${shared} slots`);
  }

  /** Node `id`'s signed client. */
  client(id: string): NodeClient {
    return this.handle(id).client;
  }

  /** Stops node `id` for the rest of the test: calls to it are refused. */
  async stopNode(id: string): Promise<void> {
    const handle = this.handle(id);
    handle.stopped = true;
    await handle.node.close();
  }

  /** Runs node `id`'s rebalance until it goes idle; whether it is done with the epoch the node holds. */
  async rebalance(id: string): Promise<boolean> {
    const { node, rebalancer } = this.handle(id);
    const signal = unlimitedSignal();
    for (let steps = 0; steps < 1_000; steps += 1) if ((await rebalancer.step(signal)).idle) break;
    return rebalancer.settled(heldEpoch(node));
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
    const { node, rebalancer } = this.handle(id);
    const figures = new HealingFigures();
    const gc = new GcWorker({
      nodeId: id,
      ...node.parts,
      peers: this.peers,
      figures,
      logger: silentLogger(),
      tombstoneGraceMs: DAY_MS,
      uploadExpiryMs: 30 * DAY_MS,
      settleMs: 3_600_000,
      placementSettled: () => rebalancer.settled(heldEpoch(node)),
      clock: () => Date.now() + daysAhead * DAY_MS,
    });
    const signal = unlimitedSignal();
    for (let steps = 0; steps < 5_000; steps += 1) if ((await gc.step(signal)).idle) break;
    return figures.gc;
  }

  private handle(id: string): NodeHandle {
    const handle = this.byId.get(id);
    if (handle === undefined) throw new Error(`no node ${id}`);
    return handle;
  }

  /** Offers `ring` to the nodes `to`, as `tessera ring push` does. */
  private async offer(ring: Ring, to: readonly RingNode[]): Promise<void> {
    const document: unknown = JSON.parse(serializeRing(ring));
    for (const { id } of to) await this.client(id).offerRing(document);
  }

  private async close(): Promise<void> {
    for (const client of this.s3Clients) client.destroy();
    for (const gateway of this.gateways) await gateway.close();
    for (const handle of this.byId.values()) await handle.client.close();
    await this.peers.close();
    for (const handle of this.byId.values()) if (!handle.stopped) await handle.node.close();
    await rm(this.root, { recursive: true, force: true });
  }
}

/** The epoch of the ring node holds, which its rebalance works towards. */
function heldEpoch(node: StorageNode): number {
  return node.parts.rings.current?.epoch ?? 0;
}

/** A signal that is never aborted, for worker steps; each peer call of a step listens to it, as the node's own runner allows. */
function unlimitedSignal(): AbortSignal {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return signal;
}

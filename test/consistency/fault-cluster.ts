import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { DEFAULTS } from '../../src/common/index.js';
import { GATEWAY_HEALTH_PATHS } from '../../src/gateway/index.js';
import { RingLocator, buildRing, serializeRing } from '../../src/placement/index.js';
import { NODE_PATHS, NodeClient } from '../../src/rpc/index.js';
import { TestNetwork, removeStaleNetworks, type HostProcess } from '../multihost/netns.js';

const SECRET = 'lin-faults-cluster-secret';
const CREDENTIALS = { accessKeyId: 'lin-faults-access', secretAccessKey: 'lin-faults-secret' } as const;
const NODE_PORT = Number(DEFAULTS.nodeListen.split(':')[1]);
const GATEWAY_PORT = Number(DEFAULTS.gatewayListen.split(':')[1]);
const START_TIMEOUT_MS = 90_000;
/** Floors of the gateways' node deadlines: a cut link makes calls hang, and these bound how long. */
const METADATA_TIMEOUT_MS = 2_000;
const STALL_TIMEOUT_MS = 3_000;

/** One storage node host: its process changes across SIGKILLs and restarts, its data does not. */
interface NodeSlot {
  name: string;
  configPath: string;
  process: HostProcess;
}

/**
 * Six storage node processes and two gateway processes, each in a network namespace of its own
 * (test/multihost/netns.ts). A node can be SIGKILLed and started again on its data, and the
 * link between one gateway and one node can be cut while both keep reaching everyone else.
 */
export class FaultCluster {
  readonly net: TestNetwork;
  readonly dir: string;
  readonly nodeNames: readonly string[];
  readonly gatewayNames = ['gw0', 'gw1'] as const;
  private readonly nodes = new Map<string, NodeSlot>();
  private readonly gateways: HostProcess[] = [];
  private readonly clients: S3Client[] = [];
  private locator: RingLocator | undefined;
  private readonly logEnv = { TESSERA_LOG_LEVEL: 'warn' };

  private constructor(net: TestNetwork, dir: string, nodeNames: readonly string[]) {
    this.net = net;
    this.dir = dir;
    this.nodeNames = nodeNames;
  }

  /** Builds the network, starts every process and waits until both gateways are ready. */
  static async start(): Promise<FaultCluster> {
    removeStaleNetworks();
    const nodeNames = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
    const net = await TestNetwork.create([...nodeNames, 'gw0', 'gw1']);
    const dir = await mkdtemp(join(tmpdir(), 'tessera-lin-faults-'));
    const cluster = new FaultCluster(net, dir, nodeNames);
    try {
      await cluster.bootstrap();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  private nodeAddress(name: string): string {
    return `${this.net.host(name).ip}:${NODE_PORT}`;
  }

  /**
   * Writes the ring and configurations directly (what `tessera cluster init` would), hands the ring to
   * every node (as `tessera ring push` does) and starts gateways that follow the ring file: two fewer
   * process starts than the operator's path, which the multi-host test already covers.
   */
  private async bootstrap(): Promise<void> {
    const secretFile = join(this.dir, 'cluster-secret');
    await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
    for (const name of this.nodeNames) {
      const configPath = join(this.dir, `${name}.json`);
      await writeFile(configPath, JSON.stringify({ nodeId: name, dataDir: join(this.dir, 'data', name), listen: this.nodeAddress(name), clusterSecretFile: secretFile }));
      this.nodes.set(name, { name, configPath, process: this.net.startTessera(name, ['node', '--config', configPath], this.logEnv) });
    }
    const zones = ['a', 'b', 'c'];
    const members = this.nodeNames.map((name, i) => ({ id: name, address: this.nodeAddress(name), zone: zones[i % 3] as string, weight: 1 }));
    const ring = buildRing(null, members, { replicas: 6, partitionBits: 6, seed: 1 });
    const ringFile = join(this.dir, 'ring.json');
    await writeFile(ringFile, serializeRing(ring));
    this.locator = new RingLocator(ring);
    await Promise.all(this.nodeNames.map((name) => this.untilNodeHealthy(name)));
    for (const name of this.nodeNames) {
      const client = new NodeClient({ nodeId: name, address: this.nodeAddress(name), clusterSecret: SECRET });
      try {
        await client.offerRing(JSON.parse(serializeRing(ring)));
      } finally {
        await client.close();
      }
    }
    for (const name of this.gatewayNames) {
      const configPath = join(this.dir, `${name}.json`);
      await writeFile(
        configPath,
        JSON.stringify({
          listen: `${this.net.host(name).ip}:${GATEWAY_PORT}`,
          credentials: [{ ...CREDENTIALS }],
          clusterSecretFile: secretFile,
          erasure: { dataShards: 4, parityShards: 2 },
          ringFile,
          metadataTimeoutMs: METADATA_TIMEOUT_MS,
          stallTimeoutMs: STALL_TIMEOUT_MS,
        }),
      );
      this.gateways.push(this.net.startTessera(name, ['gateway', '--config', configPath], this.logEnv));
    }
    await Promise.all(this.gatewayNames.map((name) => this.poll(`gateway ${name}`, `http://${this.net.host(name).ip}:${GATEWAY_PORT}${GATEWAY_HEALTH_PATHS.ready}`)));
  }

  /** An S3 client of one gateway that never retries: every outcome is one request's. */
  client(gateway: number): S3Client {
    const name = this.gatewayNames[gateway] as string;
    const client = new S3Client({
      endpoint: `http://${this.net.host(name).ip}:${GATEWAY_PORT}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...CREDENTIALS },
      maxAttempts: 1,
      requestHandler: { requestTimeout: 60_000, connectionTimeout: 5_000 },
    });
    this.clients.push(client);
    return client;
  }

  /** The node set of bucket/key in ring order (element i stores shard i). */
  nodesOf(bucket: string, key: string): string[] {
    if (this.locator === undefined) throw new Error('cluster not started');
    return this.locator.locate(bucket, key).nodes.map((node) => node.id);
  }

  /** SIGKILLs a node's process (by its PID) and waits until it is gone. */
  async killNode(name: string): Promise<void> {
    const slot = this.slot(name);
    const { child } = slot.process;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await slot.process.exited;
    }
  }

  /** Starts a node again on its data and waits until it answers /health. */
  async restartNode(name: string): Promise<void> {
    const slot = this.slot(name);
    slot.process = this.net.startTessera(name, ['node', '--config', slot.configPath], this.logEnv);
    await this.untilNodeHealthy(name);
  }

  /** Cuts the link between a gateway and a node; both still reach every other host. */
  async cut(gateway: string, node: string): Promise<void> {
    await this.net.cutBetween(gateway, node);
  }

  /** Restores a link `cut` removed. */
  async restore(gateway: string, node: string): Promise<void> {
    await this.net.restoreBetween(gateway, node);
  }

  /** The last lines every process wrote, for a failure report. */
  describe(): string {
    return [...this.gateways, ...[...this.nodes.values()].map((slot) => slot.process)]
      .map((p) => `--- ${p.host.name} (pid ${p.pid}) ---\n${p.output().split('\n').slice(-20).join('\n')}`)
      .join('\n');
  }

  /** Stops every process this cluster started, removes the namespaces and the data. */
  async destroy(): Promise<void> {
    for (const client of this.clients) client.destroy();
    await this.net.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }

  private slot(name: string): NodeSlot {
    const slot = this.nodes.get(name);
    if (slot === undefined) throw new Error(`no node ${name}`);
    return slot;
  }

  private async untilNodeHealthy(name: string): Promise<void> {
    await this.poll(`node ${name}`, `http://${this.nodeAddress(name)}${NODE_PATHS.health}`, this.slot(name).process);
  }

  /** Polls `url` from the root namespace until it answers 200; fails early when `watched` (or a gateway) exits. */
  private async poll(what: string, url: string, watched?: HostProcess): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      const dead = [...(watched === undefined ? [] : [watched]), ...this.gateways].find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      if (dead !== undefined) throw new Error(`${dead.host.name} exited while waiting for ${what}:\n${dead.output()}`);
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = await response.text();
        if (response.status === 200) return;
        last = `HTTP ${response.status} ${body.slice(0, 200)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      // A process start offers no event to wait on: poll its health endpoint.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${what} not ready after ${START_TIMEOUT_MS} ms: ${last}`);
  }
}

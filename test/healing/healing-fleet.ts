import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { buildRing, serializeRing, type Ring } from '../../src/placement/index.js';
import { NodeClient, type NodeWorkStatus } from '../../src/rpc/index.js';
import { delay, ProcessGroup } from '../helpers/process-group.js';
import { until as untilHolds } from '../helpers/until.js';
import { freePorts } from '../helpers/ports.js';
import type { TesseraProcess } from '../helpers/server.js';

const SECRET = 'healing-test-cluster-secret';
const CREDENTIALS = { accessKeyId: 'healing-access', secretAccessKey: 'healing-secret' } as const;
const START_TIMEOUT_MS = 180_000;

/** One node slot: fixed port and data directory across restarts. */
export interface HealingSlot {
  index: number;
  id: string;
  port: number;
  address: string;
  dataDir: string;
  process: TesseraProcess | null;
  client: NodeClient;
}

/**
 * `tessera node` children (plus spare slots for nodes added later) and a `tessera gateway` that follows
 * the nodes' ring by polling them, so a pushed ring reaches it as in production. Background work is
 * paced for tests: audits every second, scrubs only when asked. Only processes this fleet spawned are
 * signalled, each by its PID.
 */
export class HealingFleet {
  readonly root: string;
  readonly slots: HealingSlot[];
  readonly gatewayPort: number;
  ring: Ring | undefined;
  private gateway: TesseraProcess | null = null;
  private readonly group = new ProcessGroup(CREDENTIALS);

  private constructor(root: string, slots: HealingSlot[], gatewayPort: number) {
    this.root = root;
    this.slots = slots;
    this.gatewayPort = gatewayPort;
  }

  /** Allocates `slotCount` node slots and a gateway port; starts nothing. */
  static async create(slotCount: number): Promise<HealingFleet> {
    const root = await mkdtemp(join(tmpdir(), 'tessera-healing-'));
    const ports = await freePorts(slotCount + 1);
    const slots = Array.from({ length: slotCount }, (_, index): HealingSlot => {
      const port = ports[index] as number;
      const address = `127.0.0.1:${port}`;
      return { index, id: `node-${index}`, port, address, dataDir: join(root, `node-${index}`), process: null, client: new NodeClient({ nodeId: `node-${index}`, address, clusterSecret: SECRET, connections: 4 }) };
    });
    return new HealingFleet(root, slots, ports[slotCount] as number);
  }

  /** Starts node i and waits until it answers /health; offers it the current ring. */
  async startNode(slot: HealingSlot, env: Record<string, string> = {}): Promise<void> {
    const child = this.group.spawn(`tessera node ${slot.id}`, ['node', '--data', slot.dataDir, '--listen', slot.address, '--id', slot.id], {
      TESSERA_CLUSTER_SECRET: SECRET,
      // Info, for the line announcing where it listens.
      TESSERA_LOG_LEVEL: 'info',
      TESSERA_RESERVE_BYTES: '0',
      TESSERA_SCRUB_BYTES_PER_SECOND: String(64 * 1024 * 1024),
      TESSERA_SCRUB_INTERVAL_MS: '3600000',
      TESSERA_AUDIT_INTERVAL_MS: '1000',
      TESSERA_REBALANCE_INTERVAL_MS: '500',
      ...env,
    });
    slot.process = child;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.hasExited) throw new Error(`${child.name} exited at start\n${child.describe()}`);
      try {
        // Its own log first: another process that took the port would answer /health too.
        if (!child.listensOn(slot.port)) throw new Error(`has not logged that it listens on ${slot.port}`);
        await slot.client.health({ signal: AbortSignal.timeout(1_000) });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`${child.name} not healthy\n${child.describe()}`);
        await delay(50);
      }
    }
    if (this.ring !== undefined) await slot.client.offerRing(JSON.parse(serializeRing(this.ring)));
  }

  /** SIGKILLs a node (by its PID). */
  async killNode(slot: HealingSlot): Promise<void> {
    await this.group.kill(slot.process);
  }

  /** Stops a node gracefully. */
  async stopNode(slot: HealingSlot): Promise<void> {
    await slot.process?.stop();
  }

  /** Builds a ring over `members` (from the previous one, so few partitions move) and offers it to `offerTo`. */
  async pushRing(members: readonly HealingSlot[], offerTo: readonly HealingSlot[] = members): Promise<Ring> {
    const nodes = members.map((slot) => ({ id: slot.id, address: slot.address, zone: 'local', weight: 1 }));
    const ring = buildRing(this.ring ?? null, nodes, { replicas: 6, partitionBits: 6, seed: 1 });
    this.ring = ring;
    const document = JSON.parse(serializeRing(ring)) as unknown;
    await Promise.all(offerTo.map((slot) => slot.client.offerRing(document)));
    return ring;
  }

  /** Starts the gateway following the nodes' ring (seeds, polled every 300 ms); `env` adds settings. */
  async startGateway(env: Record<string, string> = {}): Promise<string> {
    const configPath = join(this.root, 'gateway.json');
    await writeFile(
      configPath,
      JSON.stringify({
        listen: `127.0.0.1:${this.gatewayPort}`,
        credentials: [{ ...CREDENTIALS }],
        clusterSecret: SECRET,
        erasure: { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 },
        seeds: this.slots.slice(0, 6).map((slot) => slot.address),
        ringPollMs: 300,
        metadataTimeoutMs: 2_000,
        stallTimeoutMs: 3_000,
      }),
    );
    const { gateway, endpoint } = await this.group.startGateway(configPath, this.gatewayPort, { TESSERA_LOG_LEVEL: 'info', ...env });
    this.gateway = gateway;
    return endpoint;
  }

  /** An S3 client that never retries, so every failure is counted. */
  client(endpoint: string): S3Client {
    return this.group.client(endpoint);
  }

  /** Every running node's background-work status. */
  async statuses(slots: readonly HealingSlot[]): Promise<NodeWorkStatus[]> {
    return Promise.all(slots.map((slot) => slot.client.workStatus({ signal: AbortSignal.timeout(5_000) })));
  }

  /** Kills what is still running (by PID) and removes the directory. */
  async destroy(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.client.close()));
    await this.group.destroy(this.root);
  }

  /** stderr tails of every process, for a failure report. */
  describe(): string {
    return [this.gateway, ...this.slots.map((slot) => slot.process)].filter((p) => p !== null).map((p) => p.describe()).join('\n');
  }
}

export { delay };

/** Polls every 250 ms by default here: fleet checks ask several processes over HTTP. */
export function until(what: string, check: () => Promise<boolean>, timeoutMs: number, pollMs = 250): Promise<number> {
  return untilHolds(what, check, timeoutMs, pollMs);
}

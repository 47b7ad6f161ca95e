import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { buildRing, serializeRing } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { delay, ProcessGroup } from '../helpers/process-group.js';
import { freePorts } from '../helpers/ports.js';
import type { TesseraProcess } from '../helpers/server.js';
import { TEST_PARTITION_BITS } from '../helpers/tree.js';

const SECRET = 'crash-test-cluster-secret';
const CREDENTIALS = { accessKeyId: 'crash-access', secretAccessKey: 'crash-secret' } as const;
const START_TIMEOUT_MS = 180_000;

/** One storage node slot: its port and data stay the same across restarts; the process changes. */
export interface NodeSlot {
  index: number;
  id: string;
  port: number;
  dataDir: string;
  process: TesseraProcess | null;
  /** True once the current process answered /health. */
  up: boolean;
  /** Resolves when the current process is healthy, or rejects when it died first. */
  ready: Promise<void>;
  starts: number;
}

/**
 * Storage nodes and a gateway as child processes (`tessera node`, `tessera gateway`), each node on a
 * fixed port and data directory so it can be SIGKILLed and started again. Only processes this fleet
 * spawned are ever signalled, each by its own PID.
 */
export class CrashFleet {
  readonly root: string;
  readonly nodes: NodeSlot[];
  readonly gatewayPort: number;
  /** Every time a node went down (was about to be SIGKILLed) or came up (answered /health), on performance.now()'s clock. */
  readonly transitions: { atMs: number; nodeId: string; down: boolean }[] = [];
  private gateway: TesseraProcess | null = null;
  private readonly group = new ProcessGroup(CREDENTIALS);

  private constructor(root: string, nodes: NodeSlot[], gatewayPort: number) {
    this.root = root;
    this.nodes = nodes;
    this.gatewayPort = gatewayPort;
  }

  /** Allocates ports and directories for `nodeCount` nodes and a gateway; starts nothing. */
  static async create(nodeCount: number): Promise<CrashFleet> {
    const root = await mkdtemp(join(tmpdir(), 'tessera-crash-'));
    const ports = await freePorts(nodeCount + 1);
    const nodes = Array.from({ length: nodeCount }, (_, index): NodeSlot => ({
      index,
      id: `node-${index}`,
      port: ports[index] as number,
      dataDir: join(root, `node-${index}`),
      process: null,
      up: false,
      ready: Promise.resolve(),
      starts: 0,
    }));
    return new CrashFleet(root, nodes, ports[nodeCount] as number);
  }

  /** Starts (or restarts) node i; `ready` settles when it answers /health or dies. */
  startNode(slot: NodeSlot): void {
    const child = this.group.spawn(`tessera node ${slot.id} #${slot.starts}`, ['node', '--data', slot.dataDir, '--listen', `127.0.0.1:${slot.port}`, '--id', slot.id], {
      TESSERA_CLUSTER_SECRET: SECRET,
    });
    slot.process = child;
    slot.up = false;
    slot.starts += 1;
    slot.ready = this.untilHealthy(slot, child);
    slot.ready.catch(() => undefined);
  }

  /** SIGKILLs node i's current process (by its PID) and waits for it to be gone. */
  async killNode(slot: NodeSlot): Promise<void> {
    if (slot.process !== null && !slot.process.hasExited) this.transitions.push({ atMs: performance.now(), nodeId: slot.id, down: true });
    slot.up = false;
    await this.group.kill(slot.process);
  }

  /**
   * Writes a ring file, hands the ring to every node (as `tessera ring push` does: nodes keep it and use
   * it to find their peers) and starts the gateway process following that file.
   */
  async startGateway(options: { dataShards: number; parityShards: number; blockSizeBytes: number }): Promise<string> {
    const members = this.nodes.map((slot) => ({ id: slot.id, address: `127.0.0.1:${slot.port}`, zone: 'local', weight: 1 }));
    // TEST_PARTITION_BITS: every node SIGKILLed and started again runs a first audit pass over the partitions it leads.
    const ring = buildRing(null, members, { replicas: options.dataShards + options.parityShards, partitionBits: TEST_PARTITION_BITS, seed: 1 });
    const ringFile = join(this.root, 'ring.json');
    await writeFile(ringFile, serializeRing(ring));
    for (const slot of this.nodes) {
      const client = new NodeClient({ nodeId: slot.id, address: `127.0.0.1:${slot.port}`, clusterSecret: SECRET });
      try {
        await client.offerRing(JSON.parse(serializeRing(ring)));
      } finally {
        await client.close();
      }
    }
    const configPath = join(this.root, 'gateway.json');
    const config = {
      listen: `127.0.0.1:${this.gatewayPort}`,
      credentials: [{ ...CREDENTIALS }],
      clusterSecret: SECRET,
      erasure: options,
      ringFile,
      metadataTimeoutMs: 2_000,
      stallTimeoutMs: 3_000,
    };
    await writeFile(configPath, JSON.stringify(config, null, 2));
    const { gateway, endpoint } = await this.group.startGateway(configPath, this.gatewayPort);
    this.gateway = gateway;
    return endpoint;
  }

  /** An S3 client for the gateway that never retries, so every outcome is one request's. */
  client(endpoint: string): S3Client {
    return this.group.client(endpoint);
  }

  /** Stops every node gracefully (SIGTERM) and the gateway. */
  async stopAll(): Promise<void> {
    await this.group.stopAll();
  }

  /** Kills whatever this fleet started that still runs, by PID, and removes its directory. */
  async destroy(): Promise<void> {
    await this.group.destroy(this.root);
  }

  /**
   * The nodes that were down at some moment of [startMs, endMs]: down when it began, or killed before
   * it ended. A node counts as down from its SIGKILL until its next process answers /health.
   */
  nodesDownDuring(startMs: number, endMs: number): Set<string> {
    const downAtStart = new Set<string>(this.nodes.map((slot) => slot.id));
    const down = new Set<string>();
    for (const change of this.transitions) {
      if (change.atMs <= startMs) {
        if (change.down) downAtStart.add(change.nodeId);
        else downAtStart.delete(change.nodeId);
      } else if (change.atMs <= endMs && change.down) {
        down.add(change.nodeId);
      }
    }
    for (const id of downAtStart) down.add(id);
    return down;
  }

  /** stderr tails of every process that is still known, for a failure report. */
  describe(): string {
    return [this.gateway, ...this.nodes.map((slot) => slot.process)].filter((p) => p !== null).map((p) => p.describe()).join('\n');
  }

  private async untilHealthy(slot: NodeSlot, child: TesseraProcess): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.hasExited) throw new Error(`${child.name} exited before it was healthy`);
      // Its own log first: another process that took the port would answer /health too.
      if (child.listensOn(slot.port) && (await answers(`http://127.0.0.1:${slot.port}/health`))) {
        if (slot.process === child) {
          slot.up = true;
          this.transitions.push({ atMs: performance.now(), nodeId: slot.id, down: false });
        }
        return;
      }
      if (Date.now() > deadline) throw new Error(`${child.name} not healthy after ${START_TIMEOUT_MS} ms\n${child.describe()}`);
      await delay(50);
    }
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.status < 500;
  } catch {
    return false;
  }
}

export { delay };

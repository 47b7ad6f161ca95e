import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { parseGatewayConfig, silentLogger } from '../../../src/common/index.js';
import { Gateway, ringFromConfig } from '../../../src/gateway/index.js';
import { RingLocator, serializeRing, type Ring, type RingNode } from '../../../src/placement/index.js';
import { NodeClient } from '../../../src/rpc/index.js';
import { StorageNode } from '../../../src/storage-node/index.js';
import { AuditWorker } from '../../../src/storage-node/workers/audit-worker.js';
import { HealingFigures } from '../../../src/storage-node/workers/healing-figures.js';
import { PeerClients, type PeerClient } from '../../../src/storage-node/workers/peer-clients.js';
import type { RepairTask } from '../../../src/storage-node/workers/repair-worker.js';
import { WorkerRunner, type CursorStore } from '../../../src/storage-node/workers/worker-runner.js';
import { tempDir } from '../store-fixture.js';

const SECRET = 'audit-concurrency-secret';
const BUCKET = 'audited';
const VICTIM = 1;
const AUDITOR_ID = 'node-0';
const CONCURRENCY = 4;
const KEYS = 48;

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The gateway configuration of a 4+2 cluster of nodes node-0, node-1, … at `addresses`. */
function clusterConfig(partitionBits: number, addresses: readonly string[]): ReturnType<typeof parseGatewayConfig> {
  return parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ accessKeyId: 'audit-access', secretAccessKey: 'audit-secret' }],
    clusterSecret: SECRET,
    erasure: { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 },
    partitionBits,
    nodes: addresses.map((address, i) => ({ id: `node-${i}`, address, zone: 'test' })),
  });
}

/** Cursors in memory, with every value ever saved. */
class MemoryCursors implements CursorStore {
  readonly saved: (string | null)[] = [];
  private value: string | null = null;

  async loadCursor(): Promise<string | null> {
    return this.value;
  }

  async saveCursor(_name: string, cursor: string | null): Promise<void> {
    this.value = cursor;
    this.saved.push(cursor);
  }

  get partition(): number | undefined {
    return this.value === null ? undefined : (JSON.parse(this.value) as { partition: number }).partition;
  }
}

/**
 * Peer clients that record which partitions' digests are asked for and how many partitions have one in
 * flight at once, and hold every digest request of `hold` until `release()` fails them (whatever their
 * timeouts): that partition's audit cannot finish while the others go on.
 */
class WatchedPeers extends PeerClients {
  hold: number | undefined;
  readonly asked: number[] = [];
  readonly inFlight = new Map<number, number>();
  maxPartitionsInFlight = 0;
  private readonly held: (() => void)[] = [];

  release(): void {
    for (const fail of this.held.splice(0)) fail();
  }

  override get(node: RingNode): PeerClient {
    const client = super.get(node);
    const partitionDigest: PeerClient['partitionDigest'] = async (partition, bits, options) => {
      if (!this.asked.includes(partition)) this.asked.push(partition);
      this.inFlight.set(partition, (this.inFlight.get(partition) ?? 0) + 1);
      this.maxPartitionsInFlight = Math.max(this.maxPartitionsInFlight, this.inFlight.size);
      try {
        if (partition === this.hold) await new Promise((_, reject) => this.held.push(() => reject(new Error('injected: released'))));
        return await client.partitionDigest(partition, bits, options);
      } finally {
        const left = (this.inFlight.get(partition) ?? 1) - 1;
        if (left === 0) this.inFlight.delete(partition);
        else this.inFlight.set(partition, left);
      }
    };
    return new Proxy(client, {
      get: (target, name) => {
        if (name === 'partitionDigest') return partitionDigest;
        const value: unknown = Reflect.get(target, name);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

t.test('a node runs repair and audit at the configured concurrency', async (t) => {
  const root = await tempDir(t, 'healing-concurrency');
  const node = new StorageNode({
    nodeId: 'node-0',
    dataDir: join(root, 'node-0'),
    host: '127.0.0.1',
    port: 0,
    clusterSecret: SECRET,
    logger: silentLogger(),
    resolveEveryMs: 0,
    healing: { repairConcurrency: 3, auditConcurrency: 5 },
  });
  await node.start();
  const client = new NodeClient({ nodeId: 'node-0', address: `127.0.0.1:${node.address.port}`, clusterSecret: SECRET, connections: 1 });
  t.teardown(async () => {
    await client.close();
    await node.close();
  });
  const { workers } = await client.workStatus();
  t.match(workers['repair'], { lanes: 3, worker: { concurrency: 3 } }, 'repair: three steps at once');
  t.match(workers['audit'], { lanes: 1, worker: { concurrency: 5 } }, 'audit: one lane (its cursor is saved in order), five partitions at once');
});

t.test('concurrent audits find every shard a wiped node lost, and a restart resumes at the lowest partition not fully audited', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning);
  };
  process.on('warning', onWarning);
  const root = await tempDir(t, 'audit-concurrency');
  const logger = silentLogger();
  const startNode = async (i: number, port = 0): Promise<StorageNode> => {
    const node = new StorageNode({ nodeId: `node-${i}`, dataDir: join(root, `node-${i}`), host: '127.0.0.1', port, clusterSecret: SECRET, logger, healing: false, resolveEveryMs: 0 });
    await node.start();
    return node;
  };
  const nodes: StorageNode[] = [];
  for (let i = 0; i < 6; i += 1) nodes.push(await startNode(i));
  const config = clusterConfig(6, nodes.map((node) => `127.0.0.1:${node.address.port}`));
  const ring: Ring = ringFromConfig(config);
  const gateway = new Gateway({ config, logger });
  const { port } = await gateway.start();
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'audit-access', secretAccessKey: 'audit-secret' } });
  const runners: WorkerRunner[] = [];
  const peerSets: PeerClients[] = [];
  t.teardown(async () => {
    process.off('warning', onWarning);
    for (const runner of runners) await runner.close();
    for (const peers of peerSets) await peers.close();
    s3.destroy();
    await gateway.close();
    for (const node of nodes) await node.close();
  });

  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (let i = 0; i < KEYS; i += 1) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `k${i}`, Body: Buffer.alloc(2_000 + i, i) }));

  // The victim restarts on its port with an empty data directory and is handed the ring again.
  const victimPort = (nodes[VICTIM] as StorageNode).address.port;
  await (nodes[VICTIM] as StorageNode).close();
  await rm(join(root, `node-${VICTIM}`), { recursive: true, force: true });
  nodes[VICTIM] = await startNode(VICTIM, victimPort);
  const victimClient = new NodeClient({ nodeId: `node-${VICTIM}`, address: `127.0.0.1:${victimPort}`, clusterSecret: SECRET, connections: 1 });
  await victimClient.offerRing(JSON.parse(serializeRing(ring)));
  await victimClient.close();

  // Every key lost its shard on the victim; each is found by the audit of whichever node leads its partition.
  const locator = new RingLocator(ring);
  const lost = new Map<string, { partition: number; shardIndex: number }>();
  for (let i = 0; i < KEYS; i += 1) {
    const { partition, nodes: set } = locator.locate(BUCKET, `k${i}`);
    lost.set(`k${i}`, { partition, shardIndex: set.findIndex((node) => node.id === `node-${VICTIM}`) });
  }
  const led = [...ring.table].flatMap((row, partition) => (row[0] === AUDITOR_ID ? [partition] : []));
  t.ok(led.length >= 4, `${AUDITOR_ID} leads ${led.length} partitions`);
  const held = led[1] as number;

  const found = new Map<string, RepairTask>();
  const enqueue = (task: RepairTask): boolean => {
    found.set(task.record.key, task);
    return true;
  };
  const startAudit = async (nodeId: string, peers: PeerClients, figures: HealingFigures, cursors: CursorStore): Promise<WorkerRunner> => {
    const worker = new AuditWorker({ nodeId, ring: () => ring, peers, figures, logger, enqueue, onFindings: () => undefined, tombstoneGraceMs: 24 * 3600_000, concurrency: CONCURRENCY });
    const runner = new WorkerRunner({ worker, cursors, logger, idleMs: 60_000, errorBackoffMs: 10 });
    runners.push(runner);
    await runner.start();
    return runner;
  };

  // Phase 1: every other node audits a full pass; node-0's audit of `held` cannot finish.
  const others = [1, 2, 3, 4, 5].map((i) => ({ id: `node-${i}`, figures: new HealingFigures() }));
  const plain = new PeerClients(SECRET);
  peerSets.push(plain);
  for (const other of others) await startAudit(other.id, plain, other.figures, new MemoryCursors());
  const watched = new WatchedPeers(SECRET);
  peerSets.push(watched);
  watched.hold = held;
  const cursors = new MemoryCursors();
  const first = new HealingFigures();
  const interrupted = await startAudit(AUDITOR_ID, watched, first, cursors);
  await until('node-0 audited every partition it leads but the held one', () => first.audit.partitionsChecked === led.length - 1 && cursors.partition === held);
  await until('every other node ended its pass', () => others.every((other) => other.figures.audit.passes === 1));
  t.ok(watched.maxPartitionsInFlight >= 2, `partitions were audited concurrently (${watched.maxPartitionsInFlight} at once)`);
  t.ok(watched.maxPartitionsInFlight <= CONCURRENCY, `never more than ${CONCURRENCY} partitions at once`);
  const savedPartitions = cursors.saved.map((cursor) => (cursor === null ? -1 : (JSON.parse(cursor) as { partition: number }).partition));
  t.ok(savedPartitions.every((partition) => partition <= held), `no saved cursor passed the unfinished partition ${held} (saved: ${savedPartitions.join(', ')})`);
  t.equal(first.audit.passes, 0, 'a pass with a partition unfinished has not ended');
  // Stopping aborts the step first; only then does the held audit end (failed), so it never finishes.
  const closing = interrupted.close();
  watched.release();
  await closing;
  t.equal(cursors.partition, held, 'stopped, the cursor stays at the unfinished partition');

  // Phase 2: a new worker (nothing in memory) resumes from the saved cursor and ends the pass.
  watched.hold = undefined;
  watched.asked.length = 0;
  const resumed = new HealingFigures();
  await startAudit(AUDITOR_ID, watched, resumed, cursors);
  await until('the resumed audit ends its pass', () => resumed.audit.passes === 1);
  const rest = led.filter((partition) => partition >= held);
  t.equal(watched.asked[0], held, 'the resumed audit starts with the unfinished partition');
  t.same([...watched.asked].sort((a, b) => a - b), rest, 'and audits exactly the partitions from it on, none below');
  t.equal(resumed.audit.partitionsChecked, rest.length, 'partitions checked counts each of them once');
  const belowRest = [...lost.values()].filter((loss) => rest.includes(loss.partition)).length;
  t.equal(resumed.audit.belowFullRedundancy, belowRest, 'objects below full redundancy: the lost keys in those partitions');
  for (const other of others) {
    const own = [...lost.values()].filter((loss) => ring.table.row(loss.partition)[0] === other.id).length;
    t.equal(other.figures.audit.belowFullRedundancy, own, `${other.id}: objects below full redundancy are the lost keys of the partitions it leads`);
  }

  t.equal(found.size, KEYS, 'a repair was queued for every lost shard');
  for (const [key, loss] of lost) {
    const task = found.get(key);
    t.equal(task?.target.id, `node-${VICTIM}`, `${key}: repair targets the wiped node`);
    t.equal(task?.shardIndex, loss.shardIndex, `${key}: shard ${loss.shardIndex}, its position in the set`);
  }
  t.same(warnings, [], 'no abort-listener warnings');
});

t.test('a partition whose digest only one member answers is counted as passed over, not as audited', async (t) => {
  const root = await tempDir(t, 'audit-unanswered');
  const node = new StorageNode({ nodeId: 'node-0', dataDir: join(root, 'node-0'), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), healing: false, resolveEveryMs: 0 });
  await node.start();
  // Five members that refuse every connection at once: only node-0 answers its own digests.
  const ring = ringFromConfig(clusterConfig(4, [`127.0.0.1:${node.address.port}`, ...Array<string>(5).fill('127.0.0.1:1')]));
  const peers = new PeerClients(SECRET);
  const figures = new HealingFigures();
  const worker = new AuditWorker({ nodeId: 'node-0', ring: () => ring, peers, figures, logger: silentLogger(), enqueue: () => true, onFindings: () => undefined, tombstoneGraceMs: 24 * 3600_000 });
  const runner = new WorkerRunner({ worker, cursors: new MemoryCursors(), logger: silentLogger(), idleMs: 60_000, errorBackoffMs: 10 });
  t.teardown(async () => {
    await runner.close();
    await peers.close();
    await node.close();
  });
  await runner.start();
  await until('the pass ends', () => figures.audit.passes === 1);
  const led = [...ring.table].filter((row) => row[0] === 'node-0').length;
  t.ok(led > 0, `node-0 leads ${led} partitions`);
  t.equal(figures.audit.partitionsUnchecked, led, 'every partition it leads was passed over');
  t.equal(figures.audit.partitionsChecked, 0, 'none counts as audited');
});

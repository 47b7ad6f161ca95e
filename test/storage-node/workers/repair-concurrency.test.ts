import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import type { RingNode } from '../../../src/placement/index.js';
import { NodeError, shardRefOf, type ShardRef } from '../../../src/rpc/index.js';
import { HealingFigures } from '../../../src/storage-node/workers/healing-figures.js';
import { PeerClients, type PeerClient } from '../../../src/storage-node/workers/peer-clients.js';
import { RepairWorker } from '../../../src/storage-node/workers/repair-worker.js';
import { WorkerRunner } from '../../../src/storage-node/workers/worker-runner.js';
import { readShard, tempDir } from '../store-fixture.js';
import { startVictimCluster } from './victim-cluster.js';

const SECRET = 'repair-concurrency-secret';
const BUCKET = 'concurrent';
const VICTIM_ID = 'node-1';
const CONCURRENCY = 4;

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Peer clients that fail every shard read of the `blocked` keys (too few sources: the repair must fail
 * and be retried) and watch the writes to the target: how many are in flight at once. The first write
 * waits for a second to start, so a repair that is not concurrent fails the overlap check instead of
 * passing by luck.
 */
class WatchedPeers extends PeerClients {
  readonly blocked = new Set<string>();
  putsInFlight = 0;
  maxPutsInFlight = 0;
  private releaseFirst: (() => void) | undefined;
  private readonly overlapped: Promise<void>;

  constructor(secret: string) {
    super(secret);
    this.overlapped = new Promise<void>((resolve) => {
      this.releaseFirst = resolve;
      setTimeout(resolve, 10_000).unref();
    });
  }

  override get(node: RingNode): PeerClient {
    const client = super.get(node);
    const overrides: Partial<PeerClient> = {
      readShard: async (ref, ...rest) => {
        if (this.blocked.has(ref.key)) throw new NodeError('Unavailable', node.id, 'injected: source unreachable');
        return client.readShard(ref, ...rest);
      },
      putShard: async (...args) => {
        this.putsInFlight += 1;
        this.maxPutsInFlight = Math.max(this.maxPutsInFlight, this.putsInFlight);
        try {
          if (this.putsInFlight >= 2) this.releaseFirst?.();
          await this.overlapped;
          return await client.putShard(...args);
        } finally {
          this.putsInFlight -= 1;
        }
      },
    };
    // Everything else goes to the real client, whatever the protocol grows.
    return new Proxy(client, {
      get: (target, name) => {
        const override = overrides[name as keyof PeerClient];
        if (override !== undefined) return override;
        const value: unknown = Reflect.get(target, name);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

t.test('concurrent repair rebuilds every missing shard byte-exact, keeps a failed shard queued until a retry rebuilds it, and resumes after a restart', async (t) => {
  const root = await tempDir(t, 'repair-concurrency');
  const logger = silentLogger();
  const { victim, s3, close } = await startVictimCluster(root, SECRET, { accessKeyId: 'repair-access', secretAccessKey: 'repair-secret' });
  let runner: WorkerRunner | undefined;
  let peers: WatchedPeers | undefined;
  t.teardown(async () => {
    await runner?.close();
    await peers?.close();
    await close();
  });

  // Objects from one stripe to several (64 KiB blocks): every one has a shard on every node, the
  // victim's a file unless it is small enough to be inline.
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const sizes = [150_000, 300_000, 700_000, 1_100_000];
  for (let i = 0; i < 24; i += 1) {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `k${i}`, Body: randomBytes((sizes[i % sizes.length] as number) + i) }));
  }
  const originals = new Map<string, { ref: ShardRef; bytes: Buffer }>();
  for (let i = 0; i < 24; i += 1) {
    const stored = await victim.store.objectStatus(BUCKET, `k${i}`);
    if (stored?.shardIndex === null || stored === undefined) throw new Error(`the victim holds no shard of k${i}`);
    const ref = shardRefOf(stored.record, stored.shardIndex);
    originals.set(ref.key, { ref, bytes: await readShard(victim.store, ref) });
  }

  // Lose every shard file and segment while the node is down: start-up recovery quarantines them (the persisted queue).
  await victim.stop();
  const deleted = await victim.deleteShardData();
  await victim.start();
  t.equal(deleted, 24, 'every object had its shard in a file or segment on the victim');
  t.equal(victim.store.stats.quarantinedShards, deleted, 'start-up recovery queued every lost shard');

  const startRepair = (watched: WatchedPeers, figures: HealingFigures): WorkerRunner => {
    const worker = new RepairWorker({ nodeId: VICTIM_ID, store: victim.store, rings: victim.rings, peers: watched, figures, logger, retryAfterMs: 20, concurrency: CONCURRENCY });
    const started = new WorkerRunner({ worker, cursors: victim.store.metadata, logger, idleMs: 10 });
    return started;
  };
  const isQueued = (key: string): Promise<boolean> => victim.store.metadata.isQuarantined((originals.get(key) as { ref: ShardRef }).ref);

  // Phase 1: three shards have no readable source; the rest are rebuilt, several at once.
  peers = new WatchedPeers(SECRET);
  for (const key of ['k0', 'k5', 'k10']) peers.blocked.add(key);
  const figures = new HealingFigures();
  runner = startRepair(peers, figures);
  await runner.start();
  // The node clears a shard's quarantine inside the commit, before the worker hears back and counts it:
  // wait for the worker's own figures as well as the node's queue.
  await until(
    'every shard with sources is rebuilt and the blocked ones failed twice',
    () => victim.store.stats.quarantinedShards === 3 && figures.repair.failed >= 6 && figures.repair.shardsRebuilt >= deleted - 3,
  );
  t.ok(peers.maxPutsInFlight >= 2, `repairs ran concurrently (${peers.maxPutsInFlight} rebuilt shards in flight at once)`);
  t.ok(peers.maxPutsInFlight <= CONCURRENCY, `never more than ${CONCURRENCY} repairs in flight`);
  for (const key of peers.blocked) t.ok(await isQueued(key), `${key} stays queued while its repair keeps failing`);
  t.equal(figures.repair.shardsRebuilt, deleted - 3, 'each shard with sources was rebuilt once');
  t.ok(figures.repair.pending >= 3, 'the failed shards still count as pending');

  // Phase 2: the node restarts with the failures still queued; a new worker (nothing in memory) resumes.
  await runner.close();
  await peers.close();
  await victim.stop();
  await victim.start();
  t.equal(victim.store.stats.quarantinedShards, 3, 'the restarted node starts with exactly the unrepaired shards queued');
  peers = new WatchedPeers(SECRET);
  const resumed = new HealingFigures();
  runner = startRepair(peers, resumed);
  await runner.start();
  await until('the resumed repair drains the queue', () => victim.store.stats.quarantinedShards === 0 && resumed.repair.shardsRebuilt >= 3);
  t.equal(resumed.repair.shardsRebuilt, 3, 'after the restart only the three queued shards were rebuilt');
  t.equal(resumed.repair.failed, 0, 'with their sources back, no attempt failed');
  await until('pending settles at zero', () => resumed.repair.pending === 0);

  for (const { ref, bytes } of originals.values()) {
    const rebuilt = await readShard(victim.store, ref);
    t.ok(rebuilt.equals(bytes), `${ref.key}: shard ${ref.shardIndex} reads back byte-identical (${bytes.length} bytes)`);
  }
});

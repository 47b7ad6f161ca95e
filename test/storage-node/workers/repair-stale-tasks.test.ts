import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import type { RingNode } from '../../../src/placement/index.js';
import { NodeError, shardRefOf, type ObjectRecord, type ShardRef } from '../../../src/rpc/index.js';
import { HealingFigures } from '../../../src/storage-node/workers/healing-figures.js';
import { PeerClients, type PeerClient } from '../../../src/storage-node/workers/peer-clients.js';
import { RepairWorker, type RepairWorkerOptions } from '../../../src/storage-node/workers/repair-worker.js';
import { WorkerRunner } from '../../../src/storage-node/workers/worker-runner.js';
import { until } from '../../helpers/until.js';
import { readShard, tempDir } from '../store-fixture.js';
import { startVictimCluster } from './victim-cluster.js';

/**
 * Repair tasks that can never succeed must leave the queue: one whose version was overwritten, one whose
 * target left the key's set, and one that keeps failing for a version still held (too few readable
 * shards) is given up after a bounded number of growing waits. A quarantined shard is never given up:
 * its row outlives the attempt limit and the shard is rebuilt once its sources return.
 */

const SECRET = 'repair-stale-secret';
const BUCKET = 'stale';
const VICTIM_ID = 'node-1';

/** Peer clients whose shard reads of the `blocked` keys fail: those repairs have too few sources. */
class BlockingPeers extends PeerClients {
  readonly blocked = new Set<string>();

  override get(node: RingNode): PeerClient {
    const client = super.get(node);
    const readShard: PeerClient['readShard'] = async (ref, ...rest) => {
      if (this.blocked.has(ref.key)) throw new NodeError('Unavailable', node.id, 'injected: source unreachable');
      return client.readShard(ref, ...rest);
    };
    return new Proxy(client, {
      get: (target, name) => {
        if (name === 'readShard') return readShard;
        const value: unknown = Reflect.get(target, name);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

const root = await tempDir(t, 'repair-stale');
const logger = silentLogger();
const { victim, s3, close } = await startVictimCluster(root, SECRET, { accessKeyId: 'stale-access', secretAccessKey: 'stale-secret' });
t.teardown(close);
await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

/** The version of `key` the victim holds now. */
async function recordOf(key: string): Promise<ObjectRecord> {
  const stored = await victim.store.objectStatus(BUCKET, key);
  if (stored === undefined) throw new Error(`the victim holds no version of ${key}`);
  return stored.record;
}

/** The key's set under the victim's ring, in shard order. */
function setOf(key: string): RingNode[] {
  const locator = victim.rings.locator;
  if (locator === undefined) throw new Error('the victim holds no ring');
  return [...locator.locate(BUCKET, key).nodes];
}

/** A repair worker on the victim under a runner, with its own figures, peers and (optionally) log lines; closed when `t` ends. */
async function startRepair(
  t: { teardown(fn: () => unknown): void },
  options: Partial<RepairWorkerOptions> = {},
): Promise<{ worker: RepairWorker; figures: HealingFigures; peers: BlockingPeers; lines: Record<string, unknown>[]; runner: WorkerRunner }> {
  const lines: Record<string, unknown>[] = [];
  const sink = { write: (line: string): void => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  const peers = new BlockingPeers(SECRET);
  const figures = new HealingFigures();
  const worker = new RepairWorker({ nodeId: VICTIM_ID, store: victim.store, rings: victim.rings, peers, figures, logger: pino({ level: 'warn' }, sink), retryAfterMs: 20, ...options });
  const runner = new WorkerRunner({ worker, cursors: victim.store.metadata, logger, idleMs: 10 });
  t.teardown(async () => {
    await runner.close();
    await peers.close();
  });
  return { worker, figures, peers, lines, runner };
}

/** Whether the worker holds no task: none queued and none in flight. */
function drained(worker: RepairWorker): boolean {
  const status = worker.status();
  return status['queued'] === 0 && status['inFlight'] === 0;
}

t.test('a repair task for a version since overwritten in a non-versioned bucket is dropped after its first failure, not retried forever', async (t) => {
  // Small objects: their shards are inline rows, so the victim's only shard outside LevelDB is the quarantine test's.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'overwritten', Body: randomBytes(4_000) }));
  const first = await recordOf('overwritten');
  const target = setOf('overwritten')[0] as RingNode;
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'overwritten', Body: randomBytes(5_000) }));
  const second = await recordOf('overwritten');
  t.not(second.versionId, first.versionId, 'the overwrite wrote a newer version');
  t.equal(await victim.store.versionStatus(BUCKET, 'overwritten', first.versionId), undefined, 'the non-versioned bucket keeps no copy of the first');

  const { worker, figures, runner } = await startRepair(t);
  // Queued as an audit would have before the overwrite: its target lacked shard 0 of the first version.
  t.ok(worker.enqueue({ record: first, target, shardIndex: 0 }), 'the task is queued');
  await runner.start();
  await until('the task has left the queue', async () => drained(worker), 15_000, 10);
  t.equal(worker.status()['dropped'], 1, 'the worker counts it as dropped: no longer needed');
  t.equal(figures.repair.failed, 1, 'it failed once, and was not tried again');
  t.equal(figures.repair.shardsRebuilt, 0, 'nothing was rebuilt');
  t.equal((await recordOf('overwritten')).versionId, second.versionId, 'the newer version stands');
});

t.test('a repair task whose target is no longer a member of the key\'s set is dropped after its first failure', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'departed', Body: randomBytes(4_000) }));
  const record = await recordOf('departed');
  // A node that left the ring: no set names it, and nothing listens at its old address.
  const departed: RingNode = { id: 'node-departed', address: '127.0.0.1:1', zone: 'test', weight: 1 };
  t.notOk(setOf('departed').some((node) => node.id === departed.id), 'the key\'s set does not name it');

  const { worker, figures, runner } = await startRepair(t);
  t.ok(worker.enqueue({ record, target: departed, shardIndex: 0 }), 'the task is queued');
  await runner.start();
  await until('the task has left the queue', async () => drained(worker), 15_000, 10);
  t.equal(worker.status()['dropped'], 1, 'the worker counts it as dropped');
  t.equal(figures.repair.failed, 1, 'it failed once, and was not tried again');
});

t.test('a repair that keeps failing for a version still held waits longer after each failure and is given up after the attempt limit', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'unreadable', Body: randomBytes(4_000) }));
  const record = await recordOf('unreadable');
  const target = setOf('unreadable')[0] as RingNode;

  const { worker, figures, peers, lines, runner } = await startRepair(t, { maxAttempts: 4 });
  peers.blocked.add('unreadable');
  t.ok(worker.enqueue({ record, target, shardIndex: 0 }), 'the task is queued');
  await runner.start();
  await until('the task has left the queue', async () => drained(worker), 15_000, 10);
  t.equal(figures.repair.failed, 4, 'it was attempted exactly the attempt limit');
  t.equal(worker.status()['gaveUp'], 1, 'the worker counts it as given up');
  t.equal(worker.status()['dropped'], 0, 'it was still needed: not counted as dropped');
  const waits = lines.filter((line) => line['msg'] === 'repair failed, will retry').map((line) => line['retryInMs']);
  t.same(waits, [20, 40, 80], 'each failure before the last waits twice as long as the one before');
  t.ok(
    lines.some((line) => line['msg'] === 'repair given up; the next audit finds it again if it is still missing' && line['key'] === 'unreadable'),
    'giving up is logged with its key',
  );
  // The queue takes the same finding again from the next audit.
  t.ok(worker.enqueue({ record, target, shardIndex: 0 }), 'the next audit can queue it again');
});

t.test('a quarantined shard whose repair keeps failing stays quarantined past the attempt limit and is rebuilt once its sources return', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'quarantined', Body: randomBytes(300_000) }));
  const stored = await victim.store.objectStatus(BUCKET, 'quarantined');
  if (stored?.shardIndex === null || stored === undefined) throw new Error('the victim holds no shard of the key');
  const ref: ShardRef = shardRefOf(stored.record, stored.shardIndex);
  const original = await readShard(victim.store, ref);
  await victim.stop();
  t.equal(await victim.deleteShardData(), 1, 'the key\'s shard was the victim\'s only shard image outside LevelDB');
  await victim.start();
  t.ok(await victim.store.metadata.isQuarantined(ref), 'start-up recovery quarantined the lost shard');

  const { worker, figures, peers, runner } = await startRepair(t, { maxAttempts: 2, maxRetryAfterMs: 100 });
  peers.blocked.add('quarantined');
  await runner.start();
  await until('the repair failed twice the attempt limit', async () => figures.repair.failed >= 4, 15_000, 10);
  t.ok(await victim.store.metadata.isQuarantined(ref), 'the shard is still quarantined: its row is not given up');
  t.equal(worker.status()['gaveUp'], 0, 'a quarantined shard is never counted as given up');
  peers.blocked.delete('quarantined');
  await until('the shard is rebuilt and out of quarantine', async () => figures.repair.shardsRebuilt === 1 && !(await victim.store.metadata.isQuarantined(ref)), 15_000, 10);
  t.ok((await readShard(victim.store, ref)).equals(original), 'the rebuilt shard is byte-identical to the lost one');
});

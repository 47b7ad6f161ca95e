import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import type { ShardRef } from '../../../src/rpc/index.js';
import type { QuarantineEntry, ShardStore } from '../../../src/storage-node/index.js';
import { HealingFigures } from '../../../src/storage-node/workers/healing-figures.js';
import { ScrubWorker } from '../../../src/storage-node/workers/scrub-worker.js';
import { WorkerRunner } from '../../../src/storage-node/workers/worker-runner.js';
import { seededBytes } from '../../helpers/bytes.js';
import { gate } from '../../helpers/gate.js';
import { rotShardImage } from '../../helpers/shard-images.js';
import { until } from '../../helpers/until.js';
import { openStore, shardImageAt, shardRef, tempDir, writeShard } from '../store-fixture.js';

/**
 * An operator's scrub (`tessera admin scrub`, `admin heal`) asked for while a pass is running must read
 * every shard after the request, and the node must not report the request done before such a pass ends.
 * Here the request lands while a step of the running pass is reading a shard: the step carries on, and the
 * restarted pass still covers every key, including those the old pass had already passed.
 */

const KEYS = 20;
const FILE_BYTES = 100_000;

// The runner's pauses do not hold a process open (a node's server does): this test's process stays until it ends.
const keepAlive = setInterval(() => undefined, 1_000);
t.teardown(() => clearInterval(keepAlive));

/** The store as the scrubber sees it, with its n-th shard read (counted from 1) held until released. */
function holdingRead(store: ShardStore, n: number): { store: ShardStore; reached: Promise<void>; release: () => void } {
  const held = gate();
  let reads = 0;
  const openShard: ShardStore['openShard'] = async (...args) => {
    reads += 1;
    if (reads === n) await held.arrive();
    return store.openShard(...args);
  };
  const proxy = new Proxy(store, {
    get(target, property) {
      if (property === 'openShard') return openShard;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: proxy, reached: held.reached, release: held.release };
}

async function quarantined(store: ShardStore): Promise<QuarantineEntry[]> {
  const entries: QuarantineEntry[] = [];
  for await (const entry of store.metadata.quarantined()) entries.push(entry);
  return entries;
}

t.test('a scrub asked for while a pass reads a shard covers every key, and only a pass begun after the request reports it done', async (t) => {
  const dir = await tempDir(t, 'scrub-restart');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const refs: ShardRef[] = [];
  for (let i = 0; i < KEYS; i += 1) {
    const ref = shardRef(`k${i}`, 1, 2);
    await writeShard(store, ref, seededBytes(FILE_BYTES, i));
    refs.push(ref);
  }
  const figures = new HealingFigures();
  // The running pass is held in the middle of its third step (four keys a step), at its tenth shard.
  const held = holdingRead(store, 10);
  const scrub = new ScrubWorker({ store: held.store, figures, onQuarantine: () => undefined, keysPerStep: 4 });
  const runner = new WorkerRunner({ worker: scrub, cursors: store.metadata, logger: silentLogger(), idleMs: 60_000, limits: { itemsPerSecond: 1_000_000 } });
  t.teardown(() => runner.close());
  await runner.start();
  await held.reached;
  t.equal(figures.scrub.shardsVerified, 9, 'the running pass has verified nine shards');

  // Every shard rots, then the operator asks for a pass (what HealingWork.startScrub does).
  for (const ref of refs) await rotShardImage(await shardImageAt(dir, store, ref));
  figures.scrub.asked += 1;
  runner.restartPass(true);
  held.release();

  await until('a pass begun after the request ended', async () => figures.scrub.lastPassAsked >= figures.scrub.asked, 30_000, 10);
  t.equal(figures.scrub.checksumFailures, KEYS, 'every rotten shard was found, before the running pass’s position too');
  t.equal((await quarantined(store)).length, KEYS, 'every rotten shard is quarantined for repair');
  t.equal(figures.scrub.shardsVerified, 9, 'no shard read after the rot passed its checks');
});

import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import { buildRing, FIRST_RING_EPOCH, RingLocator, type Ring, type RingNode } from '../../../src/placement/index.js';
import { RingStore, type ShardStore } from '../../../src/storage-node/index.js';
import { HealingFigures } from '../../../src/storage-node/workers/healing-figures.js';
import type { PeerClients } from '../../../src/storage-node/workers/peer-clients.js';
import { RebalanceWorker } from '../../../src/storage-node/workers/rebalance-worker.js';
import { openStore, prepareBytes, recordFor, shardRef, tempDir, writeShard } from '../store-fixture.js';

/**
 * Rebalance walks a node's keys after a ring change, pass after pass until the change has settled. The
 * cluster's first ring changed nothing: no key can sit where an older ring put it, so a fresh cluster's
 * nodes spend nothing on it while their first clients arrive.
 */

const MEMBERS: RingNode[] = ['me', 'a', 'b'].map((id) => ({ id, address: `127.0.0.1:${id.length}`, zone: 'z', weight: 1 }));
const OPTIONS = { replicas: 3, partitionBits: 2, seed: 1 };
const KEYS = ['k1', 'k2', 'k3', 'k4'];

/** Peers that answer the bucket gathering only: the keys below never need to move. */
const peers = { get: () => ({ listBuckets: async () => [] }) } as unknown as PeerClients;

/** Writes each key's shard in the slot `ring` gives this node (a member of every set: three members, three replicas), as a gateway writing under it would. */
async function writeUnder(store: ShardStore, ring: Ring): Promise<void> {
  const locator = new RingLocator(ring);
  for (const [n, key] of KEYS.entries()) {
    const slot = locator.locate('b', key).nodes.findIndex((node) => node.id === 'me');
    await writeShard(store, shardRef(key, n + 1, slot), Buffer.from(key));
  }
}

async function setUp(t: { teardown(fn: () => Promise<void>): void }, ring: Ring): Promise<{ worker: RebalanceWorker; figures: HealingFigures; rings: RingStore }> {
  const dir = await tempDir(t, 'rebalance-epochs');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await writeUnder(store, ring);
  const rings = new RingStore(dir);
  await rings.offer(ring);
  const figures = new HealingFigures();
  // The default settle time: a ring change keeps walking for that long after adoption.
  const worker = new RebalanceWorker({ nodeId: 'me', store, rings, peers, figures, logger: silentLogger() });
  return { worker, figures, rings };
}

t.test("a node adopting the cluster's first ring is settled at once and walks none of its keys", async (t) => {
  const first = buildRing(null, MEMBERS, OPTIONS);
  t.equal(first.epoch, FIRST_RING_EPOCH);
  const { worker, figures } = await setUp(t, first);
  const result = await worker.step(new AbortController().signal);
  t.ok(result.idle, 'the first step finds nothing to do');
  t.ok(worker.settled(first.epoch), 'the epoch is done');
  t.equal(figures.rebalance.scanned, 0, 'no key was read');
});

t.test('a node adopting a later ring walks every key, and keeps walking until the change has settled', async (t) => {
  const second = buildRing(buildRing(null, MEMBERS, OPTIONS), MEMBERS, OPTIONS);
  const { worker, figures } = await setUp(t, second);
  const signal = new AbortController().signal;
  // One pass: steps until the first idle one (the end of the pass).
  for (let steps = 0; steps < 20; steps += 1) if ((await worker.step(signal)).idle) break;
  t.equal(figures.rebalance.scanned, KEYS.length, 'the pass read every key');
  t.notOk(worker.settled(second.epoch), 'a pass that began inside the settle time is followed by another');
});

/** `ring` again at the next epoch with every node at another address, as `tessera dev` issues it at each start. */
function readdressed(ring: Ring): Ring {
  const nodes = ring.nodes.map((node) => ({ ...node, address: node.address.replace(/:\d+$/, (port) => `:${Number(port.slice(1)) + 1000}`) }));
  return { ...ring, epoch: ring.epoch + 1, nodes };
}

async function untilIdle(worker: RebalanceWorker): Promise<void> {
  const signal = new AbortController().signal;
  for (let steps = 0; steps < 40; steps += 1) if ((await worker.step(signal)).idle) return;
  throw new Error('the pass never ended');
}

t.test('a ring that only moves nodes to other addresses is settled at once once the ring before it was', async (t) => {
  const first = buildRing(null, MEMBERS, OPTIONS);
  const dir = await tempDir(t, 'rebalance-readdressed');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await writeUnder(store, first);
  const rings = new RingStore(dir);
  await rings.offer(first);
  const figures = new HealingFigures();
  const worker = new RebalanceWorker({ nodeId: 'me', store, rings, peers, figures, logger: silentLogger(), settleMs: 0 });
  await untilIdle(worker);
  t.ok(worker.settled(first.epoch), 'the first ring is done');
  const second = readdressed(first);
  await rings.offer(second);
  const result = await worker.step(new AbortController().signal);
  t.ok(result.idle, 'the first step finds nothing to do');
  t.ok(worker.settled(second.epoch), 'the epoch is done');
  t.equal(figures.rebalance.scanned, 0, 'no key was read');
});

t.test('a ring that keeps placement still walks every key while the move to the ring before it is unfinished', async (t) => {
  const second = buildRing(buildRing(null, MEMBERS, OPTIONS), MEMBERS, OPTIONS);
  const { worker, figures, rings } = await setUp(t, second);
  const signal = new AbortController().signal;
  await worker.step(signal);
  t.notOk(worker.settled(second.epoch), 'the move to the second ring has begun, not finished');
  const third = readdressed(second);
  await rings.offer(third);
  await untilIdle(worker);
  t.equal(figures.rebalance.scanned, KEYS.length, 'the pass read every key');
});

t.test('a pass walks version rows a page at a time, counts each key once, and looks closer only at keys holding a misplaced version', async (t) => {
  const second = buildRing(buildRing(null, MEMBERS, OPTIONS), MEMBERS, OPTIONS);
  const locator = new RingLocator(second);
  const dir = await tempDir(t, 'rebalance-pages');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  // Three versions of each key, all at this node's slot but the middle version of k3: pages of two
  // rows split every key's versions, and the misplaced one sits on a page of its own key's rows.
  for (const [n, key] of KEYS.entries()) {
    const slot = locator.locate('b', key).nodes.findIndex((node) => node.id === 'me');
    for (let v = 1; v <= 3; v += 1) {
      const ref = shardRef(key, n * 10 + v, key === 'k3' && v === 2 ? (slot + 1) % 3 : slot);
      await prepareBytes(store, ref, Buffer.from(`${key}@${v}`));
      await store.commit({ record: { ...recordFor(ref, 40), versioning: 'Enabled' }, shardIndex: ref.shardIndex });
    }
  }
  const rings = new RingStore(dir);
  await rings.offer(second);
  const figures = new HealingFigures();
  const checked: string[] = [];
  // Peers that cannot take a version: the one key that must move stays pending, and shows which was checked.
  const refusing = {
    get: () => ({
      listBuckets: async () => [],
      versionLookup: async (_bucket: string, key: string) => {
        checked.push(key);
        throw new Error('unreachable');
      },
      objectStatus: async (_bucket: string, key: string) => {
        checked.push(key);
        throw new Error('unreachable');
      },
    }),
  } as unknown as PeerClients;
  const worker = new RebalanceWorker({ nodeId: 'me', store, rings, peers: refusing, figures, logger: silentLogger(), rowsPerStep: 2 });
  await untilIdle(worker);
  t.equal(figures.rebalance.scanned, KEYS.length, 'every key is counted once, though its rows span pages');
  t.same([...new Set(checked)], ['k3'], 'only the key with a misplaced version was looked at closer');
  t.equal(worker.status().pendingThisPass, 0, 'the pass ended');
  t.equal(figures.rebalance.pending, 1, 'and left that key pending for the next');
});

t.test('a pass saved by a release that walked keys in placement order starts over, in row order', async (t) => {
  const second = buildRing(buildRing(null, MEMBERS, OPTIONS), MEMBERS, OPTIONS);
  const { worker, figures } = await setUp(t, second);
  worker.resume(JSON.stringify({ epoch: second.epoch, after: { hashHex: 'ffffffffffffffff', bucket: 'b', key: 'k4' }, pending: 0, done: false, adoptedMs: 0, passStartedMs: 0, bucketsSynced: true }));
  await untilIdle(worker);
  t.equal(figures.rebalance.scanned, KEYS.length, 'every key is walked, none passed over by the old cursor');
});

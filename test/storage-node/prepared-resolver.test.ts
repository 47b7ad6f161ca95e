import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { buildRing } from '../../src/placement/index.js';
import type { ObjectStatus } from '../../src/rpc/index.js';
import { PreparedResolver, RingStore, type PeerStatusClient } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { openStore, prepareBytes, readShard, recordFor, shardRef, tempDir, writeShard } from './store-fixture.js';

const T0 = 1_800_000_000_000;
const members = ['self', 'peer-a', 'peer-b'].map((id, i) => ({ id, address: `127.0.0.1:${9000 + i}`, zone: 'z', weight: 1 }));

/** Peers answering from a table of key -> version (null: no version; 'down': unreachable). */
function fakePeers(table: Record<string, Record<string, number | null | 'down'>>): (peer: { id: string }) => PeerStatusClient {
  return (peer) => ({
    async objectStatus(bucket, key): Promise<ObjectStatus | null> {
      const answer = table[peer.id]?.[key] ?? null;
      if (answer === 'down') throw new Error('connect ECONNREFUSED');
      if (answer === null) return null;
      const ref = shardRef(key, answer);
      return { record: { ...recordFor({ ...ref, bucket }, 400_000), userMetadata: { from: peer.id } }, shardIndex: 1, shardSizeBytes: 100_000 };
    },
    async close() {},
  });
}

async function setUp(t: { teardown(fn: () => Promise<void>): void }, withRing = true) {
  const dir = await tempDir(t, 'resolver');
  let now = T0;
  const store = await openStore(dir, { clock: () => now });
  t.teardown(() => store.close());
  const rings = new RingStore(dir);
  await rings.open();
  if (withRing) await rings.offer(buildRing(null, members, { replicas: 3, partitionBits: 2, seed: 1 }));
  return { store, rings, advance: (ms: number) => (now += ms), clock: () => now };
}

t.test('a prepared shard a peer has committed is committed here too, with the peer’s record', async (t) => {
  const { store, rings, advance, clock } = await setUp(t);
  await prepareBytes(store, shardRef('k', 2), seededBytes(100_000, 2));
  advance(10_000);
  const resolver = new PreparedResolver({ nodeId: 'self', store, rings, clusterSecret: 's', logger: silentLogger(), clock, clientFor: fakePeers({ 'peer-a': { k: 2 } }) });
  const status = await resolver.step(AbortSignal.timeout(5_000));
  t.match(status, { committed: 1, discarded: 0, undecided: 0 });
  const stored = await store.objectStatus('b', 'k');
  t.equal(stored?.record.versionId, shardRef('k', 2).versionId);
  t.same(stored?.record.userMetadata, { from: 'peer-a' }, 'the committed record is the peer’s');
  t.ok((await readShard(store, shardRef('k', 2))).equals(seededBytes(100_000, 2)), 'and the shard is readable');
  t.equal(await store.metadata.getPrepared(shardRef('k', 2)), undefined);
});

t.test('a prepared shard behind a version held here or by a peer is dropped once no write could still commit it', async (t) => {
  const { store, rings, advance, clock } = await setUp(t);
  await writeShard(store, shardRef('local-newer', 5), seededBytes(10, 1));
  await prepareBytes(store, shardRef('local-newer', 4), seededBytes(100_000, 2));
  await prepareBytes(store, shardRef('peer-newer', 4), seededBytes(100, 3));
  advance(10_000);
  const resolver = new PreparedResolver({
    nodeId: 'self', store, rings, clusterSecret: 's', logger: silentLogger(), clock, supersededAfterMs: 60_000, clientFor: fakePeers({ 'peer-b': { 'peer-newer': 6 } }),
  });
  // A version id is taken at commit: a write whose prepares came before a newer version (a conditional
  // write waiting for the key's lease) still commits after it, so its shards must stay for a while.
  t.match(await resolver.step(AbortSignal.timeout(5_000)), { committed: 0, discarded: 0, undecided: 2 }, 'kept while the write may still commit');
  t.ok(await store.metadata.getPrepared(shardRef('local-newer', 4)));
  advance(60_000);
  t.match(await resolver.step(AbortSignal.timeout(5_000)), { committed: 0, discarded: 2, undecided: 0 });
  t.equal(await store.metadata.getPrepared(shardRef('local-newer', 4)), undefined);
  t.equal(await store.metadata.getInline(shardRef('peer-newer', 4)), undefined);
  t.same(await store.shardFiles(), [], 'the dropped file is gone');
});

t.test('a prepared shard no peer has decided, or that is young, or a node without a ring, is left alone', async (t) => {
  const { store, rings, advance, clock } = await setUp(t);
  await prepareBytes(store, shardRef('unknown', 3), seededBytes(100, 1));
  await prepareBytes(store, shardRef('peer-older', 3), seededBytes(100, 2));
  await prepareBytes(store, shardRef('peers-down', 3), seededBytes(100, 3));
  advance(10_000);
  await prepareBytes(store, shardRef('young', 3), seededBytes(100, 4));
  const peers = fakePeers({ 'peer-a': { 'peer-older': 1, 'peers-down': 'down', young: 3 }, 'peer-b': { 'peers-down': 'down' } });
  const resolver = new PreparedResolver({ nodeId: 'self', store, rings, clusterSecret: 's', logger: silentLogger(), clock, clientFor: peers });
  t.match(await resolver.step(AbortSignal.timeout(5_000)), { committed: 0, discarded: 0, undecided: 3 });
  for (const key of ['unknown', 'peer-older', 'peers-down', 'young']) {
    t.ok(await store.metadata.getPrepared(shardRef(key, 3)), `${key} is still prepared`);
  }
  const { store: bare, rings: none, advance: later, clock: bareClock } = await setUp(t, false);
  await prepareBytes(bare, shardRef('k', 1), seededBytes(10, 1));
  later(10_000);
  const idle = new PreparedResolver({ nodeId: 'self', store: bare, rings: none, clusterSecret: 's', logger: silentLogger(), clock: bareClock, clientFor: fakePeers({ 'peer-a': { k: 1 } }) });
  t.match(await idle.step(AbortSignal.timeout(5_000)), { committed: 0, undecided: 0, passes: 1 }, 'without a ring it does nothing');
  t.ok(await bare.metadata.getPrepared(shardRef('k', 1)));
});

t.test('a prepared shard behind a newer version still takes its late commit, and becomes the current version', async (t) => {
  const { store, rings, advance, clock } = await setUp(t);
  await prepareBytes(store, shardRef('contended', 3), seededBytes(100_000, 5));
  await writeShard(store, shardRef('contended', 5), seededBytes(10, 6));
  advance(30_000);
  const resolver = new PreparedResolver({ nodeId: 'self', store, rings, clusterSecret: 's', logger: silentLogger(), clock, clientFor: fakePeers({ 'peer-a': { contended: 5 } }) });
  t.match(await resolver.step(AbortSignal.timeout(5_000)), { discarded: 0, undecided: 1 });
  // The write commits under a version id taken now, newer than the one committed while it waited.
  const late = { ...recordFor(shardRef('contended', 7), 400_000), dataId: shardRef('contended', 3).versionId };
  await store.commit({ record: late, shardIndex: 0 });
  t.equal((await store.objectStatus('b', 'contended'))?.record.versionId, late.versionId, 'the late commit is the current version');
  t.ok((await readShard(store, { ...shardRef('contended', 7), dataId: late.dataId })).equals(seededBytes(100_000, 5)), 'and its shard reads back');
});

t.test('a prepared shard still undecided after the grace period is dropped', async (t) => {
  const { store, rings, advance, clock } = await setUp(t);
  await prepareBytes(store, shardRef('forgotten', 1), seededBytes(100_000, 1));
  advance(60_000);
  const resolver = new PreparedResolver({ nodeId: 'self', store, rings, clusterSecret: 's', logger: silentLogger(), clock, graceMs: 30_000, clientFor: fakePeers({}) });
  t.match(await resolver.step(AbortSignal.timeout(5_000)), { expired: 1, undecided: 0 });
  t.equal(await store.metadata.getPrepared(shardRef('forgotten', 1)), undefined);
  t.same(await store.shardFiles(), []);
});

import { Readable } from 'node:stream';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { buildRing } from '../../src/placement/index.js';
import { NodeClient, shardRefOf, type ObjectRecord, type ObjectStatus } from '../../src/rpc/index.js';
import { PreparedResolver, RingStore, StorageNode, type PeerStatusClient } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, openStore, prepareBytes, readShard, recordFor, shardRef, tempDir, writeShard } from './store-fixture.js';

const T0 = 1_800_000_000_000;
const members = ['self', 'peer-a', 'peer-b'].map((id, i) => ({ id, address: `127.0.0.1:${9000 + i}`, zone: 'z', weight: 1 }));

/** Peers answering from a table of key -> their only version (null: no version; 'down': unreachable). */
function fakePeers(table: Record<string, Record<string, number | null | 'down'>>, fields: Partial<ObjectRecord> = {}): (peer: { id: string }) => PeerStatusClient {
  return (peer) => {
    const status = (bucket: string, key: string): ObjectStatus | null => {
      const answer = table[peer.id]?.[key] ?? null;
      if (answer === 'down') throw new Error('connect ECONNREFUSED');
      if (answer === null) return null;
      const ref = shardRef(key, answer);
      return { record: { ...recordFor({ ...ref, bucket }, 400_000), userMetadata: { from: peer.id }, ...fields }, shardIndex: 1, shardSizeBytes: 100_000 };
    };
    return {
      objectStatus: async (bucket, key) => status(bucket, key),
      async listVersions(query) {
        const held = status(query.bucket, query.prefix);
        return { entries: held === null ? [] : [{ key: query.prefix, record: held.record }], truncated: false };
      },
      async close() {},
    };
  };
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

t.test('a prepared shard a peer committed into a bucket since deleted is dropped, not committed into no bucket', async (t) => {
  const { store, rings, advance, clock } = await setUp(t);
  // The peer committed just before DeleteBucket closed the bucket; this node's commit came after and was refused.
  await store.putBucket({ name: 'b', versionId: shardRef('x', 1).versionId, createdMs: 1_000, deleted: true });
  await prepareBytes(store, shardRef('k', 2), seededBytes(100, 2));
  advance(10_000);
  const resolver = new PreparedResolver({
    nodeId: 'self', store, rings, clusterSecret: 's', logger: silentLogger(), clock, clientFor: fakePeers({ 'peer-a': { k: 2 } }, { bucketCreatedMs: 1_000 }),
  });
  t.match(await resolver.step(AbortSignal.timeout(5_000)), { committed: 0, discarded: 1, undecided: 0 });
  t.equal(await store.objectStatus('b', 'k'), undefined, 'nothing committed');
  t.equal(await store.metadata.getPrepared(shardRef('k', 2)), undefined, 'and the shard is gone');
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

const SECRET = 'prepared-resolver-test-secret';

/** A peer storage node on `dataDir` (not yet started), closed when `t` ends; only its node protocol server runs. */
function startedPeer(t: { teardown(fn: () => Promise<void>): void }, nodeId: string, dataDir: string, port: number): StorageNode {
  const node = new StorageNode({ nodeId, dataDir, host: '127.0.0.1', port, clusterSecret: SECRET, logger: silentLogger(), resolveEveryMs: 0, healing: false });
  t.teardown(() => node.close());
  return node;
}

/**
 * Two storage nodes serving the node protocol on loopback, and this node's store and ring naming them:
 * the key's set is this node and both peers.
 */
async function withServedPeers(t: { teardown(fn: () => Promise<void>): void }) {
  const peers: { id: string; node: StorageNode; client: NodeClient; address: string; dataDir: string }[] = [];
  for (const id of ['peer-a', 'peer-b']) {
    const dataDir = await tempDir(t, id);
    const node = startedPeer(t, id, dataDir, 0);
    const { port } = await node.start();
    const client = new NodeClient({ nodeId: id, address: `127.0.0.1:${port}`, clusterSecret: SECRET });
    t.teardown(() => client.close());
    peers.push({ id, node, client, address: `127.0.0.1:${port}`, dataDir });
  }
  const { store, rings, advance, clock } = await setUp(t, false);
  const set = [{ id: 'self', address: '127.0.0.1:1' }, ...peers].map(({ id, address }) => ({ id, address, zone: 'z', weight: 1 }));
  await rings.offer(buildRing(null, set, { replicas: 3, partitionBits: 2, seed: 1 }));
  const resolver = new PreparedResolver({ nodeId: 'self', store, rings, clusterSecret: SECRET, logger: silentLogger(), clock, supersededAfterMs: 60_000 });
  t.teardown(() => resolver.close());
  /** Writes one version on the peers as a gateway does: shards prepared under `data`, committed as `version`. */
  const commitOnPeers = async (key: string, data: number, version: number, versioning: 'Enabled' | 'Suspended' | undefined, on = peers): Promise<ObjectRecord> => {
    const record: ObjectRecord = { ...recordFor(shardRef(key, version), 400_000), dataId: shardRef(key, data).versionId, ...(versioning === undefined ? {} : { versioning }) };
    for (const peer of on) {
      const shardIndex = peers.indexOf(peer) + 1;
      await peer.client.putShard(shardRef(key, data, shardIndex), ERASURE, Readable.from([seededBytes(100_000, data * 10 + shardIndex)]));
      await peer.client.commit({ record, shardIndex });
    }
    return record;
  };
  return { store, peers, resolver, advance, commitOnPeers };
}

t.test('a prepared shard of a version its peers keep as noncurrent is committed here as that noncurrent version, not dropped', async (t) => {
  const { store, resolver, advance, commitOnPeers } = await withServedPeers(t);
  // W1 commits on a write quorum without this node (its commit never came), then W2 commits over it everywhere.
  await prepareBytes(store, shardRef('k', 1), seededBytes(100_000, 1));
  const w1 = await commitOnPeers('k', 1, 3, 'Enabled');
  const w2 = await commitOnPeers('k', 2, 5, 'Enabled');
  await prepareBytes(store, shardRef('k', 2), seededBytes(100_000, 2));
  await store.commit({ record: w2, shardIndex: 0 });
  advance(120_000);
  t.match(await resolver.step(AbortSignal.timeout(10_000)), { committed: 1, discarded: 0, undecided: 0 });
  t.equal(await store.metadata.getPrepared(shardRef('k', 1)), undefined, 'the prepared row is settled');
  t.same((await store.versionStatus('b', 'k', w1.versionId))?.record, w1, 'W1 is a version here, with the peers’ record');
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, w2.versionId, 'behind W2, still current');
  t.ok((await readShard(store, shardRefOf(w1, 0))).equals(seededBytes(100_000, 1)), 'W1’s shard reads back');
  t.ok((await readShard(store, shardRefOf(w2, 0))).equals(seededBytes(100_000, 2)), 'and so does W2’s');
});

t.test('a prepared shard of a version its peers replaced (unversioned, or a null version while suspended) is still dropped', async (t) => {
  const { store, resolver, advance, commitOnPeers } = await withServedPeers(t);
  for (const [key, versioning] of [['unversioned', undefined], ['suspended', 'Suspended']] as const) {
    await prepareBytes(store, shardRef(key, 1), seededBytes(100_000, 1));
    await commitOnPeers(key, 1, 3, versioning);
    await commitOnPeers(key, 2, 5, versioning);
  }
  advance(120_000);
  t.match(await resolver.step(AbortSignal.timeout(10_000)), { committed: 0, discarded: 2, undecided: 0 });
  for (const key of ['unversioned', 'suspended']) {
    t.equal(await store.metadata.getPrepared(shardRef(key, 1)), undefined, `${key}: the prepared row is gone`);
    t.equal(await store.objectStatus('b', key), undefined, `${key}: and no version of it was committed here`);
  }
  t.same(await store.shardFiles(), [], 'the dropped files are gone');
});

t.test('a prepared shard behind a newer version is kept while a peer that may hold it as noncurrent does not answer', async (t) => {
  const { store, peers, resolver, advance, commitOnPeers } = await withServedPeers(t);
  await prepareBytes(store, shardRef('k', 1), seededBytes(100_000, 1));
  // Of the peers only peer-b took W1's commit, and it is down now; peer-a answers with W2 alone.
  await commitOnPeers('k', 1, 3, 'Enabled', peers.slice(1));
  await commitOnPeers('k', 2, 5, 'Enabled');
  await peers[1]?.node.close();
  advance(120_000);
  t.match(await resolver.step(AbortSignal.timeout(10_000)), { committed: 0, discarded: 0, undecided: 1 });
  t.ok(await store.metadata.getPrepared(shardRef('k', 1)), 'the prepared row is kept for a later pass');
  const back = peers[1];
  if (back === undefined) throw new Error('no peer-b');
  await startedPeer(t, back.id, back.dataDir, Number(back.address.split(':')[1])).start();
  t.match(await resolver.step(AbortSignal.timeout(10_000)), { committed: 1, discarded: 0, undecided: 0 }, 'once peer-b answers, W1 is committed');
  t.equal((await store.versionStatus('b', 'k', shardRef('k', 3).versionId))?.record.dataId, shardRef('k', 1).versionId);
});

import { open, rm } from 'node:fs/promises';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { buildRing } from '../../src/placement/index.js';
import { shardRefOf, type ObjectRecord, type ObjectStatus, type ShardRef } from '../../src/rpc/index.js';
import { PreparedResolver, RingStore, SHARD_HEADER_BYTES } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { SIZE_IN, SMALL_THRESHOLDS, openStore, prepareBytes, readShard, recordFor, segmentImages, shardImageAt, shardRef, tempDir, versionId } from './store-fixture.js';

/** Each place a node keeps a shard, by size under SMALL_THRESHOLDS. */
const KINDS = [['an inline', SIZE_IN.inline], ['a segment', SIZE_IN.segment], ['a file', SIZE_IN.file]] as const;

/**
 * A version's id is taken when its write commits; its shards keep the id they were prepared under (the
 * record's dataId). The node finds, serves, orders and recovers such versions by the right id of each.
 */

/** The record a gateway commits for shards prepared as `prepared`: a later version id, the prepare id as dataId. */
function committedAs(prepared: ShardRef, version: number, sizeBytes: number, extra: Partial<ObjectRecord> = {}): ObjectRecord {
  return { ...recordFor({ ...prepared, versionId: versionId(version) }, sizeBytes), dataId: prepared.versionId, ...extra };
}

/** The data id a committed shard's header names, read from its file or its place in a segment. */
async function headerVersion(dir: string, store: Awaited<ReturnType<typeof openStore>>, ref: ShardRef): Promise<string> {
  const at = await shardImageAt(dir, store, ref);
  const handle = await open(at.path, 'r');
  try {
    const header = Buffer.alloc(SHARD_HEADER_BYTES);
    await handle.read(header, 0, SHARD_HEADER_BYTES, at.offsetBytes);
    return header.toString('latin1', 32, 56);
  } finally {
    await handle.close();
  }
}

for (const [kind, sizeBytes] of KINDS) {
  t.test(`${kind} shard prepared under one id and committed under a later one reads back by the version id`, async (t) => {
    const dir = await tempDir(t, 'commit-order');
    const store = await openStore(dir, SMALL_THRESHOLDS);
    t.teardown(() => store.close());
    const prepared = shardRef('k', 1);
    const bytes = seededBytes(sizeBytes, 1);
    await prepareBytes(store, prepared, bytes);
    const record = committedAs(prepared, 5, sizeBytes * 4);
    await store.commit({ record, shardIndex: 0 });
    const stored = await store.objectStatus('b', 'k');
    t.equal(stored?.record.versionId, versionId(5), 'the version has the id it was committed under');
    t.equal(await store.metadata.getPrepared(prepared), undefined, 'its prepared row is gone');
    t.ok((await readShard(store, shardRefOf(record, 0))).equals(bytes), 'read with its data id');
    t.ok((await readShard(store, { bucket: 'b', key: 'k', versionId: versionId(5), shardIndex: 0 })).equals(bytes), 'and by the version id alone');
    await t.rejects(readShard(store, { ...prepared, versionId: versionId(5), dataId: versionId(2) }), { code: 'NotFound' }, 'another data id is not this shard');
    await t.rejects(readShard(store, prepared), { code: 'NotFound' }, 'the prepare id names no version');
    if (stored?.file !== null && stored?.file !== undefined) t.equal(await headerVersion(dir, store, { bucket: 'b', key: 'k', versionId: versionId(5), shardIndex: 0 }), prepared.versionId, 'the shard header names the data id');
    await store.commit({ record, shardIndex: 0 });
    t.equal((await store.objectStatus('b', 'k'))?.record.versionId, versionId(5), 'a repeated commit is a success that changes nothing');
  });
}

t.test('of two writes whose shards were prepared in one order and committed in the other, the later commit is current', async (t) => {
  const dir = await tempDir(t, 'commit-order');
  const store = await openStore(dir, { segmentMaxShardBytes: 0 });
  t.teardown(() => store.close());
  const slow = shardRef('k', 1);
  const fast = shardRef('k', 2);
  await prepareBytes(store, slow, seededBytes(50_000, 1));
  await prepareBytes(store, fast, seededBytes(50_000, 2));
  await store.commit({ record: committedAs(fast, 3, 200_000), shardIndex: 0 });
  await store.commit({ record: committedAs(slow, 4, 200_000), shardIndex: 0 });
  t.equal((await store.objectStatus('b', 'k'))?.record.dataId, slow.versionId, 'the write committed last is current');
  t.ok((await readShard(store, { bucket: 'b', key: 'k', versionId: versionId(4), shardIndex: 0 })).equals(seededBytes(50_000, 1)));
  t.same(await store.shardFiles(), [(await store.objectStatus('b', 'k'))?.file], 'the replaced version’s file is gone');
});

t.test('versioned: commit order is version order, and the overtaken version stays readable', async (t) => {
  const dir = await tempDir(t, 'commit-order');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const slow = shardRef('k', 1);
  const fast = shardRef('k', 2);
  await prepareBytes(store, slow, seededBytes(2_000, 1));
  await prepareBytes(store, fast, seededBytes(2_000, 2));
  await store.commit({ record: committedAs(fast, 3, 8_000, { versioning: 'Enabled' }), shardIndex: 0 });
  await store.commit({ record: committedAs(slow, 4, 8_000, { versioning: 'Enabled' }), shardIndex: 0 });
  const listed = await store.listVersions({ bucket: 'b', prefix: '', after: '', afterIsPrefix: false, limit: 10 });
  t.same(listed.entries.map((e) => [e.record.versionId, e.record.dataId]), [[versionId(4), slow.versionId], [versionId(3), fast.versionId]], 'newest first by commit');
  t.ok((await readShard(store, { bucket: 'b', key: 'k', versionId: versionId(3), shardIndex: 0 })).equals(seededBytes(2_000, 2)), 'the noncurrent one reads by its id');
});

t.test('the prepared-shard resolver commits a shard whose version a peer committed under a later id', async (t) => {
  const dir = await tempDir(t, 'commit-order');
  let now = 1_800_000_000_000;
  const store = await openStore(dir, { clock: () => now });
  t.teardown(() => store.close());
  const rings = new RingStore(dir);
  await rings.open();
  const members = ['self', 'peer'].map((id, i) => ({ id, address: `127.0.0.1:${9000 + i}`, zone: 'z', weight: 1 }));
  await rings.offer(buildRing(null, members, { replicas: 2, partitionBits: 2, seed: 1 }));
  const prepared = shardRef('k', 1);
  await prepareBytes(store, prepared, seededBytes(100_000, 3));
  now += 10_000;
  const peerRecord = committedAs(prepared, 7, 400_000);
  const resolver = new PreparedResolver({
    nodeId: 'self',
    store,
    rings,
    clusterSecret: 's',
    logger: silentLogger(),
    clock: () => now,
    clientFor: () => ({
      objectStatus: async (): Promise<ObjectStatus> => ({ record: peerRecord, shardIndex: 1, shardSizeBytes: 100_000 }),
      listVersions: async () => ({ entries: [{ key: 'k', record: peerRecord }], truncated: false }),
      close: async () => undefined,
    }),
  });
  t.teardown(() => resolver.close());
  t.match(await resolver.step(AbortSignal.timeout(5_000)), { committed: 1, discarded: 0 });
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, versionId(7));
  t.ok((await readShard(store, shardRefOf(peerRecord, 0))).equals(seededBytes(100_000, 3)));
});

for (const [kind, sizeBytes] of KINDS.slice(1)) {
  t.test(`a lost ${kind === 'a file' ? 'file' : 'segment'} of a version committed under a later id is quarantined under that version at start-up`, async (t) => {
    const dir = await tempDir(t, 'commit-order');
    let store = await openStore(dir, SMALL_THRESHOLDS);
    const prepared = shardRef('k', 1);
    await prepareBytes(store, prepared, seededBytes(sizeBytes, 4));
    await store.commit({ record: committedAs(prepared, 5, sizeBytes * 4), shardIndex: 0 });
    const at = await shardImageAt(dir, store, { bucket: 'b', key: 'k', versionId: versionId(5), shardIndex: 0 });
    await store.close();
    await rm(at.path);
    store = await openStore(dir, SMALL_THRESHOLDS);
    t.teardown(() => store.close());
    const entries = [];
    for await (const entry of store.metadata.quarantined()) entries.push(entry);
    t.match(entries, [{ versionId: versionId(5), dataId: prepared.versionId, shardIndex: 0, reason: 'missing' }]);
  });
}

for (const [kind, sizeBytes] of KINDS) {
  t.test(`aborting a shard prepared again under a noncurrent version's data id (${kind} shard) keeps that version's data`, async (t) => {
    const dir = await tempDir(t, 'commit-order');
    const store = await openStore(dir, SMALL_THRESHOLDS);
    t.teardown(() => store.close());
    const older = shardRef('k', 1);
    const bytes = seededBytes(sizeBytes, 3);
    await prepareBytes(store, older, bytes);
    const kept = committedAs(older, 5, sizeBytes * 4, { versioning: 'Enabled' });
    await store.commit({ record: kept, shardIndex: 0 });
    const newer = shardRef('k', 6);
    await prepareBytes(store, newer, seededBytes(sizeBytes, 4));
    await store.commit({ record: committedAs(newer, 7, sizeBytes * 4, { versioning: 'Enabled' }), shardIndex: 0 });
    // A repair rebuilding the noncurrent version's shard writes it in place, under the same data id; its commit never comes.
    await prepareBytes(store, older, bytes);
    await store.abort(older);
    t.equal(await store.metadata.getPrepared(older), undefined, 'the prepared row is gone');
    t.ok((await readShard(store, shardRefOf(kept, 0))).equals(bytes), 'the noncurrent version still reads its shard');
    // A segment shard prepared again was written to a new place: the abort takes that place, not the version's.
    if (kind === 'a segment') t.equal((await segmentImages(store)).length, 2, 'only the two versions\' images are registered');
  });
}

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { t } from 'tap';
import type { ObjectRecord, ShardRef } from '../../../src/rpc/index.js';
import type { ShardStore } from '../../../src/storage-node/index.js';
import { seededBytes } from '../../helpers/bytes.js';
import { ERASURE, openStore, prepareBytes, readShard, recordFor, segmentImages, shardRef, tempDir } from '../store-fixture.js';

type Mode = ObjectRecord['versioning'];

async function write(store: ShardStore, ref: ShardRef, bytes: Buffer, versioning: Mode): Promise<void> {
  await prepareBytes(store, ref, bytes);
  const record = { ...recordFor(ref, bytes.length * ERASURE.dataShards), ...(versioning === undefined ? {} : { versioning }) };
  await store.commit({ record, shardIndex: ref.shardIndex });
}

async function marker(store: ShardStore, ref: ShardRef, versioning: Mode): Promise<void> {
  const record = { ...recordFor(ref, 0, true), ...(versioning === undefined ? {} : { versioning }) };
  await store.commit({ record, shardIndex: null });
}

async function versionsOf(store: ShardStore, key: string): Promise<string[]> {
  const page = await store.listVersions({ bucket: 'b', prefix: key, after: '', afterIsPrefix: false, limit: 100 });
  // Rows of versions deleted by id (`gone`) are the tombstones listings merge in, not versions held.
  return page.entries.filter((e) => e.record.key === key && e.gone !== true).map((e) => `${e.record.versionId.slice(8, 12)}${e.record.deleted ? '-marker' : ''}`);
}

/** Shard data outside LevelDB that rows still hold: files under shards/ and registered segment images. */
async function shardFileCount(dir: string, store: ShardStore): Promise<number> {
  let count = (await segmentImages(store)).length;
  for (const sub of await readdir(join(dir, 'shards'))) count += (await readdir(join(dir, 'shards', sub))).length;
  return count;
}

const id = (n: number): string => shardRef('k', n).versionId.slice(8, 12);

t.test('under Enabled versioning a node keeps every version, newest first, and reads each back by id', async (t) => {
  const dir = await tempDir(t, 'versions');
  const store = await openStore(dir, { inlineMaxShardBytes: 1000 });
  t.teardown(() => store.close());
  await write(store, shardRef('k', 1), seededBytes(5000, 1), 'Enabled');
  await write(store, shardRef('k', 2), seededBytes(300, 2), 'Enabled');
  await marker(store, shardRef('k', 3, 0), 'Enabled');
  t.same(await versionsOf(store, 'k'), [`${id(3)}-marker`, id(2), id(1)]);
  t.equal((await store.objectStatus('b', 'k'))?.record.deleted, true, 'the marker is current');
  t.ok((await readShard(store, shardRef('k', 1))).equals(seededBytes(5000, 1)), 'a noncurrent file shard reads back');
  t.ok((await readShard(store, shardRef('k', 2))).equals(seededBytes(300, 2)), 'a noncurrent inline shard reads back');
});

t.test('a versioned commit that arrives after a newer one becomes a noncurrent version instead of being dropped', async (t) => {
  const dir = await tempDir(t, 'versions-late');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await write(store, shardRef('k', 2), seededBytes(100, 2), 'Enabled');
  await write(store, shardRef('k', 1), seededBytes(100, 1), 'Enabled');
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, shardRef('k', 2).versionId, 'the newer version stays current');
  t.same(await versionsOf(store, 'k'), [id(2), id(1)]);
});

t.test('deleting the current version by id promotes the next newest; deleting the last removes the key and its files', async (t) => {
  const dir = await tempDir(t, 'versions-delete');
  const store = await openStore(dir, { inlineMaxShardBytes: 0 });
  t.teardown(() => store.close());
  await write(store, shardRef('k', 1), seededBytes(100, 1), 'Enabled');
  await write(store, shardRef('k', 2), seededBytes(100, 2), 'Enabled');
  t.equal(await shardFileCount(dir, store), 2);
  t.equal((await store.deleteVersion('b', 'k', shardRef('k', 2).versionId))?.versionId, shardRef('k', 2).versionId);
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, shardRef('k', 1).versionId, 'the older version is current again');
  t.equal(await shardFileCount(dir, store), 1, 'the deleted version frees its file');
  t.equal(await store.deleteVersion('b', 'k', shardRef('k', 2).versionId), null, 'a second delete finds nothing');
  await store.deleteVersion('b', 'k', shardRef('k', 1).versionId);
  t.equal(await store.objectStatus('b', 'k'), undefined);
  t.same(await versionsOf(store, 'k'), []);
  t.equal(await shardFileCount(dir, store), 0);
});

t.test('a null version (suspended or never versioned) replaces only the previous null version', async (t) => {
  const dir = await tempDir(t, 'versions-null');
  const store = await openStore(dir, { inlineMaxShardBytes: 0 });
  t.teardown(() => store.close());
  await write(store, shardRef('k', 1), seededBytes(100, 1), undefined);
  await write(store, shardRef('k', 2), seededBytes(100, 2), 'Enabled');
  await write(store, shardRef('k', 3), seededBytes(100, 3), 'Suspended');
  t.same(await versionsOf(store, 'k'), [id(3), id(2)], 'the pre-versioning null version was replaced');
  t.equal((await store.versionStatus('b', 'k', 'null'))?.record.versionId, shardRef('k', 3).versionId);
  await marker(store, shardRef('k', 4), 'Suspended');
  t.same(await versionsOf(store, 'k'), [`${id(4)}-marker`, id(2)], 'a suspended delete replaces the null version with a null marker');
  t.equal(await shardFileCount(dir, store), 1, 'only the versioned write keeps a file');
});

t.test('without versioning a commit still replaces the previous version and its data', async (t) => {
  const dir = await tempDir(t, 'versions-off');
  const store = await openStore(dir, { inlineMaxShardBytes: 0 });
  t.teardown(() => store.close());
  await write(store, shardRef('k', 1), seededBytes(100, 1), undefined);
  await write(store, shardRef('k', 2), seededBytes(100, 2), undefined);
  t.same(await versionsOf(store, 'k'), [id(2)]);
  t.equal(await shardFileCount(dir, store), 1);
});

t.test('versions survive a restart; a schema-2 database gains the version rows of its objects by migration', async (t) => {
  const dir = await tempDir(t, 'versions-restart');
  let store = await openStore(dir);
  await write(store, shardRef('k', 1), seededBytes(100, 1), 'Enabled');
  await write(store, shardRef('k', 2), seededBytes(100, 2), 'Enabled');
  await write(store, shardRef('plain', 1), seededBytes(100, 3), undefined);
  await store.close();
  store = await openStore(dir);
  t.same(await versionsOf(store, 'k'), [id(2), id(1)], 'every version after a restart');
  await store.close();
  // Back to schema 2: no version rows at all.
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  for await (const key of db.keys({ gte: Buffer.from('v'), lt: Buffer.from('w') })) await db.del(key);
  await db.put(Buffer.from('n\u0000schema', 'latin1'), Buffer.from('2'));
  await db.close();
  store = await openStore(dir);
  t.teardown(() => store.close());
  t.same(await versionsOf(store, 'plain'), [id(1)], 'the current version is listed after migration');
  t.same(await versionsOf(store, 'k'), [id(2)], 'a schema-2 node only ever had the current version');
});

t.test('a write without versioning over a versioned version (a gateway with a stale bucket record) keeps it, as a null write would', async (t) => {
  const dir = await tempDir(t, 'versions-stale');
  const store = await openStore(dir, { inlineMaxShardBytes: 0 });
  t.teardown(() => store.close());
  await write(store, shardRef('k', 1), seededBytes(100, 1), 'Enabled');
  await write(store, shardRef('k', 2), seededBytes(100, 2), undefined);
  t.same(await versionsOf(store, 'k'), [id(2), id(1)]);
  t.ok((await readShard(store, shardRef('k', 1))).equals(seededBytes(100, 1)), 'the versioned write still reads back');
});

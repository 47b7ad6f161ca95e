import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ClassicLevel } from 'classic-level';
import { t, type Test } from 'tap';
import { DEFAULT_PREPARED_GRACE_MS, METADATA_SCHEMA_VERSION, shardFileName, type ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, SIZE_IN, SMALL_THRESHOLDS, openStore, prepareBytes, readShard, recordFor, segmentImages, shardImageAt, shardRef, tempDir, writeShard } from './store-fixture.js';

const T0 = 1_800_000_000_000;
/** The tests about files keep every shard above the inline threshold in a file of its own (segments have tests of their own below). */
const FILES = { segmentMaxShardBytes: 0 } as const;

async function filesUnder(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) names.push(join(entry.parentPath, entry.name).slice(dir.length + 1));
  }
  return names.sort();
}

/** Deletes raw LevelDB rows whose key starts with one of `kinds` (to reproduce a crash or an older layout). */
async function deleteRows(dataDir: string, kinds: string[]): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(join(dataDir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  for (const kind of kinds) {
    for await (const key of db.keys({ gte: Buffer.from(kind), lt: Buffer.from(`${kind}\xff`, 'latin1') })) await db.del(key);
  }
  await db.close();
}

/** After `lost` (committed) and `lost-prepared` lost their data: the first is quarantined for repair, the second dropped. */
async function lostShardsSettled(t: Test, store: ShardStore): Promise<void> {
  t.equal(store.stats.lastRecovery?.missingFiles, 2);
  t.equal(store.stats.quarantinedShards, 1);
  const entries = [];
  for await (const entry of store.metadata.quarantined()) entries.push(entry);
  t.match(entries, [{ key: 'lost', reason: 'missing' }]);
  t.equal(await store.metadata.getPrepared(shardRef('lost-prepared', 1)), undefined);
}

t.test('start-up removes temporary files of interrupted writes and keeps every committed and prepared shard', async (t) => {
  const dir = await tempDir(t, 'recover-tmp');
  let store = await openStore(dir, FILES);
  await writeShard(store, shardRef('committed', 1), seededBytes(100_000, 1));
  await prepareBytes(store, shardRef('prepared', 1), seededBytes(100_000, 2));
  await store.close();
  await writeFile(join(dir, 'tmp', 'half-written'), seededBytes(5000, 3));
  await mkdir(join(dir, 'tmp', 'odd-dir'));
  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.same(await readdir(join(dir, 'tmp')), [], 'tmp/ is empty');
  t.equal(store.stats.lastRecovery?.tmpFilesRemoved, 2);
  t.equal(store.stats.lastRecovery?.orphanFilesRemoved, 0, 'no live file was taken for an orphan');
  t.ok((await readShard(store, shardRef('committed', 1))).equals(seededBytes(100_000, 1)));
  await store.commit({ record: recordFor(shardRef('prepared', 1), 400_000), shardIndex: 0 });
  t.ok((await readShard(store, shardRef('prepared', 1))).equals(seededBytes(100_000, 2)), 'a young prepared shard is still committable');
});

t.test('a write interrupted mid-stream leaves no file, no row and no temporary file', async (t) => {
  const dir = await tempDir(t, 'recover-interrupt');
  const store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  for (const size of [100, 200_000]) {
    async function* failing(): AsyncGenerator<Buffer> {
      yield seededBytes(size, 1);
      throw new Error('client went away');
    }
    const ref = shardRef(`cut-${size}`, 1);
    await t.rejects(store.prepare(ref, ERASURE, Readable.from(failing(), { objectMode: false })), { message: 'client went away' });
    t.equal(await store.metadata.getPrepared(ref), undefined, `${size}: no prepared row`);
  }
  t.same(await filesUnder(dir.concat('/shards')), []);
  t.same(await readdir(join(dir, 'tmp')), []);
});

t.test('a crash after the rename but before the prepared row leaves an orphan that start-up removes', async (t) => {
  const dir = await tempDir(t, 'recover-orphan');
  let store = await openStore(dir, FILES);
  await writeShard(store, shardRef('keep', 1), seededBytes(80_000, 1));
  await store.close();
  const orphan = shardFileName(shardRef('never-recorded', 1));
  await copyFile(join(dir, 'shards', shardFileName(shardRef('keep', 1))), join(dir, 'shards', orphan));
  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.same(await filesUnder(join(dir, 'shards')), [shardFileName(shardRef('keep', 1))], 'only the recorded file remains');
  t.equal(store.stats.lastRecovery?.orphanFilesRemoved, 1);
  t.ok((await readShard(store, shardRef('keep', 1))).equals(seededBytes(80_000, 1)));
});

t.test('a crash after an overwrite’s commit batch but before the old file’s removal: the old file is swept, the new version reads', async (t) => {
  const dir = await tempDir(t, 'recover-overwrite');
  let store = await openStore(dir, FILES);
  await writeShard(store, shardRef('k', 1), seededBytes(90_000, 1));
  const oldFile = join(dir, 'shards', shardFileName(shardRef('k', 1)));
  await copyFile(oldFile, `${oldFile}.saved`);
  await writeShard(store, shardRef('k', 2), seededBytes(90_000, 2));
  await store.close();
  await copyFile(`${oldFile}.saved`, oldFile);
  await rm(`${oldFile}.saved`);
  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.same(await filesUnder(join(dir, 'shards')), [shardFileName(shardRef('k', 2))]);
  t.ok((await readShard(store, shardRef('k', 2))).equals(seededBytes(90_000, 2)));
  await t.rejects(store.openShard(shardRef('k', 1), 0, 10), { code: 'NotFound' });
});

t.test('prepared shards older than the grace period are dropped with their data; younger and future-dated ones stay', async (t) => {
  const dir = await tempDir(t, 'recover-stale');
  const grace = DEFAULT_PREPARED_GRACE_MS;
  // Written by a node whose clock ran ahead, then restarted with the right time.
  let store = await openStore(dir, { ...FILES, clock: () => T0 + 2 * grace });
  await prepareBytes(store, shardRef('future', 1), seededBytes(100_000, 4));
  await store.close();
  store = await openStore(dir, { ...FILES, clock: () => T0 });
  await prepareBytes(store, shardRef('stale-file', 1), seededBytes(100_000, 1));
  await prepareBytes(store, shardRef('stale-inline', 1), seededBytes(100, 2));
  await store.close();
  store = await openStore(dir, { ...FILES, clock: () => T0 + grace });
  t.equal(store.stats.lastRecovery?.stalePreparedDropped, 0, 'exactly the grace period old is not stale yet');
  await prepareBytes(store, shardRef('young', 1), seededBytes(100_000, 3));
  await store.close();

  store = await openStore(dir, { ...FILES, clock: () => T0 + grace + 1 });
  t.teardown(() => store.close());
  t.equal(store.stats.lastRecovery?.stalePreparedDropped, 2, 'only the two older than the grace period');
  for (const key of ['stale-file', 'stale-inline']) {
    t.equal(await store.metadata.getPrepared(shardRef(key, 1)), undefined, `${key}: row dropped`);
    t.equal(await store.metadata.getInline(shardRef(key, 1)), undefined, `${key}: no inline image`);
  }
  t.same(
    await filesUnder(join(dir, 'shards')),
    [shardFileName(shardRef('young', 1)), shardFileName(shardRef('future', 1))].sort(),
    'the stale file is removed, the others stay',
  );
  for (const [key, seed] of [['young', 3], ['future', 4]] as const) {
    await store.commit({ record: recordFor(shardRef(key, 1), 400_000), shardIndex: 0 });
    t.ok((await readShard(store, shardRef(key, 1))).equals(seededBytes(100_000, seed)), `${key}: still committable`);
  }
});

t.test('a registered file gone from disk: committed data is quarantined for repair, a prepared shard is dropped', async (t) => {
  const dir = await tempDir(t, 'recover-missing');
  let store = await openStore(dir, FILES);
  await writeShard(store, shardRef('lost', 1), seededBytes(100_000, 1));
  await prepareBytes(store, shardRef('lost-prepared', 1), seededBytes(100_000, 2));
  await store.close();
  await rm(join(dir, 'shards', shardFileName(shardRef('lost', 1))));
  await rm(join(dir, 'shards', shardFileName(shardRef('lost-prepared', 1))));
  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  await lostShardsSettled(t, store);
  await t.rejects(store.openShard(shardRef('lost', 1), 0, 10), { code: 'NotFound' }, 'the gateway reads another shard instead');
});

t.test('a schema-1 database (no file registry, no placement index, no version marks) is migrated, not swept', async (t) => {
  const dir = await tempDir(t, 'recover-migrate');
  let store = await openStore(dir, FILES);
  await writeShard(store, shardRef('old-file', 1), seededBytes(100_000, 1));
  await prepareBytes(store, shardRef('old-prepared', 1), seededBytes(100_000, 2));
  await store.close();
  await deleteRows(dir, ['f', 'h', 'n', 'w']);
  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.equal(store.stats.lastRecovery?.migratedFromSchema, 1);
  t.equal(store.stats.lastRecovery?.orphanFilesRemoved, 0, 'no file was taken for an orphan');
  t.equal(await store.metadata.schemaVersion(), METADATA_SCHEMA_VERSION);
  t.ok((await readShard(store, shardRef('old-file', 1))).equals(seededBytes(100_000, 1)));
  const indexed = [];
  for await (const entry of store.metadata.hashRange(0n, null)) indexed.push(entry.key);
  t.same(indexed, ['old-file'], 'the placement index was rebuilt');
  const marked = [];
  for await (const marks of store.metadata.versionMarks(0n, null)) marked.push(...marks.map((mark) => mark.key));
  t.same(marked, ['old-file'], 'and so were the version marks');
  await store.commit({ record: recordFor(shardRef('old-prepared', 1), 400_000), shardIndex: 0 });
  t.ok((await readShard(store, shardRef('old-prepared', 1))).equals(seededBytes(100_000, 2)));
});

t.test('recovery after a clean stop changes nothing', async (t) => {
  const dir = await tempDir(t, 'recover-clean');
  let store = await openStore(dir, FILES);
  await writeShard(store, shardRef('a', 1), seededBytes(100_000, 1));
  await writeShard(store, shardRef('b', 1), seededBytes(10, 1));
  await store.close();
  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.match(store.stats.lastRecovery, { tmpFilesRemoved: 0, stalePreparedDropped: 0, orphanFilesRemoved: 0, missingFiles: 0, migratedFromSchema: null });
});

t.test('segments: a crash after an append but before its row leaves bytes no row names; start-up keeps what rows name and removes a segment none does', async (t) => {
  const dir = await tempDir(t, 'recover-segment-torn');
  let store = await openStore(dir, { ...SMALL_THRESHOLDS, segmentSizeBytes: 150_000 });
  await writeShard(store, shardRef('kept', 1), seededBytes(SIZE_IN.segment, 1));
  await prepareBytes(store, shardRef('prepared', 1), seededBytes(SIZE_IN.segment, 2));
  // A segment of its own whose one image lost its rows (a crash before the prepared row, or a row lost with an unsynced log).
  await prepareBytes(store, shardRef('unrecorded', 1), seededBytes(SIZE_IN.segment, 3));
  const segments = new Set((await segmentImages(store)).map((place) => place.split('/')[1]));
  t.equal(segments.size, 2, 'the third image started a second segment');
  const firstSegment = (await shardImageAt(dir, store, shardRef('kept', 1))).path;
  await store.close();
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  for (const kind of ['p', 'f']) {
    for await (const key of db.keys({ gte: Buffer.from(kind), lt: Buffer.from(`${kind}\xff`, 'latin1') })) {
      const text = key.toString('latin1');
      if (text.includes('unrecorded') || text.includes([...segments][1] as string)) await db.del(key);
    }
  }
  await db.close();
  // A torn batch at the end of the first segment: bytes after the last image.
  await writeFile(firstSegment, seededBytes(3000, 4), { flag: 'a' });

  store = await openStore(dir, { ...SMALL_THRESHOLDS, segmentSizeBytes: 150_000 });
  t.teardown(() => store.close());
  t.equal(store.stats.lastRecovery?.emptySegmentsRemoved, 1, 'the segment no row names is removed');
  t.equal(store.stats.lastRecovery?.missingFiles, 0);
  t.ok((await readShard(store, shardRef('kept', 1))).equals(seededBytes(SIZE_IN.segment, 1)), 'a committed image reads');
  await store.commit({ record: recordFor(shardRef('prepared', 1), SIZE_IN.segment * 4), shardIndex: 0 });
  t.ok((await readShard(store, shardRef('prepared', 1))).equals(seededBytes(SIZE_IN.segment, 2)), 'a prepared image is still committable');
  await writeShard(store, shardRef('after', 1), seededBytes(SIZE_IN.segment, 5));
  t.ok((await readShard(store, shardRef('after', 1))).equals(seededBytes(SIZE_IN.segment, 5)), 'a write after the restart goes to a new segment and reads');
  t.not((await shardImageAt(dir, store, shardRef('after', 1))).path, (await shardImageAt(dir, store, shardRef('kept', 1))).path);
});

t.test('segments: a registered image whose segment is gone is quarantined when committed and dropped when prepared', async (t) => {
  const dir = await tempDir(t, 'recover-segment-missing');
  let store = await openStore(dir, SMALL_THRESHOLDS);
  await writeShard(store, shardRef('lost', 1), seededBytes(SIZE_IN.segment, 1));
  await prepareBytes(store, shardRef('lost-prepared', 1), seededBytes(SIZE_IN.segment, 2));
  const segment = (await shardImageAt(dir, store, shardRef('lost', 1))).path;
  await store.close();
  await rm(segment);
  store = await openStore(dir, SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  await lostShardsSettled(t, store);
  t.equal((await segmentImages(store)).length, 1, 'the committed image stays registered for its repair; the prepared one is gone');
  await t.rejects(store.openShard(shardRef('lost', 1), 0, 10), { code: 'NotFound' });
});

t.test('segments: stale prepared images are dropped with their registry rows; recovery after a clean stop changes nothing', async (t) => {
  const dir = await tempDir(t, 'recover-segment-stale');
  const grace = DEFAULT_PREPARED_GRACE_MS;
  let store = await openStore(dir, { ...SMALL_THRESHOLDS, clock: () => T0 });
  await prepareBytes(store, shardRef('stale', 1), seededBytes(SIZE_IN.segment, 1));
  await writeShard(store, shardRef('committed', 1), seededBytes(SIZE_IN.segment, 2));
  await store.close();
  store = await openStore(dir, { ...SMALL_THRESHOLDS, clock: () => T0 + grace + 1 });
  t.equal(store.stats.lastRecovery?.stalePreparedDropped, 1);
  t.equal((await segmentImages(store)).length, 1, 'only the committed image is registered');
  await store.close();
  store = await openStore(dir, { ...SMALL_THRESHOLDS, clock: () => T0 + grace + 2 });
  t.teardown(() => store.close());
  t.match(store.stats.lastRecovery, { stalePreparedDropped: 0, orphanFilesRemoved: 0, missingFiles: 0, emptySegmentsRemoved: 0 });
  t.ok((await readShard(store, shardRef('committed', 1))).equals(seededBytes(SIZE_IN.segment, 2)));
});

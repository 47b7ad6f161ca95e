import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { t, type Test } from 'tap';
import { shardFileName } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { until } from '../helpers/until.js';
import { ERASURE, openStore, prepareBytes, readShard, recordFor, shardRef, tempDir } from './store-fixture.js';

/**
 * A client write's fresh shard is written straight to its shards/ name rather than through tmp/ and a
 * rename. No row names the file until it is durable, so the file is invisible while it is written,
 * a failed write removes it, and one a crash tore is removed at the next start.
 */

const SIZE = 300_000;
/** The file path under test: shards above the inline threshold go to files of their own, not segments. */
const FILES = { segmentMaxShardBytes: 0 } as const;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A store under a new directory with a fresh shard's prepare under way: half its body sent, its file in place. */
async function halfWritten(t: Test, name: string, key: string, seed: number) {
  const dir = await tempDir(t, name);
  const store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  const ref = shardRef(key, 1);
  const bytes = seededBytes(SIZE, seed);
  const body = new PassThrough();
  const prepared = store.prepare(ref, ERASURE, body, undefined, { fresh: true });
  body.write(bytes.subarray(0, SIZE / 2));
  const finalPath = join(dir, 'shards', shardFileName(ref));
  await until('the shard file is in place', () => exists(finalPath), 30_000, 5);
  return { dir, store, ref, bytes, body, prepared, finalPath };
}

t.test('a fresh shard streams into its final file, never through tmp/, and is invisible until it commits', async (t) => {
  const { dir, store, ref, bytes, body, prepared } = await halfWritten(t, 'in-place', 'fresh', 1);
  t.same(await readdir(join(dir, 'tmp')), [], 'nothing in tmp/ while the shard is written');
  t.equal(await store.objectStatus('b', 'fresh'), undefined, 'no status while it is written');
  await t.rejects(store.openShard(ref, 0, SIZE), { code: 'NotFound' }, 'not readable while it is written');
  body.end(bytes.subarray(SIZE / 2));
  t.equal(await prepared, SIZE);
  await store.commit({ record: recordFor(ref, SIZE * ERASURE.dataShards), shardIndex: 0 });
  t.ok((await readShard(store, ref)).equals(bytes), 'the committed shard reads back');
});

t.test('a fresh shard whose body fails part way leaves no file in shards/ or tmp/', async (t) => {
  const { dir, body, prepared, finalPath } = await halfWritten(t, 'in-place-fail', 'cut', 2);
  body.destroy(new Error('client went away'));
  await t.rejects(prepared, 'the prepare fails');
  t.notOk(await exists(finalPath), 'the partial file is removed');
  t.same(await readdir(join(dir, 'tmp')), [], 'tmp/ is empty');
});

t.test('a second prepare of a fresh shard while the first is still written succeeds too; the shard reads back whole', async (t) => {
  const { dir, store, ref, bytes, body, prepared } = await halfWritten(t, 'in-place-twice', 'twice', 3);
  // The name is taken by the first, so this one streams through tmp/ and renames its file over it.
  const second = prepareBytes(store, ref, bytes, 3, { fresh: true });
  body.end(bytes.subarray(SIZE / 2));
  t.same(await Promise.all([prepared, second]), [SIZE, SIZE], 'both prepares succeed');
  t.same(await readdir(join(dir, 'tmp')), [], 'no temporary file is left');
  await store.commit({ record: recordFor(ref, SIZE * ERASURE.dataShards), shardIndex: 0 });
  t.ok((await readShard(store, ref)).equals(bytes), 'the shard reads back whole');
});

t.test('a fresh shard torn by a crash (its file in place, no row) is removed at the next start', async (t) => {
  const dir = await tempDir(t, 'in-place-torn');
  const ref = shardRef('torn', 1);
  const finalPath = join(dir, 'shards', shardFileName(ref));
  const before = await openStore(dir, FILES);
  await before.close();
  // What a crash mid-write leaves: part of the file under its final name and no row naming it.
  const handle = await open(finalPath, 'wx');
  await handle.write(seededBytes(SIZE / 3, 4));
  await handle.close();
  const store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.notOk(await exists(finalPath), 'start-up recovery removed the torn file');
  t.equal(await store.objectStatus('b', 'torn'), undefined, 'and nothing of it is visible');
  t.equal(await prepareBytes(store, ref, seededBytes(SIZE, 5), 3, { fresh: true }), SIZE, 'the shard can be written again');
});

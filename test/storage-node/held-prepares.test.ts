import { t } from 'tap';
import type { MetadataOp, ShardStore } from '../../src/storage-node/index.js';
import { ROW } from '../../src/storage-node/metadata-keys.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, SIZE_IN, SMALL_THRESHOLDS, openStore, prepareBytes, readShard, recordFor, shardRef, tempDir } from './store-fixture.js';

/** Every LevelDB write of `store` from now on, with whether it was synced. */
function recordWrites(store: ShardStore): { ops: MetadataOp[]; sync: boolean }[] {
  const writes: { ops: MetadataOp[]; sync: boolean }[] = [];
  store.metadata.observeWrites((ops, sync) => writes.push({ ops: ops.map((op) => ({ ...op })), sync }));
  return writes;
}

function rowsOfKind(writes: readonly { ops: MetadataOp[] }[], kind: string): MetadataOp[] {
  return writes.flatMap((write) => write.ops).filter((op) => op.key.toString('latin1').startsWith(kind));
}

const fresh = { fresh: true };

t.test('a client write\'s inline prepare writes nothing to LevelDB; its commit writes the image with the version in one synced write', async (t) => {
  const store = await openStore(await tempDir(t, 'held-commit'), SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  const writes = recordWrites(store);
  const ref = shardRef('config.json', 1);
  const bytes = seededBytes(SIZE_IN.inline, 1);
  await prepareBytes(store, ref, bytes, 3, fresh);
  t.same(writes, [], 'the prepare wrote no row');
  t.same(store.metadata.heldPrepares.prepares, 1, 'it is held');
  t.same((await store.metadata.getPrepared(ref))?.inline, true, 'and read as a prepared inline shard');
  await store.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex });
  t.equal(writes.length, 1, 'the commit is one write');
  t.ok(writes[0]?.sync, 'synced');
  t.equal(rowsOfKind(writes, ROW.inline).length, 1, 'carrying the shard\'s image');
  t.same(store.metadata.heldPrepares, { prepares: 0, bytes: 0 }, 'nothing is held once committed');
  t.ok((await readShard(store, ref)).equals(bytes), 'the shard reads back');
});

t.test('a held prepare is listed with the prepared rows, and an abort drops it', async (t) => {
  const store = await openStore(await tempDir(t, 'held-abort'), SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  const ref = shardRef('partial.json', 1);
  await prepareBytes(store, ref, seededBytes(SIZE_IN.inline, 2), 1, fresh);
  const listed = [];
  for await (const row of store.metadata.preparedShards()) listed.push(row);
  t.same(
    listed.map((row) => [row.key, row.versionId, row.shardIndex, row.inline]),
    [[ref.key, ref.versionId, ref.shardIndex, true]],
    'the resolver and the collector see it as a row',
  );
  await store.abort(ref);
  t.equal(await store.metadata.getPrepared(ref), undefined, 'the abort dropped it');
  t.same(store.metadata.heldPrepares.prepares, 0);
  await t.rejects(store.commit({ record: recordFor(ref, 2000), shardIndex: ref.shardIndex }), { code: 'NotFound' }, 'a commit after the abort finds no shard');
});

t.test('held prepares are written as rows when the store closes, so a commit after a restart still finds its shard', async (t) => {
  const dataDir = await tempDir(t, 'held-restart');
  const store = await openStore(dataDir, SMALL_THRESHOLDS);
  const ref = shardRef('restart.json', 1);
  const bytes = seededBytes(SIZE_IN.inline, 3);
  await prepareBytes(store, ref, bytes, 2, fresh);
  await store.close();
  const reopened = await openStore(dataDir, SMALL_THRESHOLDS);
  t.teardown(() => reopened.close());
  t.same(reopened.metadata.heldPrepares.prepares, 0, 'the reopened store holds nothing');
  t.equal((await reopened.metadata.getPrepared(ref))?.shardSizeBytes, bytes.length, 'the prepare is a row now');
  await reopened.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex });
  t.ok((await readShard(reopened, ref)).equals(bytes), 'the shard committed after the restart reads back');
});

t.test('past their memory bound, and for prepares that are not a client write\'s, prepares are written as rows', async (t) => {
  const store = await openStore(await tempDir(t, 'held-bound'), { ...SMALL_THRESHOLDS, heldPrepareBytes: 2_000 });
  t.teardown(() => store.close());
  const writes = recordWrites(store);
  const refs = [1, 2, 3, 4].map((n) => shardRef(`bound-${n}`, n));
  for (const [i, ref] of refs.entries()) await prepareBytes(store, ref, seededBytes(SIZE_IN.inline, 10 + i), 1, fresh);
  const held = store.metadata.heldPrepares.prepares;
  t.ok(held >= 1 && held < refs.length, `${held} of ${refs.length} held within 2,000 bytes`);
  t.equal(rowsOfKind(writes, ROW.prepared).length, refs.length - held, 'the others were written as rows');
  t.ok(writes.every((write) => !write.sync), 'unsynced, as prepares are');
  const repair = shardRef('repaired', 9);
  await prepareBytes(store, repair, seededBytes(SIZE_IN.inline, 20), 1, { fresh: false });
  t.equal(rowsOfKind(writes, ROW.prepared).length, refs.length - held + 1, 'a repair\'s prepare is written as a row');
  for (const [i, ref] of refs.entries()) {
    await store.commit({ record: recordFor(ref, SIZE_IN.inline * ERASURE.dataShards), shardIndex: ref.shardIndex });
    t.ok((await readShard(store, ref)).equals(seededBytes(SIZE_IN.inline, 10 + i)), `shard ${i} reads back, held or not`);
  }
  t.same(store.metadata.heldPrepares, { prepares: 0, bytes: 0 });
});

t.test('a prepare of the same shard written as a row replaces the held one once it is written', async (t) => {
  const store = await openStore(await tempDir(t, 'held-replaced'), SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  const ref = shardRef('again.json', 1);
  await prepareBytes(store, ref, seededBytes(SIZE_IN.inline, 30), 1, fresh);
  const newer = seededBytes(SIZE_IN.inline, 31);
  await prepareBytes(store, ref, newer, 1, { fresh: false });
  t.same(store.metadata.heldPrepares.prepares, 0, 'the held prepare is gone');
  await store.commit({ record: recordFor(ref, newer.length * ERASURE.dataShards), shardIndex: ref.shardIndex });
  t.ok((await readShard(store, ref)).equals(newer), 'the commit took the prepare written last');
});

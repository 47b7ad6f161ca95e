import { ClassicLevel } from 'classic-level';
import { join } from 'node:path';
import { t } from 'tap';
import type { ObjectRecord, ShardRef } from '../../../src/rpc/index.js';
import type { ShardStore } from '../../../src/storage-node/index.js';
import { seededBytes } from '../../helpers/bytes.js';
import { openStore, prepareBytes, recordFor, shardRef, tempDir, versionId } from '../store-fixture.js';

/** Writes `ref` with a record of `sizeBytes` logical bytes (its shard is a tenth of that, whatever). */
async function write(store: ShardStore, ref: ShardRef, sizeBytes: number, versioning?: 'Enabled'): Promise<void> {
  await prepareBytes(store, ref, seededBytes(64, sizeBytes));
  const record: ObjectRecord = { ...recordFor(ref, sizeBytes), ...(versioning === undefined ? {} : { versioning }) };
  await store.commit({ record, shardIndex: ref.shardIndex });
}

/** A delete marker (versioned) or an unversioned tombstone: a record with no shard. */
async function tombstone(store: ShardStore, key: string, version: number, versioning?: 'Enabled'): Promise<void> {
  const record: ObjectRecord = { ...recordFor(shardRef(key, version), 0, true), ...(versioning === undefined ? {} : { versioning }) };
  await store.commit({ record, shardIndex: null });
}

function usage(store: ShardStore): { objects: number; bytes: number } {
  const [row] = store.bucketUsage('b');
  return { objects: row?.objects ?? 0, bytes: row?.bytes ?? 0 };
}

t.test('a node counts the versions it keeps of a bucket and their logical bytes as they are written, replaced and deleted', async (t) => {
  const dir = await tempDir(t, 'usage');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await write(store, shardRef('a', 1), 1_000);
  await write(store, shardRef('b', 2), 300);
  t.same(usage(store), { objects: 2, bytes: 1_300 }, 'two objects');
  await write(store, shardRef('a', 3), 200);
  t.same(usage(store), { objects: 2, bytes: 500 }, 'an unversioned overwrite replaces what it counted');
  await tombstone(store, 'b', 4);
  t.same(usage(store), { objects: 1, bytes: 200 }, 'a delete takes the object out; its tombstone counts nothing');

  await write(store, shardRef('v', 5), 700, 'Enabled');
  await write(store, shardRef('v', 6), 800, 'Enabled');
  t.same(usage(store), { objects: 3, bytes: 1_700 }, 'a versioned overwrite keeps the noncurrent version, counted');
  await tombstone(store, 'v', 7, 'Enabled');
  t.same(usage(store), { objects: 3, bytes: 1_700 }, 'a delete marker keeps every version and counts nothing itself');
  await store.deleteVersion('b', 'v', versionId(5));
  t.same(usage(store), { objects: 2, bytes: 1_000 }, 'a delete by version id frees that version');

  await write(store, shardRef('v', 6), 800, 'Enabled');
  t.same(usage(store), { objects: 2, bytes: 1_000 }, 'a commit retried is not counted twice');
  t.same(store.bucketUsage('other'), [{ name: 'other', objects: 0, bytes: 0 }], 'a bucket the node holds nothing of counts zero');
});

t.test('the counts survive a restart, and a database without counters is counted from its version rows once', async (t) => {
  const dir = await tempDir(t, 'usage-restart');
  let store = await openStore(dir);
  await write(store, shardRef('a', 1), 1_000);
  await write(store, shardRef('v', 2), 400, 'Enabled');
  await write(store, shardRef('v', 3), 500, 'Enabled');
  const before = usage(store);
  t.same(before, { objects: 3, bytes: 1_900 });
  await store.close();

  store = await openStore(dir);
  t.same(usage(store), before, 'read back after a restart');
  await store.close();

  // As a database written before the counters existed: no counter rows, no mark that they were counted.
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open().catch(async () => {
    throw new Error(`no metadata database where the test expects it (${join(dir, 'meta')})`);
  });
  const stale: Buffer[] = [];
  for await (const key of db.keys()) if (key[0] === 's'.charCodeAt(0) || key.toString('latin1') === 'n\u0000usage-counted') stale.push(key);
  t.ok(stale.length >= 2, 'the database held counter rows and the mark');
  await db.batch(stale.map((key) => ({ type: 'del' as const, key })));
  await db.close();

  store = await openStore(dir);
  t.teardown(() => store.close());
  t.same(usage(store), before, 'counted again from the version rows at start-up');
  await write(store, shardRef('b', 4), 100);
  t.same(usage(store), { objects: 4, bytes: 2_000 }, 'and counted on from there');
});

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { t } from 'tap';
import type { ObjectRecord, ShardRef } from '../../src/rpc/index.js';
import { shardFileName, type QuarantineEntry, type ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { openStore, prepareBytes, readShard, recordFor, shardRef, tempDir, versionId } from './store-fixture.js';

/**
 * Start-up recovery of a shard file that is gone while its registry row remains: when a version the node
 * keeps points to it (the current one or a noncurrent one: of a versioned bucket, or written before
 * versioning and kept once a newer version came), the shard is quarantined under that version for repair
 * rather than forgotten; a registry row nothing points to is still dropped.
 */

const BYTES = 100_000;
/** Lost files are the subject here: every shard above the inline threshold is a file (recovery.test.ts covers lost segments). */
const FILES = { segmentMaxShardBytes: 0 } as const;

/** Prepares shard 1 under `dataVersion` and commits it as version `n` of `key` (null versioning: a never-versioned bucket). */
async function put(store: ShardStore, key: string, n: number, versioning: ObjectRecord['versioning'] | null = 'Enabled', dataVersion = n): Promise<ShardRef> {
  const prepared = shardRef(key, dataVersion, 1);
  await prepareBytes(store, prepared, seededBytes(BYTES, n));
  const record: ObjectRecord = { ...recordFor(shardRef(key, n, 1), BYTES * 4), ...(dataVersion === n ? {} : { dataId: prepared.versionId }) };
  await store.commit({ record: versioning === null || versioning === undefined ? record : { ...record, versioning }, shardIndex: 1 });
  return { ...shardRef(key, n, 1), ...(dataVersion === n ? {} : { dataId: prepared.versionId }) };
}

async function fileOf(store: ShardStore, ref: ShardRef): Promise<string> {
  const stored = await store.versionStatus(ref.bucket, ref.key, ref.versionId);
  if (stored?.file === undefined || stored.file === null) throw new Error(`${ref.key}: no shard file`);
  return stored.file;
}

async function quarantined(store: ShardStore): Promise<QuarantineEntry[]> {
  const entries: QuarantineEntry[] = [];
  for await (const entry of store.metadata.quarantined()) entries.push(entry);
  return entries.sort((a, b) => a.key.localeCompare(b.key));
}

t.test('a noncurrent version whose shard file is lost is quarantined at start-up, not forgotten', async (t) => {
  const dir = await tempDir(t, 'recover-noncurrent');
  let store = await openStore(dir, FILES);
  const v1 = await put(store, 'versioned', 1);
  const v2 = await put(store, 'versioned', 2);
  const old = await put(store, 'pre-versioning', 1, null);
  await put(store, 'pre-versioning', 2);
  const late = await put(store, 'late-id', 10, 'Enabled', 5);
  await put(store, 'late-id', 20);
  const lost = [await fileOf(store, v1), await fileOf(store, old), await fileOf(store, late)];
  t.equal(lost[2], shardFileName(shardRef('late-id', 5, 1)), 'a version committed under a later id keeps the file its prepare named');
  await store.close();
  for (const file of lost) await rm(join(dir, 'shards', file));

  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.equal(store.stats.lastRecovery?.missingFiles, 3);
  t.equal(store.stats.quarantinedShards, 3, 'every lost noncurrent shard waits for repair');
  t.match(await quarantined(store), [
    { key: 'late-id', versionId: versionId(10), dataId: versionId(5), shardIndex: 1, reason: 'missing' },
    { key: 'pre-versioning', versionId: old.versionId, shardIndex: 1, reason: 'missing' },
    { key: 'versioned', versionId: v1.versionId, shardIndex: 1, reason: 'missing' },
  ]);
  for (const file of lost) t.ok(await store.metadata.hasFile(file), `${file}: still registered, for the repair that rewrites it`);
  t.ok(await store.versionStatus('b', 'versioned', v1.versionId), 'the lost version is still listed, for repair to rebuild');
  await t.rejects(store.openShard(v1, 0, 10), { code: 'NotFound' }, 'the gateway reads another shard instead');
  t.ok((await readShard(store, v2)).equals(seededBytes(BYTES, 2)), 'the current version is untouched');

  await store.close();
  store = await openStore(dir, FILES);
  t.equal(store.stats.quarantinedShards, 3, 'a second start-up finds the same three, counted once');
});

t.test('a registered file that no version points to is still forgotten', async (t) => {
  const dir = await tempDir(t, 'recover-unreferenced');
  let store = await openStore(dir, FILES);
  await put(store, 'k', 1);
  await put(store, 'k', 2);
  await store.close();
  const ghost = shardRef('k', 3, 1);
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.put(Buffer.from(`f\0${shardFileName(ghost)}`), Buffer.from(JSON.stringify(ghost)));
  await db.close();

  store = await openStore(dir, FILES);
  t.teardown(() => store.close());
  t.equal(store.stats.lastRecovery?.missingFiles, 1);
  t.same(await quarantined(store), [], 'nothing is quarantined');
  t.notOk(await store.metadata.hasFile(shardFileName(ghost)), 'the stray registry row is dropped');
});

import { open } from 'node:fs/promises';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import type { ObjectRecord, ShardRef } from '../../src/rpc/index.js';
import { RingStore, SHARD_HEADER_BYTES, type ShardStore } from '../../src/storage-node/index.js';
import { GcWorker } from '../../src/storage-node/workers/gc-worker.js';
import { HealingFigures } from '../../src/storage-node/workers/healing-figures.js';
import { PeerClients } from '../../src/storage-node/workers/peer-clients.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, openStore, prepareBytes, readShard, recordFor, segmentImages, shardImageAt, shardRef, tempDir, versionId } from './store-fixture.js';

/**
 * A key's pre-versioning object is its `null` version: its record has no `versioning`, yet once a
 * versioned write lands it is kept as a version row like any other. Repairing it and deleting it by
 * id must treat it as the kept version it is: a repair rebuilds it in place, a delete leaves the
 * tombstone that keeps it deleted, and the collector still takes that tombstone after its grace.
 */

/** The record of `ref`'s version: without `versioning` it was written before the bucket's versioning was enabled. */
function recordOf(ref: ShardRef, sizeBytes: number, versioning?: 'Enabled'): ObjectRecord {
  return { ...recordFor(ref, sizeBytes), ...(versioning === undefined ? {} : { versioning }) };
}

async function write(store: ShardStore, ref: ShardRef, bytes: Buffer, versioning?: 'Enabled'): Promise<void> {
  await prepareBytes(store, ref, bytes);
  await store.commit({ record: recordOf(ref, bytes.length * ERASURE.dataShards, versioning), shardIndex: ref.shardIndex });
}

async function heldVersions(store: ShardStore, key: string): Promise<string[]> {
  return (await store.metadata.keyVersions('b', key)).map((v) => v.record.versionId);
}

/** Flips bytes inside the first chunk of a version's shard image (its file or its place in a segment), as rot on disk would. */
async function rot(dir: string, store: ShardStore, ref: ShardRef): Promise<void> {
  const at = await shardImageAt(dir, store, ref);
  const handle = await open(at.path, 'r+');
  await handle.write(Buffer.from('rot'), 0, 3, at.offsetBytes + SHARD_HEADER_BYTES + 1000);
  await handle.close();
}

for (const place of ['file', 'segment'] as const) {
t.test(`repair of a rotten noncurrent null version written before versioning rebuilds it in place and keeps it (${place} shard)`, async (t) => {
  const dir = await tempDir(t, 'null-repair');
  const options = { inlineMaxShardBytes: 0, ...(place === 'file' ? { segmentMaxShardBytes: 0 } : {}) };
  let store = await openStore(dir, options);
  t.teardown(() => store.close());
  const ref = shardRef('k', 1);
  const bytes = seededBytes(100_000, 1);
  await write(store, ref, bytes);
  await write(store, shardRef('k', 2), seededBytes(100_000, 2), 'Enabled');
  const kept = await store.versionStatus('b', 'k', ref.versionId);
  t.ok(kept?.file, `the null version is kept, noncurrent, in a ${place}`);
  await rot(dir, store, ref);
  await t.rejects(readShard(store, ref), 'the rotten shard fails its checksums');
  t.ok(await store.metadata.isQuarantined(ref), 'and is quarantined for repair');

  // What the repair worker does: putShard of the rebuilt shard (a prepare), then a commit with repair set.
  const record = recordOf(ref, bytes.length * ERASURE.dataShards);
  await prepareBytes(store, ref, bytes);
  await store.commit({ record, shardIndex: 0, repair: true });
  const rebuilt = (await store.versionStatus('b', 'k', ref.versionId))?.file;
  if (place === 'file') t.equal(rebuilt, kept?.file, 'the version row takes the rebuilt shard, under its file name');
  else {
    t.not(rebuilt, kept?.file, 'the version row takes the rebuilt shard, at its new place');
    const registered = await segmentImages(store);
    t.ok(registered.includes(rebuilt as string) && !registered.includes(kept?.file as string), 'the new place is registered, the rotten one is not');
  }
  t.notOk(await store.metadata.isQuarantined(ref), 'the quarantine row is cleared');
  t.ok((await readShard(store, ref)).equals(bytes), 'the repaired version reads back byte-identical');
  t.same(await heldVersions(store, 'k'), [versionId(2), versionId(1)], 'both versions are kept, the versioned one current');
  await store.commit({ record, shardIndex: 0, repair: true });
  t.ok((await readShard(store, ref)).equals(bytes), 'a repeated repair commit is a success that changes nothing');

  // Start-up recovery removes a shard file no `f` row registers: the rebuilt file must still be registered.
  await store.close();
  store = await openStore(dir, options);
  t.ok((await readShard(store, ref)).equals(bytes), 'the repaired version survives a restart');
});
}

t.test('a repeated commit of a kept pre-versioning null version keeps it rather than dropping it as the previous null version', async (t) => {
  const dir = await tempDir(t, 'null-recommit');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  // Record-only, as a multipart manifest is; the audit copies such a version with a commit of its record alone.
  const manifest = recordOf(shardRef('k', 1), 0);
  await store.commit({ record: manifest, shardIndex: null });
  await store.commit({ record: recordOf(shardRef('k', 2), 0, 'Enabled'), shardIndex: null });
  await store.commit({ record: manifest, shardIndex: null });
  t.same(await heldVersions(store, 'k'), [versionId(2), versionId(1)], 'the null version is still kept');
  t.equal((await store.versionStatus('b', 'k', 'null'))?.record.versionId, versionId(1), 'and is still the key’s null version');
});

t.test('deleting a noncurrent pre-versioning null version by id leaves a tombstone on its holder, so a repair cannot bring it back', async (t) => {
  const dir = await tempDir(t, 'null-delete');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const ref = shardRef('k', 1);
  const bytes = seededBytes(1_000, 1);
  await write(store, ref, bytes);
  await write(store, shardRef('k', 2), seededBytes(1_000, 2), 'Enabled');
  // The gateway resolves DELETE ?versionId=null to the version's own id.
  t.equal((await store.deleteVersion('b', 'k', ref.versionId))?.versionId, ref.versionId, 'the holder removes the version');
  t.ok(await store.metadata.getVersionGone('b', 'k', ref.versionId), 'and records its tombstone, as a node that did not hold it would');
  // A peer that missed the delete still holds the version; a repair copies it back with its shard.
  await prepareBytes(store, ref, bytes);
  await store.commit({ record: recordOf(ref, bytes.length * ERASURE.dataShards), shardIndex: 0, repair: true });
  t.equal(await store.versionStatus('b', 'k', ref.versionId), undefined, 'the repair is acknowledged and dropped');
  t.same(await heldVersions(store, 'k'), [versionId(2)], 'only the versioned version is held');
});

t.test('deleting a current pre-versioning null version by id leaves a tombstone that the collector takes after its grace', async (t) => {
  const dir = await tempDir(t, 'null-delete-gc');
  let nowMs = 1_000_000;
  const clock = (): number => nowMs;
  const store = await openStore(dir, { clock });
  t.teardown(() => store.close());
  const ref = shardRef('k', 1);
  await write(store, ref, seededBytes(1_000, 1));
  // The bucket's versioning is enabled now, but this key has no later version: the null version is current.
  await store.deleteVersion('b', 'k', ref.versionId);
  t.equal(await store.objectStatus('b', 'k'), undefined, 'the key is gone from the holder');
  t.ok(await store.metadata.getVersionGone('b', 'k', ref.versionId), 'its tombstone is recorded');

  const graceMs = 60_000;
  const gc = new GcWorker({
    nodeId: 'n0',
    store,
    rings: new RingStore(dir),
    peers: new PeerClients('secret'),
    figures: new HealingFigures(),
    logger: silentLogger(),
    clock,
    tombstoneGraceMs: graceMs,
    uploadExpiryMs: graceMs,
    settleMs: graceMs,
  });
  const pass = async (): Promise<void> => {
    const signal = new AbortController().signal;
    while ((await gc.step(signal)).cursor !== null);
  };
  await pass();
  t.ok(await store.metadata.getVersionGone('b', 'k', ref.versionId), 'a collector pass within the grace keeps the tombstone');
  nowMs += graceMs;
  await pass();
  t.equal(await store.metadata.getVersionGone('b', 'k', ref.versionId), undefined, 'the first pass after the grace drops it');
  t.same((await store.metadata.versionGonePage(null, 10)).rows, [], 'no tombstone row is left behind');
});

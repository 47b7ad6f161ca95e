import { t } from 'tap';
import type { ObjectRecord, ShardRef } from '../../src/rpc/index.js';
import type { ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, SIZE_IN, SMALL_THRESHOLDS, openStore, prepareBytes, readShard, recordFor, shardRef, tempDir } from './store-fixture.js';

/**
 * No prepare replaces the shard a committed version names (committed-shard-guard.ts): a fresh one is
 * refused, any other stores nothing, in every place a node keeps shards and for noncurrent versions
 * too. The one exception is repair's: a shard this node quarantined is replaced by a prepare that is
 * not fresh, and the repair's commit makes it the version's shard again.
 */

const PLACES = Object.entries(SIZE_IN) as [keyof typeof SIZE_IN, number][];

function versioned(ref: ShardRef, sizeBytes: number): ObjectRecord {
  return { ...recordFor(ref, sizeBytes * ERASURE.dataShards), versioning: 'Enabled' };
}

async function commitShard(store: ShardStore, ref: ShardRef, bytes: Buffer, record = versioned(ref, bytes.length)): Promise<void> {
  await prepareBytes(store, ref, bytes, 3, { fresh: true });
  await store.commit({ record, shardIndex: ref.shardIndex });
}

for (const [place, sizeBytes] of PLACES) {
  t.test(`a fresh prepare of a committed ${place} shard, current or noncurrent, is refused and a commit of it again changes nothing`, async (t) => {
    const store = await openStore(await tempDir(t, `guard-${place}`), SMALL_THRESHOLDS);
    t.teardown(() => store.close());
    const older = shardRef(place, 1);
    const current = shardRef(place, 2);
    await commitShard(store, older, seededBytes(sizeBytes, 1));
    await commitShard(store, current, seededBytes(sizeBytes, 2));
    for (const [name, ref, seed] of [['noncurrent', older, 1], ['current', current, 2]] as const) {
      await t.rejects(prepareBytes(store, ref, seededBytes(sizeBytes, 9), 3, { fresh: true }), { code: 'Conflict' }, `${name}: refused`);
      t.equal(await store.metadata.getPrepared(ref), undefined, `${name}: no prepared row is left for a commit to adopt`);
      // A captured commit sent again finds nothing prepared: a repeat of what is visible.
      await store.commit({ record: versioned(ref, sizeBytes), shardIndex: ref.shardIndex });
      t.ok((await readShard(store, ref)).equals(seededBytes(sizeBytes, seed)), `${name}: reads return the committed bytes`);
    }
  });

  t.test(`a repeated prepare of a committed ${place} shard without the fresh mark succeeds and stores nothing`, async (t) => {
    const store = await openStore(await tempDir(t, `repeat-${place}`), SMALL_THRESHOLDS);
    t.teardown(() => store.close());
    const ref = shardRef(place, 1);
    await commitShard(store, ref, seededBytes(sizeBytes, 1));
    t.equal(await prepareBytes(store, ref, seededBytes(sizeBytes, 9)), sizeBytes, 'the prepare succeeds');
    t.equal(await store.metadata.getPrepared(ref), undefined, 'nothing is prepared');
    await store.commit({ record: versioned(ref, sizeBytes), shardIndex: ref.shardIndex, repair: true });
    t.ok((await readShard(store, ref)).equals(seededBytes(sizeBytes, 1)), 'reads return the committed bytes, a repair commit notwithstanding');
  });

  t.test(`a quarantined ${place} shard is replaced by a repair's prepare and commit, never by a fresh prepare`, async (t) => {
    const store = await openStore(await tempDir(t, `repair-${place}`), SMALL_THRESHOLDS);
    t.teardown(() => store.close());
    const ref = shardRef(place, 1);
    await commitShard(store, ref, seededBytes(sizeBytes, 1));
    await store.metadata.quarantine({ ...ref, reason: 'checksum', detail: 'test', detectedMs: 0 });
    await t.rejects(prepareBytes(store, ref, seededBytes(sizeBytes, 8), 3, { fresh: true }), { code: 'Conflict' }, 'a fresh prepare is refused');
    t.ok((await readShard(store, ref)).equals(seededBytes(sizeBytes, 1)), 'and stores nothing');
    const rebuilt = seededBytes(sizeBytes, 7);
    await prepareBytes(store, ref, rebuilt);
    await store.commit({ record: versioned(ref, sizeBytes), shardIndex: ref.shardIndex, repair: true });
    t.ok((await readShard(store, ref)).equals(rebuilt), "the repair's bytes are the shard now");
    t.notOk(await store.metadata.isQuarantined(ref), 'and the quarantine is cleared');
    await prepareBytes(store, ref, seededBytes(sizeBytes, 6));
    t.ok((await readShard(store, ref)).equals(rebuilt), 'once repaired, a repeated prepare stores nothing again');
  });
}

t.test('a prepare retried before its commit replaces the earlier one, fresh or not', async (t) => {
  const store = await openStore(await tempDir(t, 'retry'), SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  for (const [place, sizeBytes] of PLACES) {
    const ref = shardRef(`retry-${place}`, 1);
    await prepareBytes(store, ref, seededBytes(sizeBytes, 1), 3, { fresh: true });
    await prepareBytes(store, ref, seededBytes(sizeBytes, 2), 3, { fresh: true });
    await store.commit({ record: versioned(ref, sizeBytes), shardIndex: ref.shardIndex });
    t.ok((await readShard(store, ref)).equals(seededBytes(sizeBytes, 2)), `${place}: the retried bytes are committed`);
  }
});

t.test('the committed-row shortcut misses no version: commit-time ids, a newer version over it, and that one deleted', async (t) => {
  // isCommitted ends at the key's committed row when it is older than the data id; these are the cases
  // where that row is newer or is another shard's, and the versions themselves must be read.
  const store = await openStore(await tempDir(t, 'shortcut'), SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  for (const [place, sizeBytes] of PLACES) {
    const key = `shortcut-${place}`;
    // Prepared under data id 1, committed as version 2 (a gateway's commit-time id); then version 4 from data id 3.
    const held = shardRef(key, 1);
    const committedAs = { ...shardRef(key, 2), dataId: held.versionId };
    const newer = shardRef(key, 3);
    await prepareBytes(store, held, seededBytes(sizeBytes, 1), 3, { fresh: true });
    await store.commit({ record: { ...versioned(committedAs, sizeBytes), dataId: held.versionId }, shardIndex: 0 });
    await prepareBytes(store, newer, seededBytes(sizeBytes, 3), 3, { fresh: true });
    await store.commit({ record: { ...versioned(shardRef(key, 4), sizeBytes), dataId: newer.versionId }, shardIndex: 0 });
    await t.rejects(prepareBytes(store, held, seededBytes(sizeBytes, 9), 3, { fresh: true }), { code: 'Conflict' }, `${place}: noncurrent, held under an older data id`);
    await t.rejects(prepareBytes(store, newer, seededBytes(sizeBytes, 9), 3, { fresh: true }), { code: 'Conflict' }, `${place}: current, held under an older data id`);
    // The newest version deleted by id: the one promoted is the committed row again, and its shard still guarded.
    await store.deleteVersion('b', key, shardRef(key, 4).versionId);
    await t.rejects(prepareBytes(store, held, seededBytes(sizeBytes, 9), 3, { fresh: true }), { code: 'Conflict' }, `${place}: promoted to current`);
    t.ok((await readShard(store, committedAs)).equals(seededBytes(sizeBytes, 1)), `${place}: reads return the committed bytes`);
    // Its data deleted too: no version holds the shard any more, and a prepare of it is stored again.
    await store.deleteVersion('b', key, committedAs.versionId);
    t.equal(await prepareBytes(store, held, seededBytes(sizeBytes, 5), 3, { fresh: true }), sizeBytes, `${place}: stored once no version holds it`);
    t.ok(await store.metadata.getPrepared(held), `${place}: and prepared`);
  }
});

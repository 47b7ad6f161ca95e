import { t } from 'tap';
import type { ShardRef } from '../../../src/rpc/index.js';
import type { ShardStore } from '../../../src/storage-node/index.js';
import { seededBytes } from '../../helpers/bytes.js';
import { openStore, prepareBytes, recordFor, shardRef, tempDir } from '../store-fixture.js';

/**
 * The node's paged reads of versions and of tombstones of versions deleted by id, as audits, digests and
 * rebalance use them: small pages over keys with many versions return every row once, in order; a delete
 * by id leaves a tombstone whether or not the node held the version, and a commit of a tombstoned version
 * changes nothing. Also the guard that keeps a key's placement-index row while older versions remain.
 */

async function write(store: ShardStore, ref: ShardRef): Promise<void> {
  await prepareBytes(store, ref, seededBytes(200, ref.key.length + Number(ref.versionId.slice(8, 12))));
  await store.commit({ record: { ...recordFor(ref, 800), versioning: 'Enabled' }, shardIndex: ref.shardIndex });
}

/** Every row of a whole-range version walk in pages of `limit`. */
async function walkVersions(store: ShardStore, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let after: Parameters<ShardStore['metadata']['versionPage']>[0] = null;
  for (let pages = 0; pages < 1000; pages += 1) {
    const page = await store.metadata.versionPage(after, limit, 0n, null);
    if (page.rows.length > limit) throw new Error(`a page of ${page.rows.length} rows exceeds its limit of ${limit}`);
    seen.push(...page.rows.map((row) => `${row.key}@${row.stored.record.versionId.slice(8, 12)}`));
    const last = page.rows.at(-1);
    if (!page.truncated || last === undefined) return seen;
    after = { hashHex: last.hashHex, bucket: last.bucket, key: last.key, versionId: last.stored.record.versionId };
  }
  throw new Error('the walk did not end');
}

t.test('paged version walks return every version of every key once, each key newest first, whatever the page size', async (t) => {
  const dir = await tempDir(t, 'version-pages');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const keys = ['a', 'bb', 'ccc', 'dddd'];
  for (const [k, key] of keys.entries()) for (let v = 1; v <= k + 2; v += 1) await write(store, shardRef(key, v));
  const whole = await walkVersions(store, 1000);
  t.equal(whole.length, 2 + 3 + 4 + 5, 'every version is walked');
  for (const limit of [1, 2, 3, 7]) t.same(await walkVersions(store, limit), whole, `pages of ${limit} walk the same rows`);
  const forKey = whole.filter((row) => row.startsWith('dddd@')).map((row) => row.slice(5));
  t.same(forKey, [...forKey].sort().reverse(), 'a key\'s versions come newest first');
  const page = await store.metadata.keyVersionsPage('b', 'dddd', shardRef('dddd', 4).versionId, 10);
  t.same(page.map((s) => s.record.versionId), [shardRef('dddd', 3).versionId, shardRef('dddd', 2).versionId, shardRef('dddd', 1).versionId], 'a key\'s versions resume after a given one');
});

t.test('a walk of version rows in row order reads every version once, by bucket and key, each key newest first, in pages of any size', async (t) => {
  const dir = await tempDir(t, 'version-rows');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  // 'a' and 'ab' share a prefix: a page boundary inside one key's versions must not skip into the other's.
  const counts: Record<string, number> = { a: 1, ab: 3, abc: 5, b: 2 };
  for (const [key, count] of Object.entries(counts)) for (let v = 1; v <= count; v += 1) await write(store, shardRef(key, v));
  const expected = Object.entries(counts).flatMap(([key, count]) => Array.from({ length: count }, (_, i) => `${key}@${shardRef(key, count - i).versionId}`));
  for (const limit of [1, 2, 4, 100]) {
    const seen: string[] = [];
    let after: Parameters<ShardStore['metadata']['versionRowsPage']>[0] = null;
    for (let pages = 0; pages < 100; pages += 1) {
      const page = await store.metadata.versionRowsPage(after, limit);
      t.ok(page.length <= limit, `a page holds at most ${limit} rows`);
      seen.push(...page.map((s) => `${s.record.key}@${s.record.versionId}`));
      const last = page.at(-1)?.record;
      if (last === undefined) break;
      after = { bucket: last.bucket, key: last.key, versionId: last.versionId };
    }
    t.same(seen, expected, `pages of ${limit} walk every version once, in order`);
  }
});

t.test('a delete by id leaves a tombstone held or not, listed in the version listing, and a commit of that version is dropped', async (t) => {
  const dir = await tempDir(t, 'version-gone');
  const store = await openStore(dir, { clock: () => 1_000 });
  t.teardown(() => store.close());
  await write(store, shardRef('k', 1));
  await write(store, shardRef('k', 2));
  t.equal((await store.deleteVersion('b', 'k', shardRef('k', 1).versionId))?.versionId, shardRef('k', 1).versionId, 'the held version is removed');
  t.equal(await store.deleteVersion('b', 'k', shardRef('k', 5).versionId), null, 'a version never held answers null');
  const { rows } = await store.metadata.versionGonePage(null, 10);
  t.same(rows.map((g) => [g.key, g.versionId, g.deletedMs]), [['k', shardRef('k', 1).versionId, 1_000], ['k', shardRef('k', 5).versionId, 1_000]].sort((a, b) => String(a[1]).localeCompare(String(b[1]))), 'both deletes left a tombstone');

  const listing = await store.listVersions({ bucket: 'b', prefix: '', after: '', afterIsPrefix: false, limit: 10 });
  t.same(
    listing.entries.map((e) => `${e.record.versionId.slice(8, 12)}${e.gone === true ? '-gone' : ''}`),
    [5, 2, 1].map((n) => `${shardRef('k', n).versionId.slice(8, 12)}${n === 2 ? '' : '-gone'}`),
    'the version listing interleaves tombstones with held versions, newest first',
  );
  const short = await store.listVersions({ bucket: 'b', prefix: '', after: '', afterIsPrefix: false, limit: 2 });
  t.equal(short.entries.length, 2, 'a short page counts tombstones in its limit');
  t.ok(short.truncated, 'and says more follow');

  await write(store, shardRef('k', 5));
  t.equal(await store.versionStatus('b', 'k', shardRef('k', 5).versionId), undefined, 'a commit of a version deleted by id is acknowledged and dropped');
  await store.metadata.dropVersionGone(rows[0] as (typeof rows)[number]);
  t.equal((await store.metadata.versionGonePage(null, 10)).rows.length, 1, 'a dropped tombstone is gone from its partition range');
  t.equal((await store.listVersions({ bucket: 'b', prefix: '', after: '', afterIsPrefix: false, limit: 10 })).entries.length, 2, 'and from the version listing');
});

t.test('the key\'s current version is not dropped while older versions remain, and a noncurrent drop leaves no tombstone', async (t) => {
  const dir = await tempDir(t, 'version-drop');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await write(store, shardRef('k', 1));
  await write(store, shardRef('k', 2));
  t.notOk(await store.dropVersion('b', 'k', shardRef('k', 2).versionId), 'the current version stays while an older one remains');
  t.ok(await store.dropNoncurrentVersion('b', 'k', shardRef('k', 1).versionId), 'the older version is dropped');
  t.notOk(await store.dropNoncurrentVersion('b', 'k', shardRef('k', 2).versionId), 'the current version is not a noncurrent one');
  t.ok(await store.dropVersion('b', 'k', shardRef('k', 2).versionId), 'then the current version can go');
  t.same((await store.metadata.versionGonePage(null, 10)).rows, [], 'moving versions away leaves no tombstone');
  t.same((await store.metadata.versionPage(null, 10, 0n, null)).rows, [], 'and no version row');
});

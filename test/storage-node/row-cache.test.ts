import { t } from 'tap';
import type { MetadataOp } from '../../src/storage-node/group-commit.js';
import { silentLogger } from '../../src/common/index.js';
import { RowCache } from '../../src/storage-node/row-cache.js';
import { StorageNode } from '../../src/storage-node/storage-node.js';
import { openStore, prepareBytes, readShard, recordFor, shardRef, tempDir, writeShard } from './store-fixture.js';
import { seededBytes } from '../helpers/bytes.js';

/**
 * The row cache answers a node's reads of committed rows and inline images from memory. It must never
 * answer what LevelDB would not: a write's rows replace what it held when the write ends, a failed
 * write leaves them unknown, and a read that overlapped a write keeps nothing.
 */

const key = (name: string): Buffer => Buffer.from(`o\0b\0${name}`, 'latin1');
const value = (text: string): Buffer => Buffer.from(text);
const put = (name: string, text: string): MetadataOp => ({ type: 'put', key: key(name), value: value(text) });
const del = (name: string): MetadataOp => ({ type: 'del', key: key(name) });
const all = (): boolean => true;

/** A write of `ops` from its start to its end. */
function write(cache: RowCache, ops: MetadataOp[], ok = true): void {
  cache.writeEnded(ops, cache.writeStarting(ops), ok);
}

t.test('a read that missed keeps its row; a hit answers it, and a row known absent answers null', async (t) => {
  const cache = new RowCache(1 << 20, all);
  t.equal(cache.get(key('a')), undefined, 'nothing held at first');
  cache.fill(key('a'), value('one'), cache.readToken());
  cache.fill(key('gone'), undefined, cache.readToken());
  t.same(cache.get(key('a')), value('one'));
  t.equal(cache.get(key('gone')), null, 'absence is held too');
});

t.test('a read during which a write started or ended keeps nothing, so a slow read cannot bring back a replaced row', async (t) => {
  const cache = new RowCache(1 << 20, all);
  const before = cache.readToken();
  const ops = [put('a', 'new')];
  const ids = cache.writeStarting(ops);
  cache.fill(key('a'), value('old'), before);
  t.equal(cache.get(key('a')), undefined, 'a read that began before the write started keeps nothing');
  const during = cache.readToken();
  cache.writeEnded(ops, ids, true);
  t.same(cache.get(key('a')), value('new'), 'the write ended: its row is held');
  cache.fill(key('a'), value('old'), during);
  t.same(cache.get(key('a')), value('new'), 'a read that began during the write does not replace it');
});

t.test('writes of other keys do not stop a read from keeping its row; a read older than the changes the cache still tracks keeps nothing', async (t) => {
  const cache = new RowCache(1 << 20, all);
  const token = cache.readToken();
  const other = [put('other', 'x')];
  const ids = cache.writeStarting(other);
  write(cache, [put('third', 'y')]);
  cache.fill(key('a'), undefined, token);
  t.equal(cache.get(key('a')), null, 'kept although other keys were written while it ran (one still is)');
  cache.writeEnded(other, ids, true);
  const old = cache.readToken();
  for (let i = 0; i < 5000; i += 1) write(cache, [put(`k${i}`, 'z')]);
  cache.fill(key('b'), value('two'), old);
  t.equal(cache.get(key('b')), undefined, 'too many changes since the read began to tell whether its key was one');
  cache.fill(key('b'), value('two'), cache.readToken());
  t.same(cache.get(key('b')), value('two'), 'a read begun now keeps its row');
});

t.test('a write drops its rows when it starts, holds its puts when it ends, forgets its deletes, and holds nothing when it fails', async (t) => {
  const cache = new RowCache(1 << 20, all);
  cache.fill(key('a'), value('one'), cache.readToken());
  cache.fill(key('b'), value('two'), cache.readToken());
  const ops = [put('a', 'three'), del('b')];
  const ids = cache.writeStarting(ops);
  t.equal(cache.get(key('a')), undefined, 'a row being written is not answered from memory');
  cache.writeEnded(ops, ids, true);
  t.same(cache.get(key('a')), value('three'), 'a put is held');
  t.equal(cache.get(key('b')), undefined, 'a deleted row is forgotten, to be read again if asked for');
  write(cache, [put('a', 'four')], false);
  t.equal(cache.get(key('a')), undefined, 'after a failed write the row is unknown');
  write(cache, [put('c', 'x'), del('c')]);
  t.equal(cache.get(key('c')), undefined, 'within one write the last operation on a key wins, as in LevelDB');
  write(cache, [del('c'), put('c', 'y')]);
  t.same(cache.get(key('c')), value('y'), 'whichever it is');
});

t.test('rows beyond the budget go least recently used first; kinds it does not keep and a budget of 0 keep nothing', async (t) => {
  const cache = new RowCache(3 * (1000 + 100 + 96), all);
  for (const name of ['a', 'b', 'c']) cache.fill(key(name), Buffer.alloc(1000), cache.readToken());
  cache.get(key('a'));
  cache.fill(key('d'), Buffer.alloc(1000), cache.readToken());
  t.equal(cache.get(key('b')), undefined, 'the least recently used row went');
  t.ok(cache.get(key('a')) instanceof Buffer, 'the one read since stayed');
  t.ok(cache.size.bytes <= 3 * (1000 + 100 + 96), 'within the budget');
  cache.fill(key('huge'), Buffer.alloc(10_000), cache.readToken());
  t.equal(cache.get(key('huge')), undefined, 'a row larger than the budget is not kept');

  const onlyObjects = new RowCache(1 << 20, (k) => k[0] === 0x6f);
  onlyObjects.fill(Buffer.from('p\0b\0k'), value('prepared'), onlyObjects.readToken());
  write(onlyObjects, [{ type: 'put', key: Buffer.from('p\0b\0x'), value: value('p') }]);
  t.equal(onlyObjects.size.rows, 0, 'rows of other kinds are never kept');

  const off = new RowCache(0, all);
  off.fill(key('a'), value('one'), off.readToken());
  write(off, [put('b', 'two')]);
  t.equal(off.get(key('a')), undefined, 'a budget of 0 keeps nothing');
  t.equal(off.size.rows, 0);
});

t.test('a store answers from the cache exactly what LevelDB holds across writes, overwrites, deletes and a reopen', async (t) => {
  const dir = await tempDir(t, 'row-cache-store');
  let store = await openStore(dir);
  const first = shardRef('k', 1);
  const small = seededBytes(1_000, 1);
  await writeShard(store, first, small);
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, first.versionId, 'the committed row is read back');
  t.ok((await readShard(store, first)).equals(small), 'and the inline shard');
  const withInline = await store.objectStatusWithInline('b', 'k');
  t.ok(withInline?.inlineShard?.equals(small), 'the status call brings the inline shard');

  const second = shardRef('k', 2);
  const next = seededBytes(1_000, 2);
  await writeShard(store, second, next);
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, second.versionId, 'a newer commit replaces the row at once');
  t.ok((await store.objectStatusWithInline('b', 'k'))?.inlineShard?.equals(next), 'and its inline shard');

  const prepared = shardRef('k', 3);
  await prepareBytes(store, prepared, seededBytes(1_000, 3), 1, { fresh: true });
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, second.versionId, 'a prepare changes nothing readers see');
  await store.abort(prepared);

  await store.commit({ record: recordFor(shardRef('k', 4), 0, true), shardIndex: null });
  t.equal((await store.objectStatus('b', 'k'))?.record.deleted, true, 'a tombstone replaces it');
  t.ok(store.cachedRows.rows > 0, 'rows are held');

  await store.close();
  store = await openStore(dir, { rowCacheBytes: 0 });
  t.teardown(() => store.close());
  t.equal((await store.objectStatus('b', 'k'))?.record.deleted, true, 'LevelDB holds what the cache answered');
  t.equal(store.cachedRows.rows, 0, 'a store without a budget keeps no rows');
});

t.test("a node's rowCacheBytes reaches its store's cache: a budget holds rows up to it, 0 holds none, none given holds them all", async (t) => {
  const budgets = { small: 4 * 1024, none: 0, default: undefined };
  for (const [name, rowCacheBytes] of Object.entries(budgets)) {
    const budget = rowCacheBytes === undefined ? {} : { rowCacheBytes };
    const node = new StorageNode({ nodeId: name, dataDir: await tempDir(t, `row-cache-node-${name}`), host: '127.0.0.1', port: 0, clusterSecret: 'row-cache-secret', logger: silentLogger(), healing: false, ...budget });
    t.teardown(() => node.close());
    await node.start();
    const { store } = node.parts;
    for (let i = 0; i < 20; i += 1) await writeShard(store, shardRef(`k${i}`, 1), seededBytes(1_000, i));
    const held = store.cachedRows;
    if (rowCacheBytes === 0) t.same(held, { rows: 0, bytes: 0 }, 'no budget: no rows');
    else if (rowCacheBytes === undefined) t.ok(held.rows >= 40 && held.bytes > budgets.small, `the default budget holds every object's two rows (${held.rows} rows, ${held.bytes} bytes)`);
    else {
      t.ok(held.rows > 0, `${name}: rows are held`);
      t.ok(held.bytes <= rowCacheBytes, `${name}: ${held.bytes} bytes held, within the ${rowCacheBytes} the node was given`);
    }
  }
});

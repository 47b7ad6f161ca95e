import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { t } from 'tap';
import { RingLocator, buildRing } from '../../src/placement/index.js';
import { SHARD_HEADER_BYTES, ShardCorruptError, ShardStoreError, type ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { cluster } from '../placement/clusters.js';
import { ERASURE, SIZE_IN, SMALL_THRESHOLDS, openStore, prepareBytes, readShard, recordFor, segmentImages, shardImageAt, shardRef, tempDir, writeShard } from './store-fixture.js';

/** The places a node keeps a shard in, by size under SMALL_THRESHOLDS. */
const PLACES = ['inline', 'segment', 'file'] as const;

async function countFiles(dataDir: string, sub: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(join(dataDir, sub), { withFileTypes: true })) {
    count += entry.isDirectory() ? (await readdir(join(dataDir, sub, entry.name))).length : 1;
  }
  return count;
}

async function quarantined(store: ShardStore): Promise<{ key: string; reason: string }[]> {
  const entries: { key: string; reason: string }[] = [];
  for await (const entry of store.metadata.quarantined()) entries.push({ key: entry.key, reason: entry.reason });
  return entries;
}

t.test('shards up to the inline threshold live in LevelDB; one byte more and they go to a segment; past the segment threshold, to files', async (t) => {
  const dir = await tempDir(t, 'inline');
  const store = await openStore(dir, { inlineMaxShardBytes: 1000, segmentMaxShardBytes: 2000 });
  t.teardown(() => store.close());
  const sizes = [0, 1, 999, 1000];
  for (const [i, size] of sizes.entries()) await writeShard(store, shardRef(`small-${size}`, 1), seededBytes(size, i));
  t.equal(await countFiles(dir, 'shards'), 0, 'no shard file for inline sizes');
  t.same(await segmentImages(store), [], 'and no segment image');
  await writeShard(store, shardRef('medium', 1), seededBytes(1001, 8));
  await writeShard(store, shardRef('medium-max', 1), seededBytes(2000, 7));
  t.equal((await segmentImages(store)).length, 2, 'a segment image once the shard outgrows the inline threshold, up to the segment threshold');
  t.equal(await countFiles(dir, 'shards'), 0, 'no file for them');
  await writeShard(store, shardRef('large', 1), seededBytes(2001, 9));
  t.equal(await countFiles(dir, 'shards'), 1, 'a file once the shard outgrows the segment threshold');
  t.ok((await readShard(store, shardRef('medium', 1))).equals(seededBytes(1001, 8)), 'segment shard reads back');
  t.ok((await readShard(store, shardRef('medium-max', 1), 1500, 400)).equals(seededBytes(2000, 7).subarray(1500, 1900)), 'ranged segment read');
  for (const [i, size] of sizes.entries()) {
    t.ok((await readShard(store, shardRef(`small-${size}`, 1))).equals(seededBytes(size, i)), `inline ${size} B reads back`);
    t.equal((await store.objectStatus('b', `small-${size}`))?.inline, true);
  }
  t.ok((await readShard(store, shardRef('large', 1))).equals(seededBytes(2001, 9)), 'file shard reads back');
  t.ok((await readShard(store, shardRef('small-999', 1), 10, 20)).equals(seededBytes(999, 2).subarray(10, 30)), 'ranged inline read');
});

t.test('a prepared shard is invisible to status, reads and listing until its commit batch', async (t) => {
  const dir = await tempDir(t, 'invisible');
  const store = await openStore(dir, SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  for (const [key, size] of Object.entries(SIZE_IN)) {
    const ref = shardRef(key, 1);
    await prepareBytes(store, ref, seededBytes(size, 1));
    t.equal(await store.objectStatus('b', key), undefined, `${key}: no status before commit`);
    await t.rejects(store.openShard(ref, 0, size), { code: 'NotFound' }, `${key}: not readable before commit`);
    const listed = await store.list({ bucket: 'b', prefix: key, after: '', afterIsPrefix: false, limit: 10 });
    t.same(listed.entries, [], `${key}: not listed`);
    await store.commit({ record: recordFor(ref, size * 4), shardIndex: 0 });
    t.ok((await readShard(store, ref)).equals(seededBytes(size, 1)), `${key}: visible after commit`);
  }
});

t.test('an overwrite never mixes bytes: an open reader finishes the old version, new readers get only the new one', async (t) => {
  const dir = await tempDir(t, 'overwrite');
  const store = await openStore(dir, SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  for (const [key, size] of Object.entries(SIZE_IN)) {
    const v1 = shardRef(key, 1);
    const v2 = shardRef(key, 2);
    const old = seededBytes(size, 1);
    const fresh = seededBytes(size, 2);
    await writeShard(store, v1, old);
    const reader = await store.openShard(v1, 0, size);
    const first = await reader.chunks.next();
    await writeShard(store, v2, fresh);
    const parts = [first.value as Buffer];
    for await (const part of reader.chunks) parts.push(part);
    t.ok(Buffer.concat(parts).equals(old), `${key}: the reader that started on v1 got all of v1 and nothing else`);
    await t.rejects(store.openShard(v1, 0, size), { code: 'NotFound' }, `${key}: v1 is gone for new readers`);
    t.ok((await readShard(store, v2)).equals(fresh), `${key}: v2 reads whole`);
  }
  t.equal(await countFiles(dir, 'shards'), 1, 'the replaced file was removed; only v2 of the file shard remains');
  t.equal((await segmentImages(store)).length, 1, 'the replaced segment image left the registry; only v2 remains');
  t.equal(await store.metadata.getInline(shardRef('inline', 1)), undefined, 'the replaced inline image was dropped in the commit batch');
});

t.test('a delete marker hides the shard and drops its data', async (t) => {
  const dir = await tempDir(t, 'delete');
  const store = await openStore(dir, SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  for (const place of PLACES) await writeShard(store, shardRef(place, 1), seededBytes(SIZE_IN[place], 1));
  for (const key of PLACES) {
    await store.commit({ record: recordFor(shardRef(key, 2), 0, true), shardIndex: null });
    t.equal((await store.objectStatus('b', key))?.record.deleted, true);
    await t.rejects(store.openShard(shardRef(key, 1), 0, 10), { code: 'NotFound' });
  }
  t.equal(await countFiles(dir, 'shards'), 0);
  t.same(await segmentImages(store), []);
  t.equal(await store.metadata.getInline(shardRef('inline', 1)), undefined);
});

t.test('a commit older than the current version is acknowledged and its shard dropped; the newer stays', async (t) => {
  const dir = await tempDir(t, 'older');
  const store = await openStore(dir, SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  for (const place of ['segment', 'file'] as const) {
    await writeShard(store, shardRef(place, 5), seededBytes(SIZE_IN[place], 5));
    await writeShard(store, shardRef(place, 4), seededBytes(SIZE_IN[place], 4));
    t.equal((await store.objectStatus('b', place))?.record.versionId, shardRef(place, 5).versionId);
    t.equal(await store.metadata.getPrepared(shardRef(place, 4)), undefined, `${place}: the losing prepared row is gone`);
    t.ok((await readShard(store, shardRef(place, 5))).equals(seededBytes(SIZE_IN[place], 5)));
  }
  t.equal(await countFiles(dir, 'shards'), 1, 'the losing shard file was removed');
  t.equal((await segmentImages(store)).length, 1, 'the losing segment image left the registry');
});

t.test('abort drops a prepared shard; repeating a prepare, commit or abort of a committed shard changes nothing', async (t) => {
  const dir = await tempDir(t, 'abort');
  const store = await openStore(dir, SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  for (const [key, size] of Object.entries(SIZE_IN)) {
    const ref = shardRef(key, 1);
    await prepareBytes(store, ref, seededBytes(size, 1));
    await store.abort(ref);
    await store.abort(ref);
    t.equal(await store.metadata.getPrepared(ref), undefined, `${key}: prepared row gone`);
    t.equal(await store.metadata.getInline(ref), undefined, `${key}: no inline image left`);
    await writeShard(store, ref, seededBytes(size, 2));
    await prepareBytes(store, ref, seededBytes(size, 3));
    await store.commit({ record: recordFor(ref, size * 4), shardIndex: 0 });
    await store.abort(ref);
    t.ok((await readShard(store, ref)).equals(seededBytes(size, 2)), `${key}: the committed bytes are untouched`);
  }
  t.equal(await countFiles(dir, 'shards'), 1);
  t.equal((await segmentImages(store)).length, 1, 'one segment image: the committed one (the repeated prepare\'s left with its abort)');
  t.equal(await countFiles(dir, 'tmp'), 0);
});

async function flipByte(path: string, position: number): Promise<void> {
  const handle = await open(path, 'r+');
  const one = Buffer.alloc(1);
  await handle.read(one, 0, 1, position);
  one[0] = (one[0] ?? 0) ^ 0x10;
  await handle.write(one, 0, 1, position);
  await handle.close();
}

t.test('a flipped bit is refused as ShardCorrupt, counted, and quarantined for repair; other chunks still read', async (t) => {
  const dir = await tempDir(t, 'corrupt');
  let store = await openStore(dir, SMALL_THRESHOLDS);
  for (const [n, place] of (['file', 'segment'] as const).entries()) {
    const ref = shardRef(place, 1);
    const bytes = seededBytes(SIZE_IN[place], 1);
    await writeShard(store, ref, bytes);
    // The segment's neighbour, written after it, must still read when this image is damaged.
    const neighbour = shardRef(`${place}-neighbour`, 1);
    await writeShard(store, neighbour, seededBytes(SIZE_IN[place], 3));
    const at = await shardImageAt(dir, store, ref);
    t.equal(at.kind, place);
    await flipByte(at.path, at.offsetBytes + SHARD_HEADER_BYTES + 65_536 + 8 + 100);
    t.ok((await readShard(store, ref, 0, 65_536)).equals(bytes.subarray(0, 65_536)), `${place}: chunk 0 still reads`);
    await t.rejects(readShard(store, ref), ShardCorruptError, `${place}: a read through chunk 1 fails`);
    await t.rejects(readShard(store, ref, 65_536 + 5, 10), ShardCorruptError, `${place}: so does a range inside it`);
    t.ok((await readShard(store, neighbour)).equals(seededBytes(SIZE_IN[place], 3)), `${place}: the shard written next reads whole`);
    t.equal(store.stats.checksumFailures, 2 * (n + 1), 'every failed read is counted');
    t.equal(store.stats.quarantinedShards, n + 1, 'the shard is quarantined once');
  }
  await writeShard(store, shardRef('inline', 1), seededBytes(500, 2));
  t.same((await quarantined(store)).sort((a, b) => a.key.localeCompare(b.key)), [{ key: 'file', reason: 'checksum' }, { key: 'segment', reason: 'checksum' }]);

  await store.close();
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  for await (const [key, value] of db.iterator({ gte: Buffer.from('d'), lt: Buffer.from('d\xff', 'latin1') })) {
    value[SHARD_HEADER_BYTES + 7] = (value[SHARD_HEADER_BYTES + 7] ?? 0) ^ 0x01;
    await db.put(key, value);
  }
  await db.close();
  store = await openStore(dir, SMALL_THRESHOLDS);
  t.teardown(() => store.close());
  t.equal(store.stats.quarantinedShards, 2, 'quarantine survives a restart');
  await t.rejects(readShard(store, shardRef('inline', 1)), ShardCorruptError, 'a bad inline image is refused the same way');
  t.same((await quarantined(store)).map((entry) => entry.key).sort(), ['file', 'inline', 'segment']);
});

t.test('a committed shard whose file or segment vanished is NotFound and quarantined as missing', async (t) => {
  const dir = await tempDir(t, 'missing');
  const store = await openStore(dir, { ...SMALL_THRESHOLDS, segmentSizeBytes: 1 });
  t.teardown(() => store.close());
  for (const place of ['file', 'segment'] as const) {
    const ref = shardRef(place, 1);
    await writeShard(store, ref, seededBytes(SIZE_IN[place], 1));
  }
  // One more image, so the gone one's segment is sealed (only a sealed segment can be lost this way).
  await writeShard(store, shardRef('next', 1), seededBytes(SIZE_IN.segment, 2));
  for (const place of ['file', 'segment'] as const) {
    const ref = shardRef(place, 1);
    await rm((await shardImageAt(dir, store, ref)).path);
    await t.rejects(store.openShard(ref, 0, 10), { code: 'NotFound' });
  }
  t.same((await quarantined(store)).sort((a, b) => a.key.localeCompare(b.key)), [{ key: 'file', reason: 'missing' }, { key: 'segment', reason: 'missing' }]);
  t.equal(store.stats.checksumFailures, 0, 'missing is not a checksum failure');
  t.ok((await readShard(store, shardRef('next', 1))).equals(seededBytes(SIZE_IN.segment, 2)), 'the image in the next segment reads');
});

t.test('the placement index holds each ring partition as one hash range, for any partition bits', async (t) => {
  const dir = await tempDir(t, 'hash-index');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const keys = Array.from({ length: 300 }, (_, i) => `dir/${i}/κλειδί-${i * 7919}`);
  for (const [i, key] of keys.entries()) {
    const ref = { ...shardRef(key, 1), bucket: i % 2 === 0 ? 'b' : 'other' };
    await store.commit({ record: recordFor(ref, 0, true), shardIndex: null });
  }
  for (const bits of [0, 1, 3, 6]) {
    const ring = new RingLocator(buildRing(null, cluster(8, 2), { replicas: 6, partitionBits: bits, seed: 1 }));
    const seen = new Set<string>();
    for (let partition = 0; partition < 2 ** bits; partition += 1) {
      let previous = '';
      for await (const entry of store.metadata.partitionKeys(partition, bits)) {
        if (ring.partitionOf(entry.bucket, entry.key) !== partition) t.fail(`${entry.key} listed in partition ${partition}`);
        if (entry.hashHex < previous) t.fail('hash order');
        previous = entry.hashHex;
        seen.add(`${entry.bucket}/${entry.key}`);
      }
    }
    t.equal(seen.size, keys.length, `${bits} bits: every key is in exactly one partition walk`);
  }
});

t.test('a capacity limit fails the shard that would pass it mid-stream, claims nothing, and damages nothing stored', async (t) => {
  const dir = await tempDir(t, 'capacity');
  let store = await openStore(dir, { capacityBytes: 150_000 });
  await writeShard(store, shardRef('a', 1), seededBytes(100_000, 1));
  await t.rejects(prepareBytes(store, shardRef('b', 1), seededBytes(100_000, 2), 10), new ShardStoreError('NoSpace', 'node capacity limit reached'));
  t.equal(await countFiles(dir, 'tmp'), 0, 'the partial temporary file is gone');
  t.equal(store.stats.usedBytes, 100_000, 'the failed write claimed nothing');
  t.equal(store.stats.noSpaceRefusals, 1);
  t.ok((await readShard(store, shardRef('a', 1))).equals(seededBytes(100_000, 1)), 'the stored shard is intact');
  await writeShard(store, shardRef('c', 1), seededBytes(40_000, 3));
  await store.close();
  store = await openStore(dir, { capacityBytes: 150_000 });
  t.teardown(() => store.close());
  t.equal(store.stats.usedBytes, 140_000, 'usage is recounted at start-up');
  await writeShard(store, shardRef('a', 2), seededBytes(10_000, 4));
  t.equal(store.stats.usedBytes, 50_000, 'an overwrite returns the old version’s bytes');
  await prepareBytes(store, shardRef('a', 2), seededBytes(10_000, 4));
  t.equal(store.stats.usedBytes, 50_000, 'a repeated prepare of a committed shard claims nothing');
  t.equal(ERASURE.dataShards, 4);
});

t.test('a fresh prepare (a client write’s new data id) stores, commits and reads back inline and file shards alike', async (t) => {
  const store = await openStore(await tempDir(t, 'fresh'));
  t.teardown(() => store.close());
  for (const [n, size] of [[1, 1_000], [2, 200_000]] as const) {
    const ref = shardRef('fresh', n);
    const bytes = seededBytes(size, n);
    t.equal(await prepareBytes(store, ref, bytes, 3, { fresh: true }), size, `the ${size}-byte shard is prepared`);
    await store.commit({ record: recordFor(ref, size * ERASURE.dataShards), shardIndex: ref.shardIndex });
    t.ok((await readShard(store, ref)).equals(bytes), `the ${size}-byte shard reads back byte-identical`);
  }
  // Without the mark, a prepare repeated after the commit still leaves the committed shard alone.
  const ref = shardRef('fresh', 2);
  await prepareBytes(store, ref, seededBytes(200_000, 99));
  t.ok((await readShard(store, ref)).equals(seededBytes(200_000, 2)), 'a repeated prepare (not fresh) keeps the committed bytes');
});

t.test('past the read-ahead budget a shard that would fit a segment goes to a file instead, and reads back the same', async (t) => {
  const dir = await tempDir(t, 'read-ahead-budget');
  const store = await openStore(dir, { ...SMALL_THRESHOLDS, readAheadBudgetBytes: 40_000 });
  t.teardown(() => store.close());
  const ref = shardRef('over-budget', 1);
  const bytes = seededBytes(SIZE_IN.segment, 1);
  await writeShard(store, ref, bytes);
  t.equal(await countFiles(dir, 'shards'), 1, 'the prepare stopped holding the shard in memory and wrote a file');
  t.same(await segmentImages(store), [], 'nothing went to a segment');
  t.ok((await readShard(store, ref)).equals(bytes), 'the shard reads back');
  const small = shardRef('small', 1);
  await writeShard(store, small, seededBytes(500, 2));
  t.equal((await store.objectStatus('b', 'small'))?.inline, true, 'the budget does not touch inline shards');
});

t.test('segment thresholds a place cannot name, or a segment size of nothing, are refused when the store is made, leaving nothing open', async (t) => {
  const dir = await tempDir(t, 'segment-options');
  for (const options of [{ segmentMaxShardBytes: 65 * 1024 * 1024 }, { segmentMaxShardBytes: -1 }, { segmentSizeBytes: 0 }]) {
    await t.rejects(openStore(dir, options), RangeError, JSON.stringify(options));
  }
  // A refused store opened no database: its directory is free for the next store (LevelDB's lock is not held).
  const store = await openStore(dir);
  t.teardown(() => store.close());
  t.pass('a store with valid options opens the same directory');
});

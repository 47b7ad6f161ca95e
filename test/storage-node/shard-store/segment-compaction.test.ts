import { open } from 'node:fs/promises';
import { t } from 'tap';
import { SHARD_HEADER_BYTES } from '../../../src/storage-node/index.js';
import { seededBytes } from '../../helpers/bytes.js';
import { SIZE_IN, SMALL_THRESHOLDS, openStore, prepareBytes, readShard, recordFor, segmentImages, shardImageAt, shardRef, tempDir, writeShard } from '../store-fixture.js';

/** Segments of about three images each, so a few writes fill and seal some. */
const OPTIONS = { ...SMALL_THRESHOLDS, segmentSizeBytes: 200_000 } as const;
const SIZE = SIZE_IN.segment;
const never = new AbortController().signal;

function segmentOf(place: string): number {
  return Number.parseInt(place.split('/')[1] as string, 16);
}

/** The segment a committed version's image is in. */
async function segmentHolding(store: Awaited<ReturnType<typeof openStore>>, ref: ReturnType<typeof shardRef>): Promise<number> {
  return segmentOf((await store.metadata.getVersion(ref.bucket, ref.key, ref.versionId))?.file ?? '');
}

t.test('compaction moves the live images of a sparse segment, re-points their rows, and removes it; every shard reads the same', async (t) => {
  const dir = await tempDir(t, 'compact');
  const store = await openStore(dir, OPTIONS);
  t.teardown(() => store.close());
  for (const key of ['a', 'b', 'c']) await writeShard(store, shardRef(key, 1), seededBytes(SIZE, key.charCodeAt(0)));
  // Overwrites of b and c go to the next segments: the first keeps only a's image live.
  for (const key of ['b', 'c']) await writeShard(store, shardRef(key, 2), seededBytes(SIZE, key.charCodeAt(0) + 100));
  const first = segmentOf((await segmentImages(store))[0] as string);
  const usage = await store.segmentUsageAfter(first - 1);
  t.equal(usage?.segment, first);
  t.ok(usage !== null && usage.liveBytes < usage.sizeBytes / 2, `the first segment is sparse (${usage?.liveBytes} of ${usage?.sizeBytes} bytes live)`);

  // A read that began before compaction finishes from the old segment.
  const reader = await store.openShard(shardRef('a', 1), 0, SIZE);
  const firstChunk = await reader.chunks.next();
  const result = await store.compactSegment(first, never);
  t.match(result, { moved: 1, removed: true });
  const parts = [firstChunk.value as Buffer];
  for await (const part of reader.chunks) parts.push(part);
  t.ok(Buffer.concat(parts).equals(seededBytes(SIZE, 'a'.charCodeAt(0))), 'the read that began before compaction got every byte');

  t.ok((await readShard(store, shardRef('a', 1))).equals(seededBytes(SIZE, 'a'.charCodeAt(0))), 'a reads from its new place');
  for (const key of ['b', 'c']) t.ok((await readShard(store, shardRef(key, 2))).equals(seededBytes(SIZE, key.charCodeAt(0) + 100)), `${key} reads`);
  t.notOk((await segmentImages(store)).some((place) => segmentOf(place) === first), 'no registry row names the removed segment');
  const current = await store.objectStatus('b', 'a');
  const version = await store.metadata.getVersion('b', 'a', shardRef('a', 1).versionId);
  t.equal(version?.file, current?.file, 'the version row moved with the current row');
  t.equal(await store.segmentUsageAfter(first - 1).then((u) => u?.segment === first), false, 'the segment is gone from disk');
});

t.test('an image only a prepared row names keeps its segment until the commit; the next compaction then moves it', async (t) => {
  const dir = await tempDir(t, 'compact-prepared');
  const store = await openStore(dir, OPTIONS);
  t.teardown(() => store.close());
  await prepareBytes(store, shardRef('pending', 1), seededBytes(SIZE, 1));
  for (const key of ['x', 'y']) await writeShard(store, shardRef(key, 1), seededBytes(SIZE, 2));
  await writeShard(store, shardRef('next', 1), seededBytes(SIZE, 3));
  const first = await segmentHolding(store, shardRef('x', 1));
  for (const key of ['x', 'y']) await store.commit({ record: recordFor(shardRef(key, 2), 0, true), shardIndex: null });
  const held = await store.compactSegment(first, never);
  t.match(held, { moved: 0, removed: false }, 'the prepared image keeps the segment');
  await store.commit({ record: recordFor(shardRef('pending', 1), SIZE * 4), shardIndex: 0 });
  const done = await store.compactSegment(first, never);
  t.match(done, { moved: 1, removed: true }, 'once committed, it is moved and the segment removed');
  t.ok((await readShard(store, shardRef('pending', 1))).equals(seededBytes(SIZE, 1)));
});

t.test('a damaged image is quarantined, not copied; its segment stays for the repair', async (t) => {
  const dir = await tempDir(t, 'compact-corrupt');
  const store = await openStore(dir, OPTIONS);
  t.teardown(() => store.close());
  await writeShard(store, shardRef('bad', 1), seededBytes(SIZE, 1));
  await writeShard(store, shardRef('gone', 1), seededBytes(SIZE, 2));
  await writeShard(store, shardRef('fill', 1), seededBytes(SIZE, 3));
  await store.commit({ record: recordFor(shardRef('gone', 2), 0, true), shardIndex: null });
  const at = await shardImageAt(dir, store, shardRef('bad', 1));
  const handle = await open(at.path, 'r+');
  await handle.write(Buffer.from([0x5a]), 0, 1, at.offsetBytes + SHARD_HEADER_BYTES + 10);
  await handle.close();
  const first = await segmentHolding(store, shardRef('bad', 1));
  const result = await store.compactSegment(first, never);
  t.match(result, { moved: 1, removed: false }, 'the good image moved, the damaged one did not, and the segment stays');
  t.ok((await readShard(store, shardRef('fill', 1))).equals(seededBytes(SIZE, 3)), 'the moved image reads');
  const entries = [];
  for await (const entry of store.metadata.quarantined()) entries.push(entry.key);
  t.same(entries, ['bad'], 'the damaged shard waits for repair');
  t.equal(store.stats.quarantinedShards, 1);
});

t.test('a registry row no row backs (an earlier prepare of a shard prepared again elsewhere) is forgotten by compaction', async (t) => {
  const dir = await tempDir(t, 'compact-stale');
  const store = await openStore(dir, OPTIONS);
  t.teardown(() => store.close());
  const ref = shardRef('twice', 1);
  await prepareBytes(store, ref, seededBytes(SIZE, 1));
  await prepareBytes(store, ref, seededBytes(SIZE, 1));
  t.equal((await segmentImages(store)).length, 1, 'the second prepare took the first one\'s registry row with it');
  await store.commit({ record: recordFor(ref, SIZE * 4), shardIndex: 0 });
  t.ok((await readShard(store, ref)).equals(seededBytes(SIZE, 1)));
});

t.test('compaction leaves a segment alone while the disk has no room for its copies beside the reserve', async (t) => {
  const dir = await tempDir(t, 'compact-full');
  let store = await openStore(dir, OPTIONS);
  for (const key of ['a', 'b', 'c']) await writeShard(store, shardRef(key, 1), seededBytes(SIZE, 1));
  for (const key of ['b', 'c']) await writeShard(store, shardRef(key, 2), seededBytes(SIZE, 2));
  const first = await segmentHolding(store, shardRef('a', 1));
  await store.close();
  // The same node restarted with a reserve larger than its disk: any copy would eat into it.
  store = await openStore(dir, { ...OPTIONS, reserveBytes: Number.MAX_SAFE_INTEGER });
  t.match(await store.compactSegment(first, never), { moved: 0, removed: false }, 'nothing is copied, the segment stays');
  t.ok((await readShard(store, shardRef('a', 1))).equals(seededBytes(SIZE, 1)), 'and its image still reads');
  await store.close();
  store = await openStore(dir, OPTIONS);
  t.teardown(() => store.close());
  t.match(await store.compactSegment(first, never), { moved: 1, removed: true }, 'with room, the same segment is compacted');
  t.ok((await readShard(store, shardRef('a', 1))).equals(seededBytes(SIZE, 1)));
});

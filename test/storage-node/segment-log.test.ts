import { appendFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t, type Test } from 'tap';
import { loadBlockHasher } from '../../src/storage-node/index.js';
import { DIRECT_BUFFER_BYTES, DIRECT_IO_ALIGN_BYTES, DirectBuffers } from '../../src/storage-node/direct-io.js';
import { DIRECT_MIN_IMAGE_BYTES, SegmentLog, segmentName, type SegmentPlace } from '../../src/storage-node/segment-log.js';
import { readShardHeader, readShardRange, shardImageParts, ShardCorruptError } from '../../src/storage-node/shard-file.js';
import { seededBytes } from '../helpers/bytes.js';

const hash = await loadBlockHasher();
const root = await mkdtemp(join(tmpdir(), 'tessera-segment-log-'));
t.teardown(() => rm(root, { recursive: true, force: true }));

const header = { shardIndex: 1, dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024, versionId: '0000000000010000abcdef01' };
let dirs = 0;

/** A shard image as a writer appends it: the parts framing the bytes, which arrive as two pieces cut off-centre. */
function image(bytes: Buffer): Uint8Array[] {
  const cutAt = Math.floor(bytes.length / 3);
  return shardImageParts([bytes.subarray(0, cutAt), bytes.subarray(cutAt)], header, hash);
}

/** The shard bytes stored at `place`, every chunk verified, as the node's reads check them. */
async function readBack(log: SegmentLog, place: SegmentPlace): Promise<Buffer> {
  const { source, close } = await log.openRead(place);
  try {
    const parsed = await readShardHeader(source, hash);
    const chunks: Buffer[] = [];
    for await (const chunk of readShardRange(source, parsed, 0, parsed.shardSizeBytes, hash)) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  } finally {
    await close();
  }
}

async function freshLog(options: { maxSegmentBytes?: number; maxBatchBytes?: number; direct?: DirectBuffers } = {}): Promise<{ log: SegmentLog; dir: string }> {
  const dir = join(root, `log-${(dirs += 1)}`);
  const log = new SegmentLog({ dir, fsync: true, ...options });
  await log.open();
  return { log, dir };
}

t.test('appends land back to back and read back verified; appends waiting together share one write and one sync', async (t) => {
  const { log } = await freshLog();
  t.teardown(() => log.close());
  const bodies = Array.from({ length: 64 }, (_, i) => seededBytes(40 * 1024 + i * 997, i));
  const places = await Promise.all(bodies.map((body) => log.append(image(body))));
  const ordered = [...places].sort((a, b) => a.offsetBytes - b.offsetBytes);
  let next = 0;
  for (const place of ordered) {
    t.equal(place.segment, places[0]?.segment, 'one segment');
    t.equal(place.offsetBytes, next, 'each image starts where the one before ends');
    next += place.lengthBytes;
  }
  for (const [i, place] of places.entries()) t.same(await readBack(log, place), bodies[i], `image ${i} reads back`);
  const { appends, writes } = log.stats();
  t.equal(appends, 64);
  t.ok(writes < appends / 4, `64 appends at once took ${writes} writes`);
});

t.test('appends whose parts together pass one writev\'s buffer limit are written in several, back to back, each whole', async (t) => {
  const { log } = await freshLog();
  t.teardown(() => log.close());
  // 1000-byte chunks: each 30 KiB image is 63 buffers, so 40 of them need more than one writev.
  const bodies = Array.from({ length: 40 }, (_, i) => seededBytes(30 * 1024, 200 + i));
  const places = await Promise.all(bodies.map((body) => log.append(shardImageParts([body], header, hash, 1000))));
  const { writes } = log.stats();
  t.ok(writes >= 3, `40 appends of 63 buffers each took ${writes} writes`);
  const ordered = [...places].sort((a, b) => a.offsetBytes - b.offsetBytes);
  let next = 0;
  for (const place of ordered) {
    t.equal(place.offsetBytes, next, 'each image starts where the one before ends');
    next += place.lengthBytes;
  }
  for (const [i, place] of places.entries()) t.same(await readBack(log, place), bodies[i], `image ${i} reads back`);
});

t.test('a segment is sealed when full; the next append starts a new one; list() says which takes appends', async (t) => {
  const { log } = await freshLog({ maxSegmentBytes: 200 * 1024, maxBatchBytes: 64 * 1024 });
  t.teardown(() => log.close());
  const bodies = Array.from({ length: 10 }, (_, i) => seededBytes(60 * 1024, 100 + i));
  const places: SegmentPlace[] = [];
  for (const body of bodies) places.push(await log.append(image(body)));
  const segments = new Set(places.map((place) => place.segment));
  t.ok(segments.size >= 3, `10 images of 60 KiB spread over ${segments.size} segments of 200 KiB`);
  for (const place of places) t.ok(place.offsetBytes + place.lengthBytes <= 200 * 1024, 'no image crosses a segment limit');
  const listed = await log.list();
  t.same(listed.map((s) => s.segment), [...segments].sort((a, b) => a - b));
  t.same(listed.filter((s) => !s.sealed).map((s) => s.segment), [places.at(-1)?.segment], 'only the newest takes appends');
  for (const [i, place] of places.entries()) t.same(await readBack(log, place), bodies[i]);
});

t.test('after a restart appends go to a new segment; a torn batch at the old one\'s end harms nothing recorded', async (t) => {
  const { log, dir } = await freshLog();
  const body = seededBytes(100 * 1024, 7);
  const place = await log.append(image(body));
  await log.close();
  // A crash in the middle of the next batch: bytes past the last answered append that no record names.
  await appendFile(join(dir, segmentName(place.segment)), seededBytes(5000, 8));
  const reopened = new SegmentLog({ dir, fsync: true });
  await reopened.open();
  t.teardown(() => reopened.close());
  t.same(await readBack(reopened, place), body, 'the recorded image reads back');
  const after = await reopened.append(image(seededBytes(50 * 1024, 9)));
  t.equal(after.segment, place.segment + 1, 'the next append starts the next segment');
  t.equal(after.offsetBytes, 0);
  t.same((await reopened.list()).map((s) => s.sealed), [true, false]);
});

t.test('a read never crosses its image\'s end, and a damaged byte fails the read of that image only', async (t) => {
  const { log, dir } = await freshLog();
  t.teardown(() => log.close());
  const first = await log.append(image(seededBytes(80 * 1024, 11)));
  const second = await log.append(image(seededBytes(80 * 1024, 12)));
  const { source, close } = await log.openRead(first);
  const buffer = Buffer.alloc(4096);
  const { bytesRead } = await source.read(buffer, 0, 4096, first.lengthBytes - 100);
  t.equal(bytesRead, 100, 'a read near the end stops at the image\'s last byte');
  await close();
  const { open } = await import('node:fs/promises');
  const handle = await open(join(dir, segmentName(first.segment)), 'r+');
  await handle.write(Buffer.from([0xff]), 0, 1, first.offsetBytes + 1000);
  await handle.close();
  await t.rejects(readBack(log, first), ShardCorruptError, 'the damaged image fails its checksum');
  t.same(await readBack(log, second), seededBytes(80 * 1024, 12), 'its neighbour reads back');
});

t.test('removing a sealed segment lets reads in progress finish; later reads answer NotFound; the open one cannot be removed', async (t) => {
  const { log } = await freshLog({ maxSegmentBytes: 150 * 1024 });
  t.teardown(() => log.close());
  const body = seededBytes(120 * 1024, 21);
  const old = await log.append(image(body));
  const current = await log.append(image(seededBytes(120 * 1024, 22)));
  t.not(current.segment, old.segment);
  const reading = await log.openRead(old);
  const parsed = await readShardHeader(reading.source, hash);
  await log.remove(old.segment);
  const chunks: Buffer[] = [];
  for await (const chunk of readShardRange(reading.source, parsed, 0, parsed.shardSizeBytes, hash)) chunks.push(Buffer.from(chunk));
  await reading.close();
  t.same(Buffer.concat(chunks), body, 'the read that began before the removal got every byte');
  await t.rejects(log.openRead(old), { code: 'NotFound' }, 'a read after the removal finds no segment');
  await t.rejects(log.remove(current.segment), { code: 'Conflict' }, 'the segment taking appends is not removed');
  t.same((await log.list()).map((s) => s.segment), [current.segment]);
});

t.test('a closed log refuses appends; appends taken before close are answered', async (t) => {
  const { log } = await freshLog();
  const pending = Array.from({ length: 8 }, (_, i) => log.append(image(seededBytes(33 * 1024, 30 + i))));
  await log.close();
  const places = await Promise.all(pending);
  t.equal(places.length, 8, 'every append taken before close resolved with its place');
  await t.rejects(log.append(image(seededBytes(33 * 1024, 40))), { code: 'IoError' });
});

t.test('a segment removed from under the log is sealed: later appends go to a new segment, and its images read as gone', async (t) => {
  const { log, dir } = await freshLog();
  t.teardown(() => log.close());
  const lost = await log.append(image(seededBytes(40 * 1024, 50)));
  await rm(join(dir, segmentName(lost.segment)));
  const next = await log.append(image(seededBytes(40 * 1024, 51)));
  t.equal(next.segment, lost.segment + 1, 'the next append started a new segment');
  t.same(await readBack(log, next), seededBytes(40 * 1024, 51));
  await t.rejects(log.openRead(lost), { code: 'NotFound' }, 'the removed segment\'s image is gone, not served from the unlinked file');
});

t.test('a segment being created is never listed as sealed, so removing what looks empty never removes it', async (t) => {
  // One batch per segment: every append after the first creates a segment, while a collector-like loop
  // removes every sealed segment it sees empty. Removing one being created would leave appends going to
  // an unlinked file, whose images could not be read back.
  const { log } = await freshLog({ maxSegmentBytes: 1 });
  t.teardown(() => log.close());
  let appending = true;
  const collector = (async () => {
    while (appending) {
      for (const { segment, sizeBytes, sealed } of await log.list()) if (sealed && sizeBytes === 0) await log.remove(segment);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const places: SegmentPlace[] = [];
  for (let i = 0; i < 60; i += 1) places.push(await log.append(image(seededBytes(2000, 200 + i))));
  appending = false;
  await collector;
  let readable = 0;
  for (const [i, place] of places.entries()) if ((await readBack(log, place)).equals(seededBytes(2000, 200 + i))) readable += 1;
  t.equal(readable, 60, 'every appended image reads back');
});

// The test directory is on a disk file system in CI (ext4), which takes O_DIRECT; tmpfs before Linux 6.6 and other OSes do not.
// Under CI a file system without it fails these tests rather than skipping them.
const directHere = await new DirectBuffers(DIRECT_BUFFER_BYTES).probe(root);
const skipDirect = !directHere && process.env['CI'] !== 'true' ? `${root} does not take direct I/O` : false;

/** Direct buffers for one log, probed on the test directory as a store probes its own. */
async function directBuffers(count: number): Promise<DirectBuffers> {
  const buffers = new DirectBuffers(count * DIRECT_BUFFER_BYTES);
  t.ok(await buffers.probe(root), 'the test directory takes direct I/O');
  return buffers;
}

/** Takes every free buffer; returns them, to give back. */
function takeAll(buffers: DirectBuffers): Buffer[] {
  const taken: Buffer[] = [];
  for (let buffer = buffers.take(); buffer !== null; buffer = buffers.take()) taken.push(buffer);
  return taken;
}

/**
 * Checks the places in file order: an image follows the one before, except that a run of large images
 * (written directly) starts on the next block, and so does the image after it.
 */
function checkPacking(t: Test, places: readonly SegmentPlace[]): void {
  const ordered = [...places].sort((a, b) => a.offsetBytes - b.offsetBytes);
  let end = 0;
  let largeBefore = false;
  for (const place of ordered) {
    const large = place.lengthBytes >= DIRECT_MIN_IMAGE_BYTES;
    const padded = Math.ceil(end / DIRECT_IO_ALIGN_BYTES) * DIRECT_IO_ALIGN_BYTES;
    const allowed = large && largeBefore ? [end, padded] : large || largeBefore ? [padded] : [end];
    t.ok(allowed.includes(place.offsetBytes), `${large ? 'large' : 'small'} image at ${place.offsetBytes} after one ending at ${end}: at ${allowed.join(' or ')}`);
    end = place.offsetBytes + place.lengthBytes;
    largeBefore = large;
  }
}

t.test('with direct I/O a batch of large images starts on a block, and they read back verified, directly, through the page cache and after a reopen', { skip: skipDirect }, async (t) => {
  const direct = await directBuffers(8);
  const { log, dir } = await freshLog({ direct });
  const bodies = Array.from({ length: 24 }, (_, i) => seededBytes(DIRECT_MIN_IMAGE_BYTES + i * 997, 300 + i));
  const places = await Promise.all(bodies.map((body) => log.append(image(body))));
  checkPacking(t, places);
  t.ok(places.every((place) => place.lengthBytes >= DIRECT_MIN_IMAGE_BYTES), 'every image is large enough to go directly');
  t.ok(log.stats().writes < 24 / 3, 'appends waiting together still share a write');
  const listed = (await log.list()).find((entry) => entry.segment === places[0]?.segment);
  t.equal((listed?.sizeBytes ?? 1) % DIRECT_IO_ALIGN_BYTES, 0, 'the segment\'s size is whole blocks');
  for (const [i, place] of places.entries()) t.same(await readBack(log, place), bodies[i], `image ${i} reads back directly`);
  const taken = takeAll(direct);
  for (const [i, place] of places.entries()) t.same(await readBack(log, place), bodies[i], `image ${i} reads back through the page cache`);
  taken.forEach((buffer) => direct.release(buffer));
  await log.close();
  const reopened = new SegmentLog({ dir, fsync: true, direct });
  await reopened.open();
  t.teardown(() => reopened.close());
  for (const [i, place] of places.entries()) t.same(await readBack(reopened, place), bodies[i], `image ${i} reads back after a reopen`);
  t.equal(takeAll(direct).length, 8, 'every direct buffer was given back');
});

t.test('with direct I/O a batch larger than the buffers a write takes goes in several writes, and reads back whole', { skip: skipDirect }, async (t) => {
  const direct = await directBuffers(6);
  const { log, dir } = await freshLog({ direct });
  t.teardown(() => log.close());
  const bodies = Array.from({ length: 10 }, (_, i) => seededBytes(700 * 1024 + i * 4093, 400 + i));
  const places = await Promise.all(bodies.map((body) => log.append(image(body))));
  checkPacking(t, places);
  for (const [i, place] of places.entries()) t.same(await readBack(log, place), bodies[i], `image ${i} reads back`);
  const { size } = await stat(join(dir, segmentName(places[0]?.segment ?? 0)));
  t.equal(size % DIRECT_IO_ALIGN_BYTES, 0, 'the file ends on a block');
});

t.test('with direct I/O but no buffer free, a batch goes through the page cache; the next one still starts on a block and goes directly', { skip: skipDirect }, async (t) => {
  const direct = await directBuffers(2);
  const { log } = await freshLog({ direct });
  t.teardown(() => log.close());
  const taken = takeAll(direct);
  const first = seededBytes(DIRECT_MIN_IMAGE_BYTES + 10_000, 500);
  const buffered = await log.append(image(first));
  taken.forEach((buffer) => direct.release(buffer));
  const second = seededBytes(DIRECT_MIN_IMAGE_BYTES + 20_000, 501);
  const directly = await log.append(image(second));
  t.equal(buffered.offsetBytes, 0);
  t.equal(directly.offsetBytes, Math.ceil(buffered.lengthBytes / DIRECT_IO_ALIGN_BYTES) * DIRECT_IO_ALIGN_BYTES, 'the next batch starts on the block after the first');
  t.same(await readBack(log, buffered), first, 'the buffered image reads back');
  t.same(await readBack(log, directly), second, 'the direct one too');
});

t.test('with direct I/O small images keep the page cache and are packed as before, while a run of large ones in the same batch starts on a block', { skip: skipDirect }, async (t) => {
  const direct = await directBuffers(8);
  const { log } = await freshLog({ direct });
  t.teardown(() => log.close());
  const sizes = [30_000, 50_000, DIRECT_MIN_IMAGE_BYTES + 5, DIRECT_MIN_IMAGE_BYTES * 2, 40_000, 7, DIRECT_MIN_IMAGE_BYTES + 4096, 60_000];
  const bodies = sizes.map((size, i) => seededBytes(size, 600 + i));
  const places = await Promise.all(bodies.map((body) => log.append(image(body))));
  t.ok(log.stats().writes < sizes.length, `${sizes.length} appends took ${log.stats().writes} writes: small and large share batches`);
  checkPacking(t, places);
  for (const [i, place] of places.entries()) t.same(await readBack(log, place), bodies[i], `image ${i} (${sizes[i]} bytes) reads back`);
  t.equal(takeAll(direct).length, 8, 'every direct buffer was given back');
});

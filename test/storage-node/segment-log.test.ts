import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { loadBlockHasher } from '../../src/storage-node/index.js';
import { SegmentLog, segmentName, type SegmentPlace } from '../../src/storage-node/segment-log.js';
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

async function freshLog(options: { maxSegmentBytes?: number; maxBatchBytes?: number } = {}): Promise<{ log: SegmentLog; dir: string }> {
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

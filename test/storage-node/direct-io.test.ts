import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import { loadBlockHasher } from '../../src/storage-node/index.js';
import {
  DIRECT_BUFFER_BYTES,
  DIRECT_CREATE_FLAGS,
  DIRECT_IO_ALIGN_BYTES,
  DIRECT_READ_FLAGS,
  DIRECT_WRITE_FLAGS,
  DirectBuffers,
  DirectReadSource,
  writeDirectAt,
  type DirectFile,
} from '../../src/storage-node/direct-io.js';
import { DEFAULT_CHUNK_BYTES, SHARD_HEADER_BYTES, encodeShardImage, writeShardFile } from '../../src/storage-node/shard-file.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, openStore, readShard, recordFor, shardRef, tempDir, writeShard } from './store-fixture.js';

const hash = await loadBlockHasher();
const header = { shardIndex: 2, dataShards: 4, parityShards: 2, blockSizeBytes: 256 * 1024, versionId: '0000000000010000abcdef02' };
const dir = await tempDir(t, 'direct-io');

// The test directory is on a disk file system in CI (ext4), which takes O_DIRECT; tmpfs before Linux 6.6 and other OSes do not.
// Under CI a file system without it fails these tests rather than skipping them.
const directHere = await new DirectBuffers(DIRECT_BUFFER_BYTES).probe(dir);
const skip = !directHere && process.env['CI'] !== 'true' ? `${dir} does not take direct I/O` : false;

/** A new file of the test directory holding `bytes`, written through the page cache; returns its path. */
async function plainFile(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** The file at `path` opened for direct reads, with every read it serves recorded as [position, length]. */
async function recordedFile(path: string): Promise<{ file: DirectFile; spans: [number, number][] }> {
  const handle = await open(path, DIRECT_READ_FLAGS);
  const spans: [number, number][] = [];
  const file: DirectFile = {
    read: (buffer, offset, length, position) => {
      spans.push([position, length]);
      return handle.read(buffer, offset, length, position);
    },
    close: () => handle.close(),
  };
  return { file, spans };
}

/** `count` direct buffers, probed on the test directory. */
async function probedBuffers(count: number): Promise<DirectBuffers> {
  const buffers = new DirectBuffers(count * DIRECT_BUFFER_BYTES);
  await buffers.probe(dir);
  return buffers;
}

t.test('the probe finds that the test directory takes direct reads and writes', { skip }, async (t) => {
  t.ok(directHere);
  t.notOk(await new DirectBuffers(0).probe(dir), 'without buffers there is no direct I/O');
});

/** Cuts bytes into pieces of 1, 4095, 70,000 and 333,333 bytes, cycling, so pieces straddle blocks, chunks and stages. */
async function* oddPieces(bytes: Buffer): AsyncGenerator<Buffer> {
  const sizes = [1, 4095, 70_000, 333_333];
  for (let at = 0, i = 0; at < bytes.length; i += 1) {
    const size = sizes[i % sizes.length] as number;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

/** The shard size whose file (header, chunks and checksums) is `fileBytes` long, for chunks of 64 KiB. */
function shardBytesForFile(fileBytes: number): number {
  const stride = 65_536 + 8;
  const body = fileBytes - SHARD_HEADER_BYTES;
  const whole = Math.floor(body / stride);
  const rest = body - whole * stride;
  // A last chunk of r bytes takes r + 8 in the file.
  return whole * 65_536 + Math.max(0, rest - 8);
}

t.test('a shard file written directly is byte-identical to its image, at every block and stage edge', { skip }, async (t) => {
  const buffers = new DirectBuffers(2 * DIRECT_BUFFER_BYTES);
  await buffers.probe(dir);
  const fileSizes = [
    SHARD_HEADER_BYTES + 9,
    DIRECT_IO_ALIGN_BYTES,
    DIRECT_IO_ALIGN_BYTES + 9,
    DIRECT_BUFFER_BYTES - 1,
    DIRECT_BUFFER_BYTES,
    DIRECT_BUFFER_BYTES + 9,
    2 * DIRECT_BUFFER_BYTES,
    3 * DIRECT_BUFFER_BYTES + 4 * DIRECT_IO_ALIGN_BYTES + 777,
  ];
  for (const [n, fileBytes] of fileSizes.entries()) {
    const bytes = seededBytes(shardBytesForFile(fileBytes), n + 1);
    const image = encodeShardImage([bytes], header, hash);
    const path = join(dir, `written-${n}`);
    const first = buffers.take();
    const second = buffers.take();
    if (first === null || second === null) throw new Error('two direct buffers should be free');
    const handle = await open(path, DIRECT_CREATE_FLAGS);
    try {
      t.equal(await writeShardFile(handle, oddPieces(bytes), header, hash, undefined, { direct: [first, second] }), bytes.length, `${image.length}-byte file: the shard's size`);
    } finally {
      await handle.close();
      buffers.release(first);
      buffers.release(second);
    }
    const written = await readFile(path);
    t.equal(written.length, image.length, `${image.length}-byte file: truncated to its length, padding gone`);
    t.ok(written.equals(image), `${image.length}-byte file: header, chunks and checksums as the buffered image`);
  }
});

t.test('direct reads return the bytes at any position and length, shorter at the end, and close() returns every buffer', { skip }, async (t) => {
  const bytes = seededBytes(3 * DIRECT_BUFFER_BYTES + 12_345, 7);
  const path = await plainFile('reads', bytes);
  // Two sources reading in order hold two buffers each: their own and the one they read ahead into.
  const buffers = await probedBuffers(4);
  const read = async (source: DirectReadSource, position: number, length: number): Promise<Buffer> => {
    const target = Buffer.alloc(length + 3);
    const { bytesRead } = await source.read(target, 3, length, position);
    return target.subarray(3, 3 + bytesRead);
  };

  const random = new DirectReadSource(await open(path, DIRECT_READ_FLAGS), buffers.take() as Buffer, buffers);
  const cases = [
    [0, 1],
    [0, SHARD_HEADER_BYTES + 1_048_704],
    [4095, 2],
    [DIRECT_BUFFER_BYTES - 10, 20],
    [12_345, 2 * DIRECT_BUFFER_BYTES + 1],
    [100, 50],
    [bytes.length - 5, 100],
    [bytes.length + 10, 100],
  ] as const;
  for (const [position, length] of cases) {
    const expected = bytes.subarray(position, position + length);
    t.ok((await read(random, position, length)).equals(expected), `${length} bytes at ${position}: ${expected.length} bytes, the file's`);
  }
  await random.close();

  // Reads in order, as a whole-shard read makes them, go through the read-ahead; the last one ends the file.
  const ordered = new DirectReadSource(await open(path, DIRECT_READ_FLAGS), buffers.take() as Buffer, buffers);
  const batch = 1_048_704;
  const parts: Buffer[] = [];
  for (let position = SHARD_HEADER_BYTES; position < bytes.length; position += batch) parts.push(await read(ordered, position, batch));
  t.ok(Buffer.concat(parts).equals(bytes.subarray(SHARD_HEADER_BYTES)), 'reads in order return the file after its first bytes');
  // Closed right after a read that started one ahead: the buffers come back only once it has landed.
  const early = new DirectReadSource(await open(path, DIRECT_READ_FLAGS), buffers.take() as Buffer, buffers);
  await read(early, 0, batch);
  await read(early, batch, batch);
  t.equal(buffers.take(), null, 'each source reading in order holds a second buffer to read ahead into');
  await Promise.all([ordered.close(), early.close()]);
  const taken = Array.from({ length: 5 }, () => buffers.take());
  t.same(
    taken.map((buffer) => buffer !== null),
    [true, true, true, true, false],
    'all four buffers are free again, and there were only four',
  );
});

t.test('direct read views: whole batches in order come as views of the read buffers, each read once, with the read-ahead', { skip }, async (t) => {
  const bytes = seededBytes(3 * DIRECT_BUFFER_BYTES + 12_345, 11);
  const path = await plainFile('views', bytes);
  const buffers = await probedBuffers(2);
  const { file: recorded, spans } = await recordedFile(path);
  const source = new DirectReadSource(recorded, buffers.take() as Buffer, buffers);
  // Batches as a whole-shard read asks for them: not block-aligned, each starting where the last ended.
  const batch = 1_048_704;
  const views: Buffer[] = [];
  for (let position = SHARD_HEADER_BYTES; position < bytes.length; position += batch) {
    const view = await source.readView(position, batch);
    if (view === null) {
      t.fail(`the batch at ${position} came as no view`);
      break;
    }
    t.ok(view.equals(bytes.subarray(position, position + batch)), `the batch at ${position} holds the file's bytes`);
    t.equal(view.buffer.byteLength, 2 * DIRECT_BUFFER_BYTES, 'a view of the direct buffers\' memory, not a copy');
    views.push(view);
    if (views.length === 2) t.equal(spans.length, 3, 'while the second batch is used, the span of the third is being read ahead');
  }
  t.equal(views.length, Math.ceil((bytes.length - SHARD_HEADER_BYTES) / batch), 'every batch came as a view');
  // Spans end at the end of the file's last block however long they were asked to be.
  const fileBlocks = Math.ceil(bytes.length / DIRECT_IO_ALIGN_BYTES);
  const blocksRead = spans.reduce((sum, [position, length]) => sum + Math.min(length, fileBlocks * DIRECT_IO_ALIGN_BYTES - position), 0) / DIRECT_IO_ALIGN_BYTES;
  // Each span starts with the block the batch before it ended in: one block read twice per batch.
  t.ok(blocksRead <= fileBlocks + views.length, `${blocksRead} blocks read for a file of ${fileBlocks}`);
  t.equal(spans.length, views.length, 'one read per batch');

  // A range that no single span can hold comes as no view; read() still returns it.
  t.equal(await source.readView(0, DIRECT_BUFFER_BYTES + 1), null, 'a range longer than a buffer is no view');
  const target = Buffer.alloc(DIRECT_BUFFER_BYTES + 1);
  const { bytesRead } = await source.read(target, 0, target.length, 0);
  t.ok(target.subarray(0, bytesRead).equals(bytes.subarray(0, DIRECT_BUFFER_BYTES + 1)), 'read() serves what readView() cannot');
  // Past the end: a short view, then an empty one.
  t.ok((await source.readView(bytes.length - 5, 100))?.equals(bytes.subarray(bytes.length - 5)), 'a view ends with the file');
  t.equal((await source.readView(bytes.length + 10, 100))?.length, 0, 'past the end, an empty view');
  await source.close();
  t.same(
    [buffers.take(), buffers.take(), buffers.take()].map((buffer) => buffer !== null),
    [true, true, false],
    'both buffers are free again after close()',
  );
});

t.test('writeDirectAt writes parts of any size at an aligned position through one stage or several, padded to a block', { skip }, async (t) => {
  const buffers = await probedBuffers(3);
  const stages = [buffers.take(), buffers.take(), buffers.take()].filter((stage): stage is Buffer => stage !== null);
  t.equal(stages.length, 3);
  t.teardown(() => stages.forEach((stage) => buffers.release(stage)));
  const sizes = [[1], [DIRECT_IO_ALIGN_BYTES], [7, DIRECT_BUFFER_BYTES - 7], [DIRECT_BUFFER_BYTES + 1], [100_000, 3 * DIRECT_BUFFER_BYTES, 12_345, 1]];
  for (const count of [1, 3]) {
    for (const [n, lengths] of sizes.entries()) {
      const parts = lengths.map((length, i) => seededBytes(length, 10 * n + i + count));
      const total = lengths.reduce((sum, length) => sum + length, 0);
      // Bytes already in the file before the aligned position stay as they were.
      const before = seededBytes(2 * DIRECT_IO_ALIGN_BYTES, 99);
      const path = await plainFile(`at-${count}-${n}`, before);
      const handle = await open(path, DIRECT_WRITE_FLAGS);
      try {
        const written = await writeDirectAt(handle, stages.slice(0, count), parts, before.length);
        t.equal(written, Math.ceil(total / DIRECT_IO_ALIGN_BYTES) * DIRECT_IO_ALIGN_BYTES, `${lengths.join('+')} bytes, ${count} stage(s): padded to a block`);
      } finally {
        await handle.close();
      }
      const file = await readFile(path);
      t.ok(file.subarray(0, before.length).equals(before), 'the bytes before are untouched');
      t.ok(file.subarray(before.length, before.length + total).equals(Buffer.concat(parts)), 'the parts follow, in order');
      t.ok(file.subarray(before.length + total).every((byte) => byte === 0), 'then zeros to the block\'s end');
    }
  }
  const handle = await open(join(dir, 'at-unaligned'), DIRECT_CREATE_FLAGS);
  await t.rejects(writeDirectAt(handle, stages, [Buffer.alloc(10)], 100), RangeError, 'an unaligned position is refused before any write');
  await handle.close();
});

t.test('a direct read source bounded to a range of its file never reads past that range\'s last block, read-ahead included', { skip }, async (t) => {
  const bytes = seededBytes(4 * DIRECT_BUFFER_BYTES, 31);
  const path = await plainFile('bounded', bytes);
  const buffers = await probedBuffers(3);
  const start = 5_000;
  const end = start + DIRECT_BUFFER_BYTES + 300_001;
  const { file: recorded, spans } = await recordedFile(path);
  const source = new DirectReadSource(recorded, buffers.take() as Buffer, buffers, end);
  const parts: Buffer[] = [];
  for (let position = start; position < end; position += 200_000) {
    const target = Buffer.alloc(Math.min(200_000, end - position));
    const { bytesRead } = await source.read(target, 0, target.length, position);
    parts.push(target.subarray(0, bytesRead));
  }
  await source.close();
  t.ok(Buffer.concat(parts).equals(bytes.subarray(start, end)), 'the range reads back');
  const limit = Math.ceil(end / DIRECT_IO_ALIGN_BYTES) * DIRECT_IO_ALIGN_BYTES;
  t.ok(spans.length > 1, `${spans.length} reads`);
  t.same(spans.filter(([position, length]) => position + length > limit), [], 'no read reaches past the block holding the range\'s last byte');
});

/**
 * A shard read as an in-process link reads it: each chunk copied before the next is asked for, since a
 * transient read may hand out views of a direct read's buffer that the next read fills again. Also
 * counts the chunks that were views of the direct buffers' memory (no single read fills one that large).
 */
async function transientRead(store: Awaited<ReturnType<typeof openStore>>, ref: ReturnType<typeof shardRef>): Promise<{ bytes: Buffer; views: number }> {
  const shard = await store.openShard(ref, 0, Number.MAX_SAFE_INTEGER, { transient: true });
  const copies: Buffer[] = [];
  let views = 0;
  for await (const chunk of shard.chunks) {
    if (chunk.buffer.byteLength >= DIRECT_BUFFER_BYTES) views += 1;
    copies.push(Buffer.from(chunk));
  }
  return { bytes: Buffer.concat(copies), views };
}

t.test('large segment images read back whole through a transient read, several at once, each chunk a view until the next', { skip }, async (t) => {
  const store = await openStore(await tempDir(t, 'direct-segments'), { inlineMaxShardBytes: 1000 });
  t.teardown(() => store.close());
  const sizes = [256 * 1024, 300_001, 1024 * 1024 + 5];
  const shards = sizes.map((size, n) => ({ ref: shardRef(`s${n}`, 1), bytes: seededBytes(size, n + 41) }));
  for (const { ref, bytes } of shards) {
    await writeShard(store, ref, bytes);
    await store.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex });
  }
  // Reads running side by side share the segment's direct handle, each with its own buffers.
  const read = await Promise.all(shards.map(({ ref }) => transientRead(store, ref)));
  for (const [n, { bytes }] of shards.entries()) {
    t.ok(read[n]?.bytes.equals(bytes), `the ${bytes.length}-byte image reads back`);
    t.equal(read[n]?.views, Math.ceil(bytes.length / DEFAULT_CHUNK_BYTES), 'every chunk was a view of a direct buffer');
  }
});

t.test('a store writes and reads file shards directly, and through the page cache when direct buffers run short or are off', { skip }, async (t) => {
  const sizes = [3 * 65_536 + 123, 5 * 1024 * 1024 + 17];
  const images: Buffer[][] = [];
  for (const [mode, memory] of [
    ['direct', undefined],
    ['one buffer (writes buffered, reads direct)', DIRECT_BUFFER_BYTES],
    ['off', 0],
  ] as const) {
    const dataDir = await tempDir(t, 'direct-store');
    const store = await openStore(dataDir, { inlineMaxShardBytes: 1000, segmentMaxShardBytes: 0, ...(memory === undefined ? {} : { directIoMemoryBytes: memory }) });
    t.teardown(() => store.close());
    t.equal(store.directIo, memory !== 0, `${mode}: the store says whether it uses direct I/O`);
    const files: Buffer[] = [];
    for (const [n, size] of sizes.entries()) {
      const ref = shardRef(`k${n}`, 1);
      const bytes = seededBytes(size, n + 11);
      await writeShard(store, ref, bytes);
      await store.commit({ record: recordFor(ref, size * ERASURE.dataShards), shardIndex: ref.shardIndex });
      t.ok((await readShard(store, ref)).equals(bytes), `${mode}: the ${size}-byte shard reads back`);
      t.ok((await transientRead(store, ref)).bytes.equals(bytes), `${mode}: the ${size}-byte shard reads back through a transient read`);
      const stored = await store.metadata.getVersion(ref.bucket, ref.key, ref.versionId);
      files.push(await readFile(join(dataDir, 'shards', stored?.file as string)));
    }
    images.push(files);
  }
  t.ok(
    images.every((files) => files.every((file, i) => file.equals(images[0]?.[i] as Buffer))),
    'every way of writing leaves the same files',
  );
});

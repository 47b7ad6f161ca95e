import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { loadBlockHasher, type BlockHasher } from '../../src/storage-node/index.js';
import {
  CHECKSUM_BYTES,
  DEFAULT_CHUNK_BYTES,
  bufferSource,
  encodeShardImage,
  readShardHeaderAhead,
  shardImageParts,
  readShardRange,
  writeShardFile,
  SHARD_HEADER_BYTES,
  type PositionalSource,
} from '../../src/storage-node/shard-file.js';
import { seededBytes } from '../helpers/bytes.js';

const hash = await loadBlockHasher();
/** The same hash without its piecewise form: chunks that arrive in pieces are hashed from a joined copy. */
const plainHash: BlockHasher = (bytes) => hash(bytes);
const dir = await mkdtemp(join(tmpdir(), 'tessera-shard-io-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const header = { shardIndex: 1, dataShards: 4, parityShards: 2, blockSizeBytes: 1024, versionId: '0000000000010000abcdef01' };

/** Cuts bytes into pieces of the given sizes, cycling through them. */
function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i += 1) {
    const size = sizes[i % sizes.length] as number;
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

async function* streamOf(pieces: Buffer[]): AsyncGenerator<Buffer> {
  yield* pieces;
}

async function fileOf(name: string, pieces: Buffer[], hasher: BlockHasher, chunkBytes: number): Promise<Buffer> {
  const path = join(dir, name);
  const handle = await open(path, 'w');
  try {
    await writeShardFile(handle, streamOf(pieces), header, hasher, chunkBytes);
  } finally {
    await handle.close();
  }
  return readFile(path);
}

t.test('pieces that straddle chunks, tiny ones included, frame to the same bytes with either hasher form', async (t) => {
  const bytes = seededBytes(5000, 3);
  const expected = encodeShardImage([bytes], header, hash, 1000);
  const cuts = { aligned: [1000], straddling: [700, 1300, 999], tiny: [7, 1, 13] };
  for (const [name, sizes] of Object.entries(cuts)) {
    for (const [hasherName, hasher] of [['piecewise', hash], ['plain', plainHash]] as const) {
      t.ok((await fileOf(`${name}-${hasherName}`, cut(bytes, sizes), hasher, 1000)).equals(expected), `${name} pieces, ${hasherName} hasher: same file`);
      t.ok(encodeShardImage(cut(bytes, sizes), header, hasher, 1000).equals(expected), `${name} pieces, ${hasherName} hasher: same inline image`);
      t.ok(Buffer.concat(shardImageParts(cut(bytes, sizes), header, hasher, 1000)).equals(expected), `${name} pieces, ${hasherName} hasher: same segment image parts`);
    }
  }
});

t.test('a segment image\'s parts are the pieces\' own memory: no shard byte is copied, even for a chunk split across pieces', async (t) => {
  const bytes = seededBytes(5000, 4);
  const pieces = cut(bytes, [2500, 1700, 800]);
  const parts = shardImageParts(pieces, header, hash, 1000);
  let shardBytes = 0;
  for (const part of parts.slice(1)) {
    // A chunk's checksum, in memory of its own.
    if (part.buffer !== bytes.buffer && part.length === CHECKSUM_BYTES) continue;
    t.equal(part.buffer, bytes.buffer, 'a chunk part is a view of the bytes the pieces came from');
    shardBytes += part.length;
  }
  t.equal(shardBytes, bytes.length, 'every shard byte is in a view');
  t.ok(Buffer.concat(parts).equals(encodeShardImage([bytes], header, hash, 1000)), 'the parts join to the image');
});

/** A file handle whose writes complete when the test says so, recording what each one was given. */
class ManualHandle {
  readonly writes: { position: number; bytes: number; done: () => void }[] = [];
  private waiting: (() => void) | null = null;

  readonly writev = (buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> => {
    const bytes = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    return new Promise((resolve) => {
      this.writes.push({ position, bytes, done: () => resolve({ bytesWritten: bytes }) });
      this.waiting?.();
    });
  };

  /** Resolves once `count` writes have been started. */
  async started(count: number): Promise<void> {
    while (this.writes.length < count) await new Promise<void>((resolve) => (this.waiting = resolve));
  }
}

t.test('one write is in flight while the next batch is read and framed, and the next write waits for it', async (t) => {
  const handle = new ManualHandle();
  let pulled = 0;
  const piece = seededBytes(64 * 1024, 9);
  async function* source(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 24; i += 1) {
      pulled += 1;
      yield piece;
    }
  }
  const done = writeShardFile(handle as unknown as FileHandle, source(), header, hash);
  await handle.started(1);
  const pulledAtFirstWrite = pulled;
  // The writer goes on reading while the first write is in flight, up to one more batch.
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(pulled > pulledAtFirstWrite, `read on while writing (${pulledAtFirstWrite} then ${pulled} pieces)`);
  t.equal(handle.writes.length, 1, 'but started no second write before the first finished');
  t.ok(pulled < 24, 'and did not read the whole body ahead');
  (handle.writes[0] as { done: () => void }).done();
  await handle.started(2);
  (handle.writes[1] as { done: () => void }).done();
  await handle.started(3);
  (handle.writes[2] as { done: () => void }).done();
  // The header goes last, at position 0.
  await handle.started(4);
  (handle.writes[3] as { done: () => void }).done();
  t.equal(await done, 24 * 64 * 1024);
  const [first, second, third, last] = handle.writes;
  t.equal(second?.position, (first?.position ?? 0) + (first?.bytes ?? 0), 'batches are consecutive');
  t.equal(third?.position, (second?.position ?? 0) + (second?.bytes ?? 0));
  t.equal(last?.position, 0);
});

t.test('a shard of one batch is one write, header included', async (t) => {
  const handle = new ManualHandle();
  const bytes = seededBytes(300_000, 5);
  const done = writeShardFile(handle as unknown as FileHandle, streamOf(cut(bytes, [65_536])), header, hash);
  await handle.started(1);
  (handle.writes[0] as { done: () => void }).done();
  t.equal(await done, bytes.length);
  t.equal(handle.writes.length, 1);
  t.same({ position: handle.writes[0]?.position, bytes: handle.writes[0]?.bytes }, { position: 0, bytes: SHARD_HEADER_BYTES + bytes.length + 5 * 8 });
});

t.test('a source that fails mid-shard fails the write only after the write in flight settled', async (t) => {
  const handle = new ManualHandle();
  const piece = seededBytes(64 * 1024, 2);
  const broken = new Error('client went away');
  async function* source(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 9; i += 1) yield piece;
    await handle.started(1);
    throw broken;
  }
  let settled = false;
  const done = writeShardFile(handle as unknown as FileHandle, source(), header, hash).finally(() => (settled = true));
  await handle.started(1);
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(settled, 'the caller may not close the file while a write still uses it');
  (handle.writes[0] as { done: () => void }).done();
  await t.rejects(done, broken);
});

/** Counts positional reads that reach the file, and the bytes they ask for. */
function counting(source: PositionalSource): { source: PositionalSource; reads: () => number; askedBytes: () => number } {
  let reads = 0;
  let askedBytes = 0;
  return {
    source: {
      read: (buffer, offset, length, position) => {
        reads += 1;
        askedBytes += length;
        return source.read(buffer, offset, length, position);
      },
    },
    reads: () => reads,
    askedBytes: () => askedBytes,
  };
}

t.test('a whole-shard read fetches the header and the first batch in one read; a ranged one reads only what it needs', async (t) => {
  const bytes = seededBytes(DEFAULT_CHUNK_BYTES * 3 + 500, 4);
  await fileOf('ahead', cut(bytes, [60_000]), hash, DEFAULT_CHUNK_BYTES);
  const handle = await open(join(dir, 'ahead'), 'r');
  t.teardown(() => handle.close());
  const read = async (offset: number, length: number): Promise<{ bytes: Buffer; reads: number }> => {
    const file = counting(handle);
    const { header: parsed, source } = await readShardHeaderAhead(file.source, hash, offset, length, bytes.length);
    const parts: Buffer[] = [];
    for await (const part of readShardRange(source, parsed, offset, length, hash)) parts.push(part);
    return { bytes: Buffer.concat(parts), reads: file.reads() };
  };
  const whole = await read(0, Number.MAX_SAFE_INTEGER);
  t.ok(whole.bytes.equals(bytes));
  t.equal(whole.reads, 1, 'header and data in one read');
  const head = await read(10, 100);
  t.ok(head.bytes.equals(bytes.subarray(10, 110)));
  t.equal(head.reads, 1);
  const tail = await read(DEFAULT_CHUNK_BYTES * 2 + 7, 1000);
  t.ok(tail.bytes.equals(bytes.subarray(DEFAULT_CHUNK_BYTES * 2 + 7, DEFAULT_CHUNK_BYTES * 2 + 1007)));
  t.equal(tail.reads, 2, 'a range further in: the header, then its chunk');
});

t.test('the read ahead of a small shard asks for no more than the shard holds', async (t) => {
  const bytes = seededBytes(4096, 8);
  const image = await fileOf('small', [bytes], hash, DEFAULT_CHUNK_BYTES);
  const handle = await open(join(dir, 'small'), 'r');
  t.teardown(() => handle.close());
  const file = counting(handle);
  const { header: parsed, source } = await readShardHeaderAhead(file.source, hash, 0, Number.MAX_SAFE_INTEGER, bytes.length);
  const parts: Buffer[] = [];
  for await (const part of readShardRange(source, parsed, 0, Number.MAX_SAFE_INTEGER, hash)) parts.push(part);
  t.ok(Buffer.concat(parts).equals(bytes));
  t.same({ reads: file.reads(), askedBytes: file.askedBytes() }, { reads: 1, askedBytes: image.length });
});

t.test('an inline image is read and verified where it lies, without copies', async (t) => {
  const bytes = seededBytes(3000, 6);
  const image = encodeShardImage([bytes], header, hash, 1000);
  const { header: parsed, source } = await readShardHeaderAhead(bufferSource(image), hash, 0, 3000, 3000);
  const parts: Buffer[] = [];
  for await (const part of readShardRange(source, parsed, 0, 3000, hash)) parts.push(part);
  t.ok(Buffer.concat(parts).equals(bytes));
  t.ok(
    parts.every((part) => part.buffer === image.buffer),
    'every yielded chunk is a view of the image',
  );
});

/** Opens a file whose datasync calls are counted, or fail with `failWith` when given. */
async function watchedHandle(name: string, failWith?: Error): Promise<{ handle: FileHandle; syncs: () => number }> {
  const handle = await open(join(dir, name), 'w');
  const datasync = handle.datasync.bind(handle);
  let syncs = 0;
  handle.datasync = async () => {
    syncs += 1;
    if (failWith !== undefined) throw failWith;
    return datasync();
  };
  return { handle, syncs: () => syncs };
}

t.test('a large shard is synced behind its writes as it arrives, and the file is the same', async (t) => {
  const bytes = seededBytes(3 * 1024 * 1024, 11);
  const pieces = cut(bytes, [64 * 1024]);
  const { handle, syncs } = await watchedHandle('write-behind');
  try {
    await writeShardFile(handle, streamOf(pieces), header, hash, DEFAULT_CHUNK_BYTES, { writeBehindBytes: 1024 * 1024 });
  } finally {
    await handle.close();
  }
  // How many depends on the disk (one sync at a time): at least one ran before the write ended.
  t.ok(syncs() >= 1, `background syncs while writing (${syncs()})`);
  t.ok((await readFile(join(dir, 'write-behind'))).equals(encodeShardImage([bytes], header, hash)), 'same bytes as without write-behind');
  const { handle: plain, syncs: plainSyncs } = await watchedHandle('no-write-behind');
  try {
    await writeShardFile(plain, streamOf(pieces), header, hash);
  } finally {
    await plain.close();
  }
  t.equal(plainSyncs(), 0, 'no background sync unless asked (files written with fsync off)');
});

t.test('a write-behind sync that fails fails the shard write, so no later fsync can hide the error', async (t) => {
  const { handle } = await watchedHandle('write-behind-fails', Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
  try {
    await t.rejects(
      writeShardFile(handle, streamOf(cut(seededBytes(3 * 1024 * 1024, 12), [64 * 1024])), header, hash, DEFAULT_CHUNK_BYTES, { writeBehindBytes: 1024 * 1024 }),
      { code: 'EIO' },
    );
  } finally {
    await handle.close();
  }
});

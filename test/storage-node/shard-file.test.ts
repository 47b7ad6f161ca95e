import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { loadBlockHasher } from '../../src/storage-node/index.js';
import {
  bufferSource,
  decodeShardHeader,
  encodeShardImage,
  readShardHeader,
  readShardRange,
  writeShardFile,
  ShardCorruptError,
  SHARD_FORMAT_VERSION,
  SHARD_HEADER_BYTES,
} from '../../src/storage-node/shard-file.js';
import { seededBytes } from '../helpers/bytes.js';

const hash = await loadBlockHasher();
const dir = await mkdtemp(join(tmpdir(), 'tessera-shard-file-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const header = { shardIndex: 3, dataShards: 4, parityShards: 2, blockSizeBytes: 1024, versionId: '0000000000010000abcdef01' };

async function writeShard(name: string, bytes: Buffer, pieces: number, chunkBytes: number): Promise<string> {
  const path = join(dir, name);
  const handle = await open(path, 'w+');
  const step = Math.max(1, Math.ceil(bytes.length / pieces));
  async function* source(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i += step) yield bytes.subarray(i, i + step);
  }
  await writeShardFile(handle, source(), header, hash, chunkBytes);
  await handle.close();
  return path;
}

async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const parsed = await readShardHeader(handle, hash);
    const parts: Buffer[] = [];
    for await (const part of readShardRange(handle, parsed, offset, length, hash)) parts.push(part);
    return Buffer.concat(parts);
  } finally {
    await handle.close();
  }
}

t.test('any byte range of a shard reads back exactly, whatever the write fragmentation', async (t) => {
  for (const size of [0, 1, 99, 100, 101, 1000, 4567]) {
    const bytes = seededBytes(size, size);
    const path = await writeShard(`s${size}`, bytes, 7, 100);
    const handle = await open(path, 'r');
    const parsed = await readShardHeader(handle, hash);
    await handle.close();
    t.same({ ...parsed }, { ...header, chunkBytes: 100, shardSizeBytes: size }, `header of ${size}`);
    for (const [offset, length] of [[0, size], [1, 50], [99, 3], [150, 1000], [size - 1, 1]]) {
      if (offset === undefined || length === undefined || offset < 0 || offset >= size) continue;
      const got = await readRange(path, offset, length);
      t.ok(got.equals(bytes.subarray(offset, offset + length)), `size ${size} range ${offset}+${length}`);
    }
  }
});

t.test('a flipped bit in any chunk fails the read of that chunk and only that chunk', async (t) => {
  const bytes = seededBytes(1000, 5);
  const path = await writeShard('rot', bytes, 3, 100);
  const handle = await open(path, 'r+');
  const position = SHARD_HEADER_BYTES + 3 * 108 + 10; // inside chunk 3 (100 bytes + 8 checksum each)
  const one = Buffer.alloc(1);
  await handle.read(one, 0, 1, position);
  one[0] = (one[0] ?? 0) ^ 0x01;
  await handle.write(one, 0, 1, position);
  await handle.close();
  t.ok((await readRange(path, 0, 300)).equals(bytes.subarray(0, 300)), 'chunks before the damage still read');
  t.ok((await readRange(path, 400, 600)).equals(bytes.subarray(400)), 'chunks after the damage still read');
  await t.rejects(readRange(path, 250, 100), ShardCorruptError, 'the damaged chunk is refused');
});

t.test('a damaged header is detected', async (t) => {
  const path = await writeShard('hdr', seededBytes(10, 1), 1, 100);
  const handle = await open(path, 'r+');
  await handle.write(Buffer.from([0x09]), 0, 1, 7);
  await t.rejects(readShardHeader(handle, hash), ShardCorruptError);
  await handle.close();
});

t.test('the header carries magic, format version, version id, shard index, k, m, block size, chunk size and length', async (t) => {
  const bytes = seededBytes(12_345, 4);
  const path = await writeShard('fields', bytes, 5, 1000);
  const image = await readFile(path);
  t.equal(image.toString('latin1', 0, 4), 'TSHD');
  t.equal(image.readUInt16LE(4), SHARD_FORMAT_VERSION);
  t.same({ ...decodeShardHeader(image, hash) }, { ...header, chunkBytes: 1000, shardSizeBytes: 12_345 });
  t.equal(image.length, SHARD_HEADER_BYTES + 12_345 + 13 * 8, 'one 8-byte xxhash64 per chunk');
});

t.test('an inline image is byte-for-byte the file a shard would have been, and reads through the same verified path', async (t) => {
  for (const size of [0, 1, 999, 1000, 1001, 5000]) {
    const bytes = seededBytes(size, size + 1);
    const path = await writeShard(`img${size}`, bytes, 4, 1000);
    const image = encodeShardImage([bytes.subarray(0, size >> 1), bytes.subarray(size >> 1)], header, hash, 1000);
    t.ok(image.equals(await readFile(path)), `${size} B: same bytes`);
    const source = bufferSource(image);
    const parsed = await readShardHeader(source, hash);
    const parts: Buffer[] = [];
    for await (const part of readShardRange(source, parsed, 0, size, hash)) parts.push(part);
    t.ok(Buffer.concat(parts).equals(bytes), `${size} B: reads back`);
  }
  const image = encodeShardImage([seededBytes(3000, 1)], header, hash, 1000);
  image.writeUInt8(image.readUInt8(SHARD_HEADER_BYTES + 1008 + 3) ^ 0x40, SHARD_HEADER_BYTES + 1008 + 3);
  const parsed = await readShardHeader(bufferSource(image), hash);
  const read = async (): Promise<void> => {
    for await (const _part of readShardRange(bufferSource(image), parsed, 1500, 10, hash)) void _part;
  };
  await t.rejects(read(), ShardCorruptError, 'a damaged inline chunk is refused');
});

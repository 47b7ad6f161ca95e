import { Readable } from 'node:stream';
import { t } from 'tap';
import { ShardCursor } from '../../../src/gateway/data-path/shard-cursor.js';
import { seededBytes } from '../../helpers/bytes.js';

// Exact-size reads from a shard stream: pieces are views of what arrived, a short or silent stream rejects.

function streamOf(chunks: Buffer[]): Readable {
  return Readable.from(chunks, { objectMode: false });
}

t.test('blocks come back as views of the arriving chunks, split at block edges, never joined', async (t) => {
  const bytes = seededBytes(10_000, 1);
  const chunks = [bytes.subarray(0, 3000), bytes.subarray(3000, 3001), bytes.subarray(3001, 9000), bytes.subarray(9000)];
  const cursor = new ShardCursor(0, streamOf(chunks), 60_000);
  const blocks: Uint8Array[][] = [];
  for (let i = 0; i < 4; i += 1) blocks.push(await cursor.read(2500));
  t.same(blocks.map((pieces) => pieces.map((p) => p.length)), [[2500], [500, 1, 1999], [2500], [1500, 1000]]);
  t.ok(Buffer.concat(blocks.flat()).equals(bytes), 'in order, every byte');
  t.ok(blocks.flat().every((piece) => piece.buffer === bytes.buffer), 'no copies');
  cursor.close();
});

t.test('a stream that ends short rejects the read', async (t) => {
  const cursor = new ShardCursor(3, streamOf([Buffer.alloc(100)]), 60_000);
  await t.rejects(cursor.read(150), /shard 3 ended 50 bytes short/);
});

t.test('a silent stream rejects after the stall timeout; later reads reject at once', async (t) => {
  const silent = new Readable({ read() {} });
  silent.push(Buffer.alloc(10));
  const cursor = new ShardCursor(2, silent, 50);
  t.equal((await cursor.read(10)).length, 1, 'what arrived is read');
  await t.rejects(cursor.read(10), /shard 2 stalled/);
  t.ok(silent.destroyed, 'the stalled response is released');
  await t.rejects(cursor.read(1), /stalled/);
});

t.test('a stream that errors rejects the pending read; close rejects one too', async (t) => {
  const failing = new Readable({ read() {} });
  const cursor = new ShardCursor(1, failing, 60_000);
  const reading = cursor.read(10);
  failing.destroy(new Error('connection reset'));
  await t.rejects(reading, /connection reset/);

  const idle = new Readable({ read() {} });
  const closing = new ShardCursor(4, idle, 60_000);
  const pending = closing.read(10);
  closing.close();
  await t.rejects(pending, /read closed/);
});

import fc from 'fast-check';
import t from 'tap';
import { blockBytesOf, createCodec, encodedStripeBytes, ERASURE_ERROR_CODES, ErasureError, fullStripeBytes, join, objectLayout, split,
  stripeBlocks, stripeBlockSizeBytes, stripeDataBytes, stripeObjectOffsetBytes, stripeShardOffsetBytes, stripesForRange } from '../../src/erasure/index.js';

t.test('objectLayout of an empty object has no stripes', (t) => {
  const layout = objectLayout(0, 4, 1024);
  t.same(layout, { objectSizeBytes: 0, dataShards: 4, blockSizeBytes: 1024, stripeCount: 0, lastStripeBytes: 0,
    lastBlockSizeBytes: 0, shardSizeBytes: 0 });
  t.end();
});

t.test('objectLayout with a short last stripe', (t) => {
  // 2 full stripes of 4 KiB and 1001 bytes more: the last block is ceil(1001 / 4) = 251 bytes.
  const layout = objectLayout(2 * 4096 + 1001, 4, 1024);
  t.equal(layout.stripeCount, 3);
  t.equal(layout.lastStripeBytes, 1001);
  t.equal(layout.lastBlockSizeBytes, 251);
  t.equal(layout.shardSizeBytes, 2 * 1024 + 251);
  t.equal(stripeBlockSizeBytes(layout, 0), 1024);
  t.equal(stripeBlockSizeBytes(layout, 2), 251);
  t.equal(stripeDataBytes(layout, 1), 4096);
  t.equal(stripeDataBytes(layout, 2), 1001);
  t.equal(stripeObjectOffsetBytes(layout, 2), 8192);
  t.equal(stripeShardOffsetBytes(layout, 2), 2048);
  t.throws(() => stripeBlockSizeBytes(layout, 3), { code: 'InvalidLayout' });
  t.end();
});

t.test('objectLayout with an exact multiple has a full last stripe', (t) => {
  const layout = objectLayout(3 * 8 * 100, 8, 100);
  t.equal(layout.stripeCount, 3);
  t.equal(layout.lastStripeBytes, 800);
  t.equal(layout.lastBlockSizeBytes, 100);
  t.equal(layout.shardSizeBytes, 300);
  t.end();
});

t.test('objectLayout handles 5 TiB objects without 32-bit overflow', (t) => {
  const size = 5 * 2 ** 40;
  const layout = objectLayout(size, 10, 1 << 20);
  t.equal(layout.stripeCount, Math.ceil(size / (10 * 2 ** 20)));
  t.equal((layout.stripeCount - 1) * 10 * 2 ** 20 + layout.lastStripeBytes, size);
  const range = stripesForRange(layout, size - 1, 1);
  t.equal(range.lastStripe, layout.stripeCount - 1);
  t.end();
});

t.test('objectLayout rejects bad arguments', (t) => {
  t.throws(() => objectLayout(-1, 4, 1024), ErasureError);
  t.throws(() => objectLayout(1.5, 4, 1024), { code: 'InvalidLayout' });
  t.throws(() => objectLayout(10, 0, 1024), { code: 'InvalidLayout' });
  t.throws(() => objectLayout(10, 4, 0), { code: 'InvalidLayout' });
  t.end();
});

t.test('stripesForRange maps byte ranges to stripes', (t) => {
  const layout = objectLayout(10_000, 4, 1000); // stripes of 4000 bytes: 0..3999, 4000..7999, 8000..9999
  t.same(stripesForRange(layout, 0, 1), { firstStripe: 0, lastStripe: 0, firstStripeSkipBytes: 0 });
  t.same(stripesForRange(layout, 3999, 2), { firstStripe: 0, lastStripe: 1, firstStripeSkipBytes: 3999 });
  t.same(stripesForRange(layout, 4000, 6000), { firstStripe: 1, lastStripe: 2, firstStripeSkipBytes: 0 });
  t.same(stripesForRange(layout, 9999, 1), { firstStripe: 2, lastStripe: 2, firstStripeSkipBytes: 1999 });
  t.throws(() => stripesForRange(layout, 9999, 2), { code: 'InvalidLayout' });
  t.throws(() => stripesForRange(layout, 0, 0), { code: 'InvalidLayout' });
  t.end();
});

t.test('split pads the last shard and join drops the padding', (t) => {
  const data = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
  const shards = split(data, 4);
  t.same(shards.map((s) => [...s]), [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 0, 0]]);
  t.ok(shards.every((s) => s.byteOffset % 8 === 0), 'shards start on 8-byte boundaries');
  t.same([...join(shards, 10)], [...data]);
  t.same([...join(shards, 4)], [1, 2, 3, 4]);
  t.throws(() => join(shards, 13), { code: 'InvalidLayout' });
  data[0] = 99;
  t.equal(shards[0]?.[0], 1, 'split copies');
  t.same(split(new Uint8Array(0), 3).map((s) => s.length), [0, 0, 0]);
  t.end();
});

t.test('layout arithmetic is consistent for any size, k and block', (t) => {
  fc.assert(fc.property(
    fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 5 * 2 ** 40 })),
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 1, max: 4 * 1024 * 1024 }),
    fc.nat(), fc.nat(),
    (size, k, block, a, b) => {
      const layout = objectLayout(size, k, block);
      if (size === 0) return layout.stripeCount === 0 && layout.shardSizeBytes === 0;
      const last = layout.stripeCount - 1;
      const total = last * k * block + stripeDataBytes(layout, last);
      const shard = last * block + stripeBlockSizeBytes(layout, last);
      if (total !== size || shard !== layout.shardSizeBytes) return false;
      if (stripeBlockSizeBytes(layout, last) * k < layout.lastStripeBytes) return false;
      const offset = a % size;
      const length = 1 + (b % (size - offset));
      const range = stripesForRange(layout, offset, length);
      const first = stripeObjectOffsetBytes(layout, range.firstStripe);
      const lastStart = stripeObjectOffsetBytes(layout, range.lastStripe);
      return first <= offset && offset < first + stripeDataBytes(layout, range.firstStripe) &&
        range.firstStripeSkipBytes === offset - first &&
        lastStart <= offset + length - 1 && offset + length - 1 < lastStart + stripeDataBytes(layout, range.lastStripe);
    }), { numRuns: 500 });
  t.end();
});

t.test('a stripe being written: its block and allocation sizes', (t) => {
  t.equal(fullStripeBytes(4, 1024), 4096);
  t.equal(blockBytesOf(4096, 4), 1024);
  // A short stripe: 1001 bytes over 4 blocks of 251, the last one padded by 3.
  t.equal(blockBytesOf(1001, 4), 251);
  t.equal(blockBytesOf(0, 4), 0);
  t.equal(encodedStripeBytes(1001, 4, 2), 6 * 251);
  t.equal(encodedStripeBytes(4096, 4, 2), 6 * 1024);
  t.throws(() => fullStripeBytes(0, 1024), { code: 'InvalidLayout' });
  t.throws(() => blockBytesOf(-1, 4), { code: 'InvalidLayout' });
  t.throws(() => encodedStripeBytes(10, 4, -1), { code: 'InvalidLayout' });
  t.end();
});

t.test('stripeBlocks lays k data then m parity blocks over one allocation, padding zeroed', (t) => {
  const buffer = new Uint8Array(encodedStripeBytes(10, 4, 2)).fill(0xee);
  buffer.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const blocks = stripeBlocks(buffer, 10, 4, 2);
  t.equal(blocks.length, 6);
  t.same(blocks.map((block) => block.length), [3, 3, 3, 3, 3, 3]);
  t.same([...blocks[3] as Uint8Array], [10, 0, 0]);
  // Views, not copies: encoding them fills the parity in the allocation itself.
  t.equal((blocks[5] as Uint8Array).buffer, buffer.buffer);
  t.equal((blocks[5] as Uint8Array).byteOffset, 15);
  // The layout a reader joins: the data blocks in order are the stripe's bytes, then zeros.
  createCodec({ dataShards: 4, parityShards: 2, kernel: 'portable' }).encode(blocks);
  t.same([...join(blocks.slice(0, 4), 10)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.same(blocks.slice(0, 4).map((b) => [...b]), split(buffer.subarray(0, 10), 4).map((b) => [...b]));
  t.throws(() => stripeBlocks(new Uint8Array(17), 10, 4, 2), { code: 'InvalidLayout' });
  t.end();
});

t.test('every error code has a rule', (t) => {
  for (const [code, rule] of Object.entries(ERASURE_ERROR_CODES)) {
    t.ok(rule.length > 10, code);
    t.equal(new ErasureError(code as keyof typeof ERASURE_ERROR_CODES, 'x').code, code);
  }
  t.end();
});

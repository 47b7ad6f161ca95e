import fc from 'fast-check';
import { t } from 'tap';
import xxhash from 'xxhash-wasm';
import { RingLocator, buildRing, placementHash, placementHashHex } from '../../src/placement/index.js';
import { cluster } from './clusters.js';

const reference = await xxhash();
const encoder = new TextEncoder();
const text = fc.string({ unit: fc.oneof(fc.constant('\ud83d'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 300 });

t.test('placementHash is xxhash64 over the length-prefixed bucket and key', (t) => {
  fc.assert(
    fc.property(text, text, (bucket, key) => {
      const b = encoder.encode(bucket);
      const k = encoder.encode(key);
      const bytes = new Uint8Array(4 + b.length + k.length);
      new DataView(bytes.buffer).setUint32(0, b.length, true);
      bytes.set(b, 4);
      bytes.set(k, 4 + b.length);
      return placementHash(bucket, key) === reference.h64Raw(bytes, 0n);
    }),
    { numRuns: 2000 },
  );
  t.end();
});

t.test('every ring partition is the top partitionBits of placementHash', (t) => {
  for (const bits of [0, 1, 7, 10, 16]) {
    const ring = new RingLocator(buildRing(null, cluster(8, 2), { replicas: 6, partitionBits: bits, seed: 3 }));
    fc.assert(
      fc.property(text, text, (bucket, key) => {
        const expected = bits === 0 ? 0 : Number(placementHash(bucket, key) >> BigInt(64 - bits));
        return ring.partitionOf(bucket, key) === expected;
      }),
      { numRuns: 500 },
    );
  }
  t.end();
});

t.test('the hex form is fixed-width, so its text order is the numeric order partitions are ranges of', (t) => {
  fc.assert(
    fc.property(text, text, text, text, (b1, k1, b2, k2) => {
      const [h1, h2] = [placementHashHex(b1, k1), placementHashHex(b2, k2)];
      const numeric = placementHash(b1, k1) < placementHash(b2, k2);
      return h1.length === 16 && h2.length === 16 && numeric === h1 < h2 && /^[0-9a-f]{16}$/.test(h1);
    }),
    { numRuns: 1000 },
  );
  t.end();
});

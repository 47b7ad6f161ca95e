import { t } from 'tap';
import xxhash from 'xxhash-wasm';
import { RingLocator, buildRing, partitionHashRange, placementHash } from '../../src/placement/index.js';
import { cluster } from './clusters.js';

/**
 * The gateway places a key with RingLocator.partitionOf; a node files it under placementHash and walks
 * partitions as ranges of that hash. If the two ever framed bucket/key differently, a node's scrub and
 * rebalance would look for keys in partitions the gateway never put them in.
 */
const reference = await xxhash();
const encoder = new TextEncoder();

/** u32le(utf8 length of bucket) || utf8(bucket) || utf8(key), built here without the code under test. */
function framing(bucket: string, key: string): Uint8Array {
  const b = encoder.encode(bucket);
  const k = encoder.encode(key);
  const bytes = new Uint8Array(4 + b.length + k.length);
  new DataView(bytes.buffer).setUint32(0, b.length, true);
  bytes.set(b, 4);
  bytes.set(k, 4 + b.length);
  return bytes;
}

const AWKWARD: readonly (readonly [string, string])[] = [
  ['', ''],
  ['b', ''],
  ['', 'k'],
  ['b', ' '],
  ['b', '\u0000'],
  ['b', '/'],
  ['b', '//'],
  ['b', '/leading'],
  ['b', 'trailing/'],
  ['b', 'a/b/c'],
  ['b/a', 'c'],
  ['b', 'a/c'],
  ['b', 'κλειδί/ключ/鍵'],
  ['b', 'e\u0301'],
  ['b', '\u00e9'],
  ['b', '😀/🪣'],
  ['b', '\ud83d'],
  ['b', 'x\udc00y'],
  ['b', 'x'.repeat(1024)],
  ['b', 'é'.repeat(512)],
  ['b', '€'.repeat(341) + 'x'],
  ['b', '😀'.repeat(256)],
  ['bucket-name-of-sixty-three-characters-long-for-the-limit-of-s3x', 'y'.repeat(1024)],
];

t.test('the bytes placement hashes are the documented framing, for awkward keys', async (t) => {
  for (const [bucket, key] of AWKWARD) {
    t.equal(placementHash(bucket, key), reference.h64Raw(framing(bucket, key), 0n), JSON.stringify([bucket, key.slice(0, 20)]));
  }
  t.equal(encoder.encode('é'.repeat(512)).length, 1024, 'a key of 1,024 UTF-8 bytes is among them');
  t.not(placementHash('b/a', 'c'), placementHash('b', 'a/c'), 'a slash moved across the bucket boundary is another key');
});

t.test('the locator and the hash agree on every awkward key, for any partition bits', async (t) => {
  for (const bits of [0, 1, 7, 10, 16]) {
    const locator = new RingLocator(buildRing(null, cluster(8, 2), { replicas: 6, partitionBits: bits, seed: 5 }));
    const disagree: string[] = [];
    // Long keys first, then short: a locator reuses (and grows) one scratch buffer across lookups.
    for (const [bucket, key] of [...AWKWARD].reverse().concat(AWKWARD)) {
      const expected = bits === 0 ? 0 : Number(placementHash(bucket, key) >> BigInt(64 - bits));
      if (locator.partitionOf(bucket, key) !== expected) disagree.push(JSON.stringify([bucket, key.slice(0, 20)]));
      if (locator.locate(bucket, key).partition !== expected) disagree.push(`locate ${JSON.stringify([bucket, key.slice(0, 20)])}`);
    }
    t.same(disagree, [], `${bits} bits`);
  }
});

t.test("a key's placement hash lies in the hash range a node walks for the locator's partition", async (t) => {
  for (const bits of [0, 1, 7, 16]) {
    const locator = new RingLocator(buildRing(null, cluster(8, 2), { replicas: 6, partitionBits: bits, seed: 5 }));
    const outside: string[] = [];
    for (const [bucket, key] of AWKWARD) {
      const hash = placementHash(bucket, key);
      const { from, to } = partitionHashRange(locator.partitionOf(bucket, key), bits);
      if (hash < from || hash >= to) outside.push(JSON.stringify([bucket, key.slice(0, 20)]));
    }
    t.same(outside, [], `${bits} bits`);
    const last = partitionHashRange(2 ** bits - 1, bits);
    t.equal(last.to, 1n << 64n, `${bits} bits: the last partition ends where the hash does`);
    t.equal(partitionHashRange(0, bits).from, 0n);
  }
});

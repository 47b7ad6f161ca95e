import fc from 'fast-check';
import t from 'tap';
import { createCodec } from '../../src/erasure/index.js';
import { kernelVariants, sameBytes } from './support/kernels.js';

// Shapes and lengths chosen to hit the kernels' edges: lengths that are not multiples of 4, 16 or 64, zero, and
// more parity rows than the SIMD kernel keeps in registers at once.
const shape = fc.record({
  k: fc.integer({ min: 1, max: 20 }),
  m: fc.integer({ min: 0, max: 8 }),
  length: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 5000 })),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
});

function stripeFor(k: number, m: number, length: number, seed: number): Uint8Array[] {
  let x = seed;
  const next = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 24;
  };
  return Array.from({ length: k + m }, (_, i) => (i < k ? Uint8Array.from({ length }, next) : new Uint8Array(length)));
}

const variants = kernelVariants();
const runs = { numRuns: 150 };

t.test('every kernel agrees with portable byte for byte', (t) => {
  fc.assert(fc.property(shape, ({ k, m, length, seed }) => {
    const reference = stripeFor(k, m, length, seed);
    createCodec({ dataShards: k, parityShards: m, kernel: 'portable' }).encode(reference);
    for (const variant of variants) {
      const shards = stripeFor(k, m, length, seed);
      variant.create(k, m).encode(shards);
      if (!shards.every((s, i) => sameBytes(s, reference[i]))) return false;
    }
    return true;
  }), runs);
  t.end();
});

for (const variant of variants) {
  t.test(`${variant.label}: any erasure of up to m shards reconstructs exactly`, (t) => {
    fc.assert(fc.property(shape, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), fc.boolean(),
      ({ k, m, length, seed }, picks, dataOnly, inPlace) => {
      const codec = variant.create(k, m);
      const shards = stripeFor(k, m, length, seed);
      codec.encode(shards);
      const lost = new Set(picks.slice(0, m).map((p) => p % (k + m)));
      // Lost shards are either null or garbage-filled arrays listed in rebuildInPlace.
      const damaged = shards.map((s, i) => (lost.has(i) ? (inPlace ? new Uint8Array(length).fill(0xa5) : null) : s));
      codec.reconstruct(damaged, inPlace ? { dataOnly, rebuildInPlace: [...lost] } : { dataOnly });
      return damaged.every((s, i) => {
        if (!(dataOnly && i >= k && lost.has(i))) return sameBytes(s, shards[i]);
        return inPlace ? s !== null && s.every((b) => b === 0xa5) : s === null;
      });
    }), runs);
    t.end();
  });

  t.test(`${variant.label}: more than m missing throws TooFewShards`, (t) => {
    fc.assert(fc.property(shape, fc.integer({ min: 1, max: 8 }), ({ k, m, length, seed }, extra) => {
      const codec = variant.create(k, m);
      const shards = stripeFor(k, m, length, seed);
      codec.encode(shards);
      const missing = Math.min(k + m, m + extra);
      const damaged = shards.map((s, i) => ((i + seed) % (k + m) < missing ? null : s));
      try {
        codec.reconstruct(damaged);
        return false;
      } catch (err) {
        return (err as { code?: string }).code === 'TooFewShards';
      }
    }), runs);
    t.end();
  });

  t.test(`${variant.label}: a corrupted byte makes verify false`, (t) => {
    fc.assert(fc.property(shape.filter((s) => s.m > 0 && s.length > 0), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }),
      ({ k, m, length, seed }, shardPick, bytePick, flip) => {
        const codec = variant.create(k, m);
        const shards = stripeFor(k, m, length, seed);
        codec.encode(shards);
        if (!codec.verify(shards)) return false;
        const shard = shards[shardPick % (k + m)] as Uint8Array;
        const at = bytePick % length;
        shard[at] = (shard[at] as number) ^ flip;
        return !codec.verify(shards);
      }), runs);
    t.end();
  });
}

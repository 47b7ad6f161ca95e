import t from 'tap';
import { createCodec, ErasureError } from '../../src/erasure/index.js';
import { kernelVariants, randomStripe, sameBytes } from './support/kernels.js';

const portable = (k: number, m: number) => createCodec({ dataShards: k, parityShards: m, kernel: 'portable' });

for (const variant of kernelVariants()) {
  t.test(`${variant.label}: allocateShards gives zeroed shards that encode, verify and reconstruct in place`, (t) => {
    // Lengths below, at and off the SIMD step, so both the in-place bulk and the copied tail run.
    for (const [k, m, length] of [[8, 4, 1 << 20], [4, 2, 64 * 1024 + 33], [10, 4, 1000], [5, 7, 17], [3, 1, 0],
      [20, 10, 4096 + 5]] as const) {
      const codec = variant.create(k, m);
      const shards = codec.allocateShards(length);
      t.equal(shards.length, k + m);
      t.ok(shards.every((s) => s.length === length && s.every((b) => b === 0)), `${k}+${m}: zeroed`);
      const expected = randomStripe(k, m, length, k * 31 + m);
      for (let i = 0; i < k; i++) (shards[i] as Uint8Array).set(expected[i] as Uint8Array);
      portable(k, m).encode(expected);
      codec.encode(shards);
      t.ok(shards.every((s, i) => sameBytes(s, expected[i])), `${k}+${m}x${length}: encode agrees with portable`);
      t.ok(codec.verify(shards), 'verify');
      if (length > 0) {
        const parity = shards[k] as Uint8Array;
        parity[length - 1] = (parity[length - 1] as number) ^ 1;
        t.notOk(codec.verify(shards), 'verify sees a flipped last parity byte');
        parity[length - 1] = (parity[length - 1] as number) ^ 1;
      }
      // Uneven sources (0 kept, 1 lost, ...) and in-place targets inside the allocated area.
      const lost = [1, k - 1, k].slice(0, m);
      for (const i of lost) (shards[i] as Uint8Array).fill(0xa5);
      codec.reconstruct(shards, { rebuildInPlace: lost });
      t.ok(shards.every((s, i) => sameBytes(s, expected[i])), `${k}+${m}: reconstruct in place`);
    }
    t.end();
  });

  t.test(`${variant.label}: a second allocateShards replaces the first; plain arrays still work`, (t) => {
    const codec = variant.create(6, 3);
    codec.allocateShards(1000);
    const shards = codec.allocateShards(300_000);
    const expected = randomStripe(6, 3, 300_000, 3);
    for (let i = 0; i < 6; i++) (shards[i] as Uint8Array).set(expected[i] as Uint8Array);
    portable(6, 3).encode(expected);
    const plain = randomStripe(6, 3, 300_000, 3);
    codec.encode(plain);
    codec.encode(shards);
    t.ok(shards.every((s, i) => sameBytes(s, expected[i])), 'allocated');
    t.ok(plain.every((s, i) => sameBytes(s, expected[i])), 'plain arrays');
    // Mixed: allocated data shards, plain parity arrays.
    const mixed = [...shards.slice(0, 6), ...Array.from({ length: 3 }, () => new Uint8Array(300_000))];
    codec.encode(mixed);
    t.ok(mixed.every((s, i) => sameBytes(s, expected[i])), 'mixed');
    t.end();
  });
}

t.test('allocateShards rejects a bad size', (t) => {
  const codec = createCodec({ dataShards: 2, parityShards: 1 });
  t.throws(() => codec.allocateShards(-1), ErasureError);
  t.throws(() => codec.allocateShards(1.5), ErasureError);
  t.end();
});

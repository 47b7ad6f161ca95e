import t from 'tap';
import { createCodec, ErasureError } from '../../src/erasure/index.js';
import { kernelVariants, randomStripe, sameBytes } from './support/kernels.js';

for (const variant of kernelVariants()) {
  t.test(`${variant.label}: Backblaze JavaReedSolomon 5+5 vector`, (t) => {
    // From Backblaze's ReedSolomonTest.testOneEncode: same field and matrix, so the same parity.
    const codec = variant.create(5, 5);
    const shards = [[0, 1], [4, 5], [2, 3], [6, 7], [8, 9]].map((s) => Uint8Array.from(s));
    for (let i = 0; i < 5; i++) shards.push(new Uint8Array(2));
    codec.encode(shards);
    t.same(shards.slice(5).map((s) => [...s]), [[12, 13], [10, 11], [14, 15], [90, 91], [94, 95]]);
    t.ok(codec.verify(shards));
    (shards[8] as Uint8Array)[0] = 91;
    t.notOk(codec.verify(shards));
    t.end();
  });

  t.test(`${variant.label}: shape and kernel are reported`, (t) => {
    const codec = variant.create(10, 4);
    t.equal(codec.dataShards, 10);
    t.equal(codec.parityShards, 4);
    t.equal(codec.totalShards, 14);
    t.equal(codec.kernel, variant.label === 'portable' ? 'portable' : 'wasm-simd');
    t.equal(codec.relaxedSimd, variant.label === 'wasm-simd-relaxed');
    t.end();
  });

  t.test(`${variant.label}: reconstruct rebuilds missing data and parity, dataOnly leaves parity null`, (t) => {
    const codec = variant.create(6, 3);
    const shards = randomStripe(6, 3, 1000, 7);
    codec.encode(shards);
    const damaged: (Uint8Array | null)[] = [...shards];
    damaged[1] = null;
    damaged[7] = null;
    const dataOnly = codec.reconstruct([...damaged], { dataOnly: true });
    t.ok(sameBytes(dataOnly[1], shards[1]));
    t.equal(dataOnly[7], null);
    const full = codec.reconstruct(damaged);
    t.equal(full, damaged, 'returns the array it was given');
    full.forEach((shard, i) => t.ok(sameBytes(shard, shards[i]), `shard ${i}`));
    t.end();
  });

  t.test(`${variant.label}: rebuildInPlace overwrites untrusted shards in their own arrays`, (t) => {
    const codec = variant.create(6, 3);
    const shards = randomStripe(6, 3, 999, 11);
    codec.encode(shards);
    const damaged = shards.map((s) => Uint8Array.from(s));
    const [two, eight] = [damaged[2] as Uint8Array, damaged[8] as Uint8Array];
    two.fill(0xee);
    eight.fill(0x11);
    codec.reconstruct(damaged, { dataOnly: true, rebuildInPlace: [2, 8] });
    t.equal(damaged[2], two, 'same array object');
    t.ok(sameBytes(two, shards[2]), 'data rebuilt');
    t.ok(eight.every((b) => b === 0x11), 'dataOnly leaves listed parity alone');
    const withNull: (Uint8Array | null)[] = [...damaged];
    withNull[0] = null;
    codec.reconstruct(withNull, { rebuildInPlace: [8] });
    t.equal(withNull[8], eight);
    t.ok(withNull.every((s, i) => sameBytes(s, shards[i])), 'null and in-place together');
    const short: (Uint8Array | null)[] = [...shards];
    short[1] = new Uint8Array(5);
    t.throws(() => codec.reconstruct(short, { rebuildInPlace: [1] }), { code: 'ShardSizeMismatch' });
    t.end();
  });

  t.test(`${variant.label}: reconstruct with nothing missing is a no-op`, (t) => {
    const codec = variant.create(3, 2);
    const shards = randomStripe(3, 2, 10, 1);
    const before = [...shards];
    t.equal(codec.reconstruct(shards), shards);
    t.ok(shards.every((s, i) => s === before[i]));
    t.end();
  });

  t.test(`${variant.label}: typed errors name the rule broken`, (t) => {
    const codec = variant.create(4, 2);
    const shards = randomStripe(4, 2, 16, 3);
    codec.encode(shards);
    t.throws(() => codec.encode(shards.slice(0, 5)), { code: 'ShardCountMismatch' });
    t.throws(() => codec.reconstruct([null, null, null, shards[3] ?? null, shards[4] ?? null, shards[5] ?? null]),
      { code: 'TooFewShards' });
    const uneven: (Uint8Array | null)[] = [...shards];
    uneven[2] = new Uint8Array(15);
    uneven[0] = null;
    t.throws(() => codec.reconstruct(uneven), { code: 'ShardSizeMismatch' });
    t.throws(() => codec.verify([...shards.slice(0, 5), new Uint8Array(17)]), { code: 'ShardSizeMismatch' });
    try {
      codec.reconstruct([null, null, null, null, shards[4] ?? null, shards[5] ?? null]);
      t.fail('should throw');
    } catch (err) {
      t.ok(err instanceof ErasureError);
      t.equal((err as ErasureError).code, 'TooFewShards');
      t.match((err as Error).message, /2 of 6 present, 4 needed/);
    }
    t.end();
  });

  t.test(`${variant.label}: zero-length shards`, (t) => {
    const codec = variant.create(4, 2);
    const shards = randomStripe(4, 2, 0, 1);
    codec.encode(shards);
    t.ok(codec.verify(shards));
    const rebuilt = codec.reconstruct([null, shards[1] ?? null, null, shards[3] ?? null, shards[4] ?? null, shards[5] ?? null]);
    t.same(rebuilt.map((s) => s.length), [0, 0, 0, 0, 0, 0]);
    t.end();
  });

  t.test(`${variant.label}: unaligned views and odd lengths`, (t) => {
    const codec = variant.create(5, 3);
    const backing = new Uint8Array(8 * 1003 + 3);
    const shards = Array.from({ length: 8 }, (_, i) => backing.subarray(1 + i * 1003, 1 + i * 1003 + 1001));
    randomStripe(5, 0, 1001, 9).forEach((s, i) => shards[i]?.set(s));
    codec.encode(shards);
    t.ok(codec.verify(shards));
    const reference = createCodec({ dataShards: 5, parityShards: 3, kernel: 'portable' });
    const copy = shards.map((s) => Uint8Array.from(s));
    reference.encode(copy);
    t.ok(copy.every((s, i) => sameBytes(s, shards[i])), 'agrees with portable on aligned copies');
    t.end();
  });

  t.test(`${variant.label}: large shards cross the kernel's slice boundaries`, (t) => {
    const codec = variant.create(10, 4);
    const size = 1024 * 1024 + 13;
    const shards = randomStripe(10, 4, size, 5);
    codec.encode(shards);
    const reference = createCodec({ dataShards: 10, parityShards: 4, kernel: 'portable' });
    const expected = shards.map((s, i) => (i < 10 ? s : new Uint8Array(size)));
    reference.encode(expected);
    t.ok(shards.every((s, i) => sameBytes(s, expected[i])), 'parity agrees with portable');
    const damaged: (Uint8Array | null)[] = [...shards];
    for (const i of [0, 3, 9, 12]) damaged[i] = null;
    codec.reconstruct(damaged);
    t.ok(damaged.every((s, i) => sameBytes(s, shards[i])), 'reconstructs 4 lost shards');
    t.end();
  });

  t.test(`${variant.label}: more parity rows than the kernel keeps in registers, and extreme shapes`, (t) => {
    for (const [k, m] of [[3, 7], [1, 5], [1, 0], [16, 0], [200, 56], [128, 128], [255, 1], [1, 255]] as const) {
      const codec = variant.create(k, m);
      const shards = randomStripe(k, m, 45, k * 1000 + m);
      codec.encode(shards);
      t.ok(codec.verify(shards), `${k}+${m} verifies`);
      const damaged: (Uint8Array | null)[] = [...shards];
      for (let i = 0; i < Math.min(m, k); i++) damaged[(i * 7) % (k + m)] = null;
      codec.reconstruct(damaged);
      t.ok(damaged.every((s, i) => sameBytes(s, shards[i])), `${k}+${m} reconstructs`);
    }
    t.end();
  });

  t.test(`${variant.label}: decode matrices are cached per erasure pattern and stay correct`, (t) => {
    const codec = variant.create(8, 4);
    for (let round = 0; round < 3; round++) {
      for (const lost of [[0, 1], [2, 9], [0, 1]]) {
        const shards = randomStripe(8, 4, 64 + round, round + 1);
        codec.encode(shards);
        const damaged: (Uint8Array | null)[] = shards.map((s, i) => (lost.includes(i) ? null : s));
        codec.reconstruct(damaged);
        t.ok(damaged.every((s, i) => sameBytes(s, shards[i])), `round ${round} lost ${lost.join(',')}`);
      }
    }
    t.end();
  });
}

t.test('codec parameters are validated', (t) => {
  for (const [k, m] of [[0, 1], [1, -1], [200, 57], [1.5, 1], [Number.NaN, 2]] as const) {
    t.throws(() => createCodec({ dataShards: k, parityShards: m }), { code: 'InvalidCodecParameters' }, `${k}+${m}`);
  }
  t.end();
});

t.test('auto picks the fastest kernel that validates', (t) => {
  const codec = createCodec({ dataShards: 4, parityShards: 2 });
  const kernels = kernelVariants().map((v) => v.label);
  t.equal(codec.kernel, kernels.includes('wasm-simd') ? 'wasm-simd' : 'portable');
  t.end();
});

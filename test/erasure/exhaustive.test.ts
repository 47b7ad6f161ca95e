import t from 'tap';
import { kernelVariants, randomStripe, sameBytes } from './support/kernels.js';

function* subsetsUpTo(n: number, maxSize: number, start = 0, prefix: number[] = []): Generator<number[]> {
  yield prefix;
  if (prefix.length === maxSize) return;
  for (let i = start; i < n; i++) yield* subsetsUpTo(n, maxSize, i + 1, [...prefix, i]);
}

for (const variant of kernelVariants()) {
  for (const [k, m] of [[4, 2], [8, 4]] as const) {
    t.test(`${variant.label}: every erasure pattern of up to ${m} shards in ${k}+${m} reconstructs`, (t) => {
      const codec = variant.create(k, m);
      // 77 bytes: a SIMD bulk plus a tail, so both paths see every pattern.
      const shards = randomStripe(k, m, 77, k * 10 + m);
      codec.encode(shards);
      let patterns = 0;
      let failures = 0;
      for (const lost of subsetsUpTo(k + m, m)) {
        const damaged = shards.map((s, i) => (lost.includes(i) ? null : s));
        codec.reconstruct(damaged);
        if (!damaged.every((s, i) => sameBytes(s, shards[i]))) {
          failures++;
          t.fail(`pattern ${lost.join(',')}`);
        }
        patterns++;
      }
      const expected = k === 4 ? 1 + 6 + 15 : 1 + 12 + 66 + 220 + 495;
      t.equal(patterns, expected, 'patterns tried');
      t.equal(failures, 0);
      t.end();
    });
  }
}

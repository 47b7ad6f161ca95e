import t from 'tap';
import { createCodec, type Codec } from '../../src/erasure/index.js';
import { kernelVariants, randomStripe, sameBytes } from './support/kernels.js';

// Lengths around the SIMD step (16 or 32 bytes), word and vector tails, and one that crosses several of the SIMD
// kernel's copy slices with a ragged tail.
const LENGTHS = [1, 3, 15, 16, 17, 31, 33, 63, 65, 1023, 4099, 300_007];

interface Pattern {
  readonly name: string;
  /** Shards that are null. */
  readonly lost: (k: number, m: number) => number[];
  readonly dataOnly: boolean;
}

const PATTERNS: Pattern[] = [
  // The gateway's degraded read: k shards read (data first, then parity), two data shards among them failed.
  { name: 'gateway: 2 data lost, unread parity null, dataOnly', lost: (k, m) => [0, 1, ...range(k + 2, k + m)], dataOnly: true },
  { name: 'first data shard lost', lost: () => [0], dataOnly: false },
  { name: 'data and parity lost', lost: (k, m) => [1, k - 1, k + m - 1].slice(0, m), dataOnly: false },
  { name: 'parity only lost', lost: (k, m) => range(k, k + m), dataOnly: false },
  { name: 'm shards lost, spread', lost: (k, m) => range(0, m).map((i) => (i * 5 + 2) % (k + m)), dataOnly: false },
  { name: 'm data shards lost, dataOnly', lost: (k, m) => range(k - Math.min(k, m), k), dataOnly: true },
];

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function damaged(shards: readonly Uint8Array[], lost: readonly number[]): (Uint8Array | null)[] {
  return shards.map((shard, i) => (lost.includes(i) ? null : shard));
}

const portableCodecs = new Map<string, Codec>();
function portable(k: number, m: number): Codec {
  const key = `${k}+${m}`;
  let codec = portableCodecs.get(key);
  if (codec === undefined) {
    codec = createCodec({ dataShards: k, parityShards: m, kernel: 'portable' });
    portableCodecs.set(key, codec);
  }
  return codec;
}

for (const variant of kernelVariants()) {
  t.test(`${variant.label}: reconstruct is byte-identical to portable for every shape, pattern and length`, (t) => {
    let cases = 0;
    for (const [k, m] of [[4, 2], [5, 5], [6, 3], [8, 4], [10, 4], [12, 4]] as const) {
      const codec = variant.create(k, m);
      for (const length of LENGTHS) {
        const shards = randomStripe(k, m, length, k * 100 + m + length);
        portable(k, m).encode(shards);
        for (const pattern of PATTERNS) {
          const lost = [...new Set(pattern.lost(k, m))];
          const expected = portable(k, m).reconstruct(damaged(shards, lost), { dataOnly: pattern.dataOnly });
          const actual = codec.reconstruct(damaged(shards, lost), { dataOnly: pattern.dataOnly });
          const ok = actual.every((shard, i) => (shard === null ? expected[i] === null : sameBytes(shard, expected[i]))) &&
            actual.every((shard, i) => shard === null || sameBytes(shard, shards[i]));
          if (!ok) t.fail(`${k}+${m}, ${length} bytes, ${pattern.name} (lost ${lost.join(',')})`);
          cases++;
        }
      }
    }
    t.equal(cases, 6 * LENGTHS.length * PATTERNS.length, 'cases compared');
    t.end();
  });

  t.test(`${variant.label}: two loss patterns alternating on one codec keep giving the right shards`, (t) => {
    const codec = variant.create(8, 4);
    const shards = randomStripe(8, 4, 4099, 77);
    portable(8, 4).encode(shards);
    const patterns = [[0, 1, 10, 11], [2, 9]];
    for (let round = 0; round < 6; round++) {
      const lost = patterns[round % 2] as number[];
      const dataOnly = round % 4 < 2;
      const expected = portable(8, 4).reconstruct(damaged(shards, lost), { dataOnly });
      const actual = codec.reconstruct(damaged(shards, lost), { dataOnly });
      t.ok(actual.every((shard, i) => (shard === null ? expected[i] === null : sameBytes(shard, expected[i]))),
        `round ${round}: lost ${lost.join(',')}${dataOnly ? ', dataOnly' : ''}`);
    }
    t.end();
  });
}

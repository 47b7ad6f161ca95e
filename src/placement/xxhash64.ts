// xxhash64 in 32-bit halves. BigInt would be simpler but allocates on every operation and runs
// an order of magnitude slower; placement lookups hash on every request, synchronously, with no
// async WebAssembly initialisation, so the arithmetic is spelled out on pairs of uint32 words.

// The five xxhash64 primes as [high, low] words.
const P1_HI = 0x9e3779b1;
const P1_LO = 0x85ebca87;
const P2_HI = 0xc2b2ae3d;
const P2_LO = 0x27d4eb4f;
const P3_HI = 0x165667b1;
const P3_LO = 0x9e3779f9;
const P4_HI = 0x85ebca77;
const P4_LO = 0xc2b2ae63;
const P5_HI = 0x27d4eb2f;
const P5_LO = 0x165667c5;

// Register file layout: each 64-bit value is [high, low] at an even index.
const V1 = 0;
const V2 = 2;
const V3 = 4;
const V4 = 6;
const H = 8;
const K = 10;
const SEED = 12;
const REGISTERS = 14;

const TWO_POW_32 = 4294967296;

/** r[i] *= (bh:bl) mod 2^64. */
function mul(r: Uint32Array, i: number, bh: number, bl: number): void {
  const ah = r[i]!;
  const al = r[i + 1]!;
  // The high word of al*bl needs the exact 64-bit product; 16-bit limbs keep every partial
  // product below 2^32 so doubles hold them exactly.
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carryHi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  // Uint32Array stores reduce mod 2^32, and every sum here is an exact integer below 2^53.
  r[i] = carryHi + Math.imul(ah, bl) + Math.imul(al, bh);
  r[i + 1] = Math.imul(al, bl);
}

/** r[i] += (bh:bl) mod 2^64. */
function addConst(r: Uint32Array, i: number, bh: number, bl: number): void {
  const lo = r[i + 1]! + bl;
  r[i + 1] = lo;
  r[i] = r[i]! + bh + (lo >= TWO_POW_32 ? 1 : 0);
}

/** r[i] += r[j] mod 2^64. */
function addReg(r: Uint32Array, i: number, j: number): void {
  addConst(r, i, r[j]!, r[j + 1]!);
}

/** r[i] = rotl(r[i], n) for 0 < n < 32. */
function rotl(r: Uint32Array, i: number, n: number): void {
  const hi = r[i]!;
  const lo = r[i + 1]!;
  r[i] = (hi << n) | (lo >>> (32 - n));
  r[i + 1] = (lo << n) | (hi >>> (32 - n));
}

/** r[i] = round(r[i], (hi:lo)): the xxhash64 accumulator step. */
function round(r: Uint32Array, i: number, hi: number, lo: number): void {
  r[K] = hi;
  r[K + 1] = lo;
  mul(r, K, P2_HI, P2_LO);
  addReg(r, i, K);
  rotl(r, i, 31);
  mul(r, i, P1_HI, P1_LO);
}

/** h = (h ^ round(0, r[v])) * P1 + P4. */
function mergeRound(r: Uint32Array, v: number): void {
  r[K] = r[v]!;
  r[K + 1] = r[v + 1]!;
  mul(r, K, P2_HI, P2_LO);
  rotl(r, K, 31);
  mul(r, K, P1_HI, P1_LO);
  r[H] = r[H]! ^ r[K]!;
  r[H + 1] = r[H + 1]! ^ r[K + 1]!;
  mul(r, H, P1_HI, P1_LO);
  addConst(r, H, P4_HI, P4_LO);
}

function readU32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/**
 * A reusable xxhash64 state: hash bytes without allocating; read the 64-bit result as two words.
 * Not reentrant, which is fine for synchronous single-threaded callers that own the instance.
 */
export class XxHash64 {
  private readonly r = new Uint32Array(REGISTERS);

  /** `seed` is the 64-bit xxhash seed; the default 0 matches the reference implementation's default. */
  constructor(seed: bigint = 0n) {
    const s = BigInt.asUintN(64, seed);
    this.r[SEED] = Number(s >> 32n);
    this.r[SEED + 1] = Number(s & 0xffffffffn);
  }

  /** Hashes `input[0, length)` and returns the high 32 bits of the digest (the low half is in `low`). */
  hash(input: Uint8Array, length: number = input.length): number {
    const r = this.r;
    const seedHi = r[SEED]!;
    const seedLo = r[SEED + 1]!;
    let p = 0;
    if (length >= 32) {
      r[V1] = seedHi;
      r[V1 + 1] = seedLo;
      addConst(r, V1, P1_HI, P1_LO);
      addConst(r, V1, P2_HI, P2_LO);
      r[V2] = seedHi;
      r[V2 + 1] = seedLo;
      addConst(r, V2, P2_HI, P2_LO);
      r[V3] = seedHi;
      r[V3 + 1] = seedLo;
      r[V4] = seedHi;
      r[V4 + 1] = seedLo;
      // seed - P1 == seed + (2^64 - P1)
      addConst(r, V4, 0x61c8864e, 0x7a143579);
      const limit = length - 32;
      while (p <= limit) {
        round(r, V1, readU32(input, p + 4), readU32(input, p));
        round(r, V2, readU32(input, p + 12), readU32(input, p + 8));
        round(r, V3, readU32(input, p + 20), readU32(input, p + 16));
        round(r, V4, readU32(input, p + 28), readU32(input, p + 24));
        p += 32;
      }
      r[H] = r[V1]!;
      r[H + 1] = r[V1 + 1]!;
      rotl(r, H, 1);
      r[K] = r[V2]!;
      r[K + 1] = r[V2 + 1]!;
      rotl(r, K, 7);
      addReg(r, H, K);
      r[K] = r[V3]!;
      r[K + 1] = r[V3 + 1]!;
      rotl(r, K, 12);
      addReg(r, H, K);
      r[K] = r[V4]!;
      r[K + 1] = r[V4 + 1]!;
      rotl(r, K, 18);
      addReg(r, H, K);
      mergeRound(r, V1);
      mergeRound(r, V2);
      mergeRound(r, V3);
      mergeRound(r, V4);
    } else {
      r[H] = seedHi;
      r[H + 1] = seedLo;
      addConst(r, H, P5_HI, P5_LO);
    }
    // Lengths beyond 2^32 cannot occur for a Uint8Array hashed here, so the high word of the length is 0.
    addConst(r, H, 0, length >>> 0);
    while (p + 8 <= length) {
      r[K] = readU32(input, p + 4);
      r[K + 1] = readU32(input, p);
      mul(r, K, P2_HI, P2_LO);
      rotl(r, K, 31);
      mul(r, K, P1_HI, P1_LO);
      r[H] = r[H]! ^ r[K]!;
      r[H + 1] = r[H + 1]! ^ r[K + 1]!;
      rotl(r, H, 27);
      mul(r, H, P1_HI, P1_LO);
      addConst(r, H, P4_HI, P4_LO);
      p += 8;
    }
    if (p + 4 <= length) {
      r[K] = 0;
      r[K + 1] = readU32(input, p);
      mul(r, K, P1_HI, P1_LO);
      r[H] = r[H]! ^ r[K]!;
      r[H + 1] = r[H + 1]! ^ r[K + 1]!;
      rotl(r, H, 23);
      mul(r, H, P2_HI, P2_LO);
      addConst(r, H, P3_HI, P3_LO);
      p += 4;
    }
    while (p < length) {
      r[K] = 0;
      r[K + 1] = input[p]!;
      mul(r, K, P5_HI, P5_LO);
      r[H] = r[H]! ^ r[K]!;
      r[H + 1] = r[H + 1]! ^ r[K + 1]!;
      rotl(r, H, 11);
      mul(r, H, P1_HI, P1_LO);
      p += 1;
    }
    // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
    r[H + 1] = r[H + 1]! ^ (r[H]! >>> 1);
    mul(r, H, P2_HI, P2_LO);
    r[H + 1] = r[H + 1]! ^ ((r[H + 1]! >>> 29) | (r[H]! << 3));
    r[H] = r[H]! ^ (r[H]! >>> 29);
    mul(r, H, P3_HI, P3_LO);
    r[H + 1] = r[H + 1]! ^ r[H]!;
    return r[H]!;
  }

  /** The low 32 bits of the last digest. */
  get low(): number {
    return this.r[H + 1]!;
  }

  /** The last digest as a BigInt, for callers that want the whole value and can afford the allocation. */
  get digest(): bigint {
    return (BigInt(this.r[H]!) << 32n) | BigInt(this.r[H + 1]!);
  }
}

/** One-shot xxhash64 of `input` as an unsigned 64-bit BigInt; allocates, so hot paths keep an XxHash64. */
export function xxhash64(input: Uint8Array, seed: bigint = 0n): bigint {
  const hasher = new XxHash64(seed);
  hasher.hash(input);
  return hasher.digest;
}

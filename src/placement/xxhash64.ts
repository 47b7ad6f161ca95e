// xxhash64 in 32-bit halves. BigInt would be simpler but allocates on every operation and runs
// an order of magnitude slower; placement lookups hash on every request, synchronously, with no
// async WebAssembly initialisation, so the arithmetic is spelled out on pairs of uint32 words.
// Each step works on locals and touches the state array only to load and store its result:
// that keeps the values in registers, which is what makes this fast enough (see the bench).

// The five xxhash64 primes as high and low words.
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

// State layout: lanes v1..v4 then the accumulator h, each as [high, low].
const H = 8;

/** High word of (ah:al) * (bh:bl) mod 2^64; the low word is Math.imul(al, bl). */
function mulHi(ah: number, al: number, bh: number, bl: number): number {
  // The high word of al*bl needs the exact 64-bit product; 16-bit limbs keep every partial
  // product below 2^32 so doubles hold them exactly.
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  // Every term is an exact integer and the sum stays below 2^53, so >>> 0 reduces it mod 2^32.
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** Lane i = rotl(lane + input * P2, 31) * P1: the xxhash64 round. */
function round(s: Uint32Array, i: number, inHi: number, inLo: number): void {
  const kh = mulHi(inHi, inLo, P2_HI, P2_LO);
  const kl = Math.imul(inLo, P2_LO) >>> 0;
  const al = (s[i + 1]! + kl) >>> 0;
  const ah = (s[i]! + kh + (al < kl ? 1 : 0)) >>> 0;
  const rh = ((ah << 31) | (al >>> 1)) >>> 0;
  const rl = ((al << 31) | (ah >>> 1)) >>> 0;
  s[i] = mulHi(rh, rl, P1_HI, P1_LO);
  s[i + 1] = Math.imul(rl, P1_LO);
}

/** h = (h ^ round(0, input)) rotated by `rotate`, times P1, plus P4: the merge and 8-byte tail step. */
function mixIn(s: Uint32Array, inHi: number, inLo: number, rotate: number): void {
  const kh0 = mulHi(inHi, inLo, P2_HI, P2_LO);
  const kl0 = Math.imul(inLo, P2_LO) >>> 0;
  const rh = ((kh0 << 31) | (kl0 >>> 1)) >>> 0;
  const rl = ((kl0 << 31) | (kh0 >>> 1)) >>> 0;
  let hh = (s[H]! ^ mulHi(rh, rl, P1_HI, P1_LO)) >>> 0;
  let hl = (s[H + 1]! ^ Math.imul(rl, P1_LO)) >>> 0;
  if (rotate > 0) {
    const th = ((hh << rotate) | (hl >>> (32 - rotate))) >>> 0;
    hl = ((hl << rotate) | (hh >>> (32 - rotate))) >>> 0;
    hh = th;
  }
  const mh = mulHi(hh, hl, P1_HI, P1_LO);
  const ml = Math.imul(hl, P1_LO) >>> 0;
  const sl = (ml + P4_LO) >>> 0;
  s[H] = mh + P4_HI + (sl < ml ? 1 : 0);
  s[H + 1] = sl;
}

/** h += rotl(lane i, n). */
function addRotated(s: Uint32Array, i: number, n: number): void {
  const vh = s[i]!;
  const vl = s[i + 1]!;
  const rh = ((vh << n) | (vl >>> (32 - n))) >>> 0;
  const rl = ((vl << n) | (vh >>> (32 - n))) >>> 0;
  const sl = (s[H + 1]! + rl) >>> 0;
  s[H] = s[H]! + rh + (sl < rl ? 1 : 0);
  s[H + 1] = sl;
}

function readU32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/**
 * A reusable xxhash64 state: hash bytes without allocating; read the 64-bit result as two words.
 * Not reentrant, which is fine for synchronous single-threaded callers that own the instance.
 */
export class XxHash64 {
  private readonly s = new Uint32Array(10);
  private readonly seedHi: number;
  private readonly seedLo: number;
  private highWord = 0;
  private lowWord = 0;

  /** `seed` is the 64-bit xxhash seed; the default 0 matches the reference implementation's default. */
  constructor(seed: bigint = 0n) {
    const s = BigInt.asUintN(64, seed);
    this.seedHi = Number(s >> 32n);
    this.seedLo = Number(s & 0xffffffffn);
  }

  /** Hashes `input[0, length)` and returns the high 32 bits of the digest (the low half is in `low`). */
  hash(input: Uint8Array, length: number = input.length): number {
    const s = this.s;
    const seedHi = this.seedHi;
    const seedLo = this.seedLo;
    let p = 0;
    if (length >= 32) {
      // v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1 (mod 2^64).
      let lo = (seedLo + 0xadc0b5d6) >>> 0;
      s[0] = seedHi + 0x60ea27ee + (lo < seedLo ? 1 : 0);
      s[1] = lo;
      lo = (seedLo + P2_LO) >>> 0;
      s[2] = seedHi + P2_HI + (lo < seedLo ? 1 : 0);
      s[3] = lo;
      s[4] = seedHi;
      s[5] = seedLo;
      lo = (seedLo + 0x7a143579) >>> 0;
      s[6] = seedHi + 0x61c8864e + (lo < seedLo ? 1 : 0);
      s[7] = lo;
      const limit = length - 32;
      do {
        round(s, 0, readU32(input, p + 4), readU32(input, p));
        round(s, 2, readU32(input, p + 12), readU32(input, p + 8));
        round(s, 4, readU32(input, p + 20), readU32(input, p + 16));
        round(s, 6, readU32(input, p + 28), readU32(input, p + 24));
        p += 32;
      } while (p <= limit);
      s[H] = 0;
      s[H + 1] = 0;
      addRotated(s, 0, 1);
      addRotated(s, 2, 7);
      addRotated(s, 4, 12);
      addRotated(s, 6, 18);
      mixIn(s, s[0]!, s[1]!, 0);
      mixIn(s, s[2]!, s[3]!, 0);
      mixIn(s, s[4]!, s[5]!, 0);
      mixIn(s, s[6]!, s[7]!, 0);
    } else {
      const lo = (seedLo + P5_LO) >>> 0;
      s[H] = seedHi + P5_HI + (lo < seedLo ? 1 : 0);
      s[H + 1] = lo;
    }
    // A Uint8Array hashed here is shorter than 2^32 bytes, so the length's high word is 0.
    let hl = (s[H + 1]! + length) >>> 0;
    let hh = (s[H]! + (hl < length ? 1 : 0)) >>> 0;
    s[H] = hh;
    s[H + 1] = hl;
    for (; p + 8 <= length; p += 8) mixIn(s, readU32(input, p + 4), readU32(input, p), 27);
    hh = s[H]!;
    hl = s[H + 1]!;
    if (p + 4 <= length) {
      const k = readU32(input, p);
      hh = (hh ^ mulHi(0, k, P1_HI, P1_LO)) >>> 0;
      hl = (hl ^ Math.imul(k, P1_LO)) >>> 0;
      const th = ((hh << 23) | (hl >>> 9)) >>> 0;
      const tl = ((hl << 23) | (hh >>> 9)) >>> 0;
      const ml = Math.imul(tl, P2_LO) >>> 0;
      hl = (ml + P3_LO) >>> 0;
      hh = (mulHi(th, tl, P2_HI, P2_LO) + P3_HI + (hl < ml ? 1 : 0)) >>> 0;
      p += 4;
    }
    for (; p < length; p++) {
      const k = input[p]!;
      hh = (hh ^ mulHi(0, k, P5_HI, P5_LO)) >>> 0;
      hl = (hl ^ Math.imul(k, P5_LO)) >>> 0;
      const th = ((hh << 11) | (hl >>> 21)) >>> 0;
      const tl = ((hl << 11) | (hh >>> 21)) >>> 0;
      hh = mulHi(th, tl, P1_HI, P1_LO);
      hl = Math.imul(tl, P1_LO) >>> 0;
    }
    // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
    hl = (hl ^ (hh >>> 1)) >>> 0;
    let th = mulHi(hh, hl, P2_HI, P2_LO);
    hl = Math.imul(hl, P2_LO) >>> 0;
    hh = th;
    hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0;
    hh = (hh ^ (hh >>> 29)) >>> 0;
    th = mulHi(hh, hl, P3_HI, P3_LO);
    hl = Math.imul(hl, P3_LO) >>> 0;
    hh = th;
    this.highWord = hh;
    this.lowWord = (hl ^ hh) >>> 0;
    return hh;
  }

  /** The low 32 bits of the last digest. */
  get low(): number {
    return this.lowWord;
  }

  /** The last digest as a BigInt, for callers that want the whole value and can afford the allocation. */
  get digest(): bigint {
    return (BigInt(this.highWord) << 32n) | BigInt(this.lowWord);
  }
}

/** One-shot xxhash64 of `input` as an unsigned 64-bit BigInt; allocates, so hot paths keep an XxHash64. */
export function xxhash64(input: Uint8Array, seed: bigint = 0n): bigint {
  const hasher = new XxHash64(seed);
  hasher.hash(input);
  return hasher.digest;
}

import { CRC32C_POLYNOMIAL, CRC32_POLYNOMIAL } from './crc32.js';
import { CRC64_NVME_POLYNOMIAL } from './crc64-nvme.js';

/** The CRC algorithms whose values can be combined across parts (S3's FULL_OBJECT multipart checksums). */
export type CrcAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME';

interface CrcSpec {
  topBit: bigint;
  poly: bigint;
  /** x2n[k] = x^(2^k) mod p, reflected; 64 entries cover any byte length below 2^53. */
  x2n: bigint[];
}

function spec(width: number, poly: bigint): CrcSpec {
  const topBit = 1n << BigInt(width - 1);
  const s: CrcSpec = { topBit, poly, x2n: [] };
  let p = topBit >> 1n; // x^1
  for (let k = 0; k < 64; k++) {
    s.x2n.push(p);
    p = multModP(s, p, p);
  }
  return s;
}

const SPECS: Readonly<Record<CrcAlgorithm, CrcSpec>> = {
  CRC32: spec(32, BigInt(CRC32_POLYNOMIAL)),
  CRC32C: spec(32, BigInt(CRC32C_POLYNOMIAL)),
  CRC64NVME: spec(64, CRC64_NVME_POLYNOMIAL),
};

// Polynomial product modulo p in reflected bit order (zlib's multmodp); `a` must be non-zero.
function multModP(s: CrcSpec, a: bigint, b: bigint): bigint {
  let m = s.topBit;
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ s.poly : b >> 1n;
  }
  return p;
}

/** CRC of A‖B from CRC(A), CRC(B) and B's length, without the bytes (zlib's crc32_combine, for any of the three CRCs). */
export function combineCrc(algorithm: CrcAlgorithm, crcA: bigint, crcB: bigint, lengthB: number): bigint {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`invalid length ${lengthB}`);
  const s = SPECS[algorithm];
  // x^(8 * lengthB) mod p, by squaring: start at k = 3 because each byte is 2^3 bits.
  let xn = s.topBit;
  let k = 3;
  for (let n = BigInt(lengthB); n > 0n; n >>= 1n, k++) {
    if (n & 1n) xn = multModP(s, s.x2n[k]!, xn);
  }
  return multModP(s, xn, crcA) ^ crcB;
}

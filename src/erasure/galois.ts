/**
 * Arithmetic in GF(2^8) with the reducing polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d) and generator 2 —
 * the field Backblaze's JavaReedSolomon and klauspost/reedsolomon use, so parity stays byte-compatible.
 * Tables are computed once at module load and never written afterwards.
 */

/** The field's reducing polynomial, including the x^8 term. */
export const FIELD_POLYNOMIAL = 0x11d;

function buildExpLog(): { exp: Uint8Array; log: Uint8Array } {
  // exp is doubled so exp[log a + log b] needs no modulo in the hot paths.
  const exp = new Uint8Array(512);
  const log = new Uint8Array(256);
  let x = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= FIELD_POLYNOMIAL;
  }
  for (let i = 255; i < 512; i++) exp[i] = exp[i - 255] as number;
  return { exp, log };
}

const { exp: EXP, log: LOG } = buildExpLog();

/** Product of two field elements. */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[(LOG[a] as number) + (LOG[b] as number)] as number;
}

/** Quotient a / b; b must not be 0. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('division by zero in GF(2^8)');
  if (a === 0) return 0;
  return EXP[(LOG[a] as number) + 255 - (LOG[b] as number)] as number;
}

/** a raised to the n-th power, with 0^0 = 1 as the Vandermonde construction expects. */
export function gfPow(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return EXP[((LOG[a] as number) * n) % 255] as number;
}

function buildMulTable(): Uint8Array {
  const table = new Uint8Array(256 * 256);
  for (let a = 1; a < 256; a++) {
    for (let b = 1; b < 256; b++) table[a * 256 + b] = gfMul(a, b);
  }
  return table;
}

/** Full multiplication table: MUL_TABLE[c * 256 + x] = c·x; row c is the lookup table for coefficient c. */
export const MUL_TABLE: Uint8Array = buildMulTable();

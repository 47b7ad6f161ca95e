/**
 * A deliberately naive Reed-Solomon written independently of src/erasure (bitwise field multiply, brute-force
 * inverses, its own elimination), used to generate and cross-check the known-answer vectors.
 */

/** Shift-and-add multiply in GF(2^8) mod 0x11d. */
export function naiveMul(a: number, b: number): number {
  let product = 0;
  let x = a;
  let y = b;
  while (y > 0) {
    if (y & 1) product ^= x;
    y >>= 1;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  return product;
}

/** Inverse by exhaustive search. */
export function naiveInverse(a: number): number {
  for (let b = 1; b < 256; b++) if (naiveMul(a, b) === 1) return b;
  throw new Error('0 has no inverse');
}

function naivePow(a: number, n: number): number {
  let out = 1;
  for (let i = 0; i < n; i++) out = naiveMul(out, a);
  return out;
}

type Rows = number[][];

function matMul(a: Rows, b: Rows): Rows {
  return a.map((row) => (b[0] ?? []).map((_, c) => row.reduce((acc, v, i) => acc ^ naiveMul(v, b[i]?.[c] ?? 0), 0)));
}

function matInverse(m: Rows): Rows {
  const n = m.length;
  const a = m.map((row, r) => [...row, ...Array.from({ length: n }, (_, c) => (c === r ? 1 : 0))]);
  for (let col = 0; col < n; col++) {
    const pivot = a.findIndex((row, r) => r >= col && row[col] !== 0);
    if (pivot < 0) throw new Error('singular');
    [a[col], a[pivot]] = [a[pivot] as number[], a[col] as number[]];
    const pivotRow = a[col] as number[];
    const inv = naiveInverse(pivotRow[col] as number);
    for (let c = 0; c < 2 * n; c++) pivotRow[c] = naiveMul(pivotRow[c] as number, inv);
    a.forEach((row, r) => {
      const f = row[col] as number;
      if (r === col || f === 0) return;
      for (let c = 0; c < 2 * n; c++) row[c] = (row[c] as number) ^ naiveMul(f, pivotRow[c] as number);
    });
  }
  return a.map((row) => row.slice(n));
}

/** Systematic Vandermonde encoding matrix (rows = k + m, cols = k), built the textbook way. */
export function naiveEncodeMatrix(k: number, m: number): Rows {
  const v = Array.from({ length: k + m }, (_, r) => Array.from({ length: k }, (_, c) => naivePow(r, c)));
  return matMul(v, matInverse(v.slice(0, k)));
}

/** Parity shards for the given data shards. */
export function naiveEncode(data: readonly Uint8Array[], m: number): Uint8Array[] {
  const k = data.length;
  const matrix = naiveEncodeMatrix(k, m);
  const length = data[0]?.length ?? 0;
  return Array.from({ length: m }, (_, r) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      let acc = 0;
      for (let j = 0; j < k; j++) acc ^= naiveMul(matrix[k + r]?.[j] as number, data[j]?.[i] as number);
      out[i] = acc;
    }
    return out;
  });
}

/** Deterministic data shards for known-answer vectors: easy to regenerate in any language. */
export function vectorData(k: number, shardBytes: number): Uint8Array[] {
  return Array.from({ length: k }, (_, j) => Uint8Array.from({ length: shardBytes }, (_, i) => (i * 31 + j * 7 + 1) & 0xff));
}

/** Lower-case hex. */
export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

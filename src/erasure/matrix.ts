import { gfDiv, gfMul, gfPow } from './galois.js';

/** A dense row-major matrix over GF(2^8). */
export interface GfMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Uint8Array;
}

/** A zero matrix of the given shape. */
export function zeroMatrix(rows: number, cols: number): GfMatrix {
  return { rows, cols, data: new Uint8Array(rows * cols) };
}

/** The rows × cols Vandermonde matrix v[r][c] = r^c. */
export function vandermonde(rows: number, cols: number): GfMatrix {
  const m = zeroMatrix(rows, cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) m.data[r * cols + c] = gfPow(r, c);
  }
  return m;
}

/** Product a × b. */
export function multiply(a: GfMatrix, b: GfMatrix): GfMatrix {
  if (a.cols !== b.rows) throw new RangeError(`cannot multiply ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const out = zeroMatrix(a.rows, b.cols);
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < b.cols; c++) {
      let acc = 0;
      for (let i = 0; i < a.cols; i++) acc ^= gfMul(a.data[r * a.cols + i] as number, b.data[i * b.cols + c] as number);
      out.data[r * b.cols + c] = acc;
    }
  }
  return out;
}

/** The matrix made of the listed rows of m, in that order. */
export function selectRows(m: GfMatrix, rowIndexes: readonly number[]): GfMatrix {
  const out = zeroMatrix(rowIndexes.length, m.cols);
  rowIndexes.forEach((row, i) => out.data.set(m.data.subarray(row * m.cols, (row + 1) * m.cols), i * m.cols));
  return out;
}

/** Inverse of a square matrix by Gauss-Jordan elimination; throws RangeError when singular. */
export function invert(m: GfMatrix): GfMatrix {
  const n = m.rows;
  if (m.cols !== n) throw new RangeError('only square matrices can be inverted');
  // Work on [m | I] with rows of width 2n.
  const w = 2 * n;
  const work = new Uint8Array(n * w);
  for (let r = 0; r < n; r++) {
    work.set(m.data.subarray(r * n, (r + 1) * n), r * w);
    work[r * w + n + r] = 1;
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && work[pivot * w + col] === 0) pivot++;
    if (pivot === n) throw new RangeError('matrix is singular');
    if (pivot !== col) {
      const tmp = work.slice(pivot * w, (pivot + 1) * w);
      work.copyWithin(pivot * w, col * w, (col + 1) * w);
      work.set(tmp, col * w);
    }
    const scale = gfDiv(1, work[col * w + col] as number);
    for (let c = 0; c < w; c++) work[col * w + c] = gfMul(work[col * w + c] as number, scale);
    for (let r = 0; r < n; r++) {
      const factor = work[r * w + col] as number;
      if (r === col || factor === 0) continue;
      for (let c = 0; c < w; c++) work[r * w + c] = (work[r * w + c] as number) ^ gfMul(factor, work[col * w + c] as number);
    }
  }
  const out = zeroMatrix(n, n);
  for (let r = 0; r < n; r++) out.data.set(work.subarray(r * w + n, (r + 1) * w), r * n);
  return out;
}

/**
 * The (k+m) × k systematic encoding matrix of Backblaze/klauspost: a Vandermonde matrix over the points 0..k+m-1,
 * times the inverse of its top k × k block. The top becomes the identity (data shards are stored verbatim) and,
 * because every k rows of a Vandermonde matrix with distinct points are independent, every k rows stay invertible.
 */
export function systematicEncodeMatrix(dataShards: number, totalShards: number): GfMatrix {
  const v = vandermonde(totalShards, dataShards);
  const top = selectRows(v, Array.from({ length: dataShards }, (_, i) => i));
  return multiply(v, invert(top));
}

import { setFlagsFromString } from 'node:v8';
import t from 'tap';
import { detectKernelSupport } from '../../src/erasure/index.js';
import { portableMultiply } from '../../src/erasure/kernels/portable.js';
import { createWasmSimdKernel, hasPairedBlocks, hasQuadBlocks } from '../../src/erasure/kernels/wasm-simd.js';
import { builtKernelModule } from '../../src/erasure/kernels/wasm/kernel-modules.js';
import { systematicEncodeMatrix } from '../../src/erasure/matrix.js';
import { pseudoRandomBytes, sameBytes } from './support/kernels.js';

// As in relaxed-simd.test.ts: on Node 20 turn relaxed SIMD on so both modules are covered.
if (!detectKernelSupport().relaxedSimd) {
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // Not a V8 that knows the flag: only the standard module is tested.
  }
}
const support = detectKernelSupport();
const modules = support.simd ? [false, ...(support.relaxedSimd ? [true] : [])] : [];

// A k × m matrix of random [[a, b], [b, a]] blocks (k, m even).
function randomPairedMatrix(k: number, m: number, seed: number): Uint8Array {
  const random = pseudoRandomBytes(k * m, seed);
  const out = new Uint8Array(k * m);
  for (let r = 0; r < m; r += 2) {
    for (let j = 0; j < k; j += 2) {
      const [a, b] = [random[r * k + j] as number, random[r * k + j + 1] as number];
      out[r * k + j] = a;
      out[r * k + j + 1] = b;
      out[(r + 1) * k + j] = b;
      out[(r + 1) * k + j + 1] = a;
    }
  }
  return out;
}

// A k × m matrix of random 4 × 4 blocks with entry (r, c) = g[r XOR c] (k, m multiples of 4).
function randomQuadMatrix(k: number, m: number, seed: number): Uint8Array {
  const random = pseudoRandomBytes(k * m, seed);
  const out = new Uint8Array(k * m);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < k; j++) out[r * k + j] = random[(r & ~3) * k + (j & ~3) + ((r ^ j) & 3)] as number;
  }
  return out;
}

t.test('systematic Vandermonde parity rows have paired blocks exactly when k and m are even', (t) => {
  for (let k = 1; k <= 16; k++) {
    for (let m = 1; m <= 8; m++) {
      const rows = systematicEncodeMatrix(k, k + m).data.slice(k * k);
      t.equal(hasPairedBlocks(rows, k, m), k % 2 === 0 && m % 2 === 0, `${k}+${m}`);
    }
  }
  const rows = systematicEncodeMatrix(8, 12).data.slice(64);
  rows[5] = (rows[5] as number) ^ 1;
  t.notOk(hasPairedBlocks(rows, 8, 4), 'one changed coefficient breaks the pattern');
  t.end();
});

t.test('systematic Vandermonde parity rows have XOR-symmetric 4 × 4 blocks exactly when 4 divides k and m', (t) => {
  for (let k = 1; k <= 24; k++) {
    for (let m = 1; m <= 12; m++) {
      if (k + m > 256) continue;
      const rows = systematicEncodeMatrix(k, k + m).data.slice(k * k);
      t.equal(hasQuadBlocks(rows, k, m), k % 4 === 0 && m % 4 === 0, `${k}+${m}`);
    }
  }
  const rows = systematicEncodeMatrix(8, 12).data.slice(64);
  rows[31] = (rows[31] as number) ^ 0x80;
  t.notOk(hasQuadBlocks(rows, 8, 4), 'one changed coefficient breaks the pattern');
  t.ok(hasPairedBlocks(randomQuadMatrix(8, 4, 1), 8, 4), 'quad blocks are also paired blocks');
  t.end();
});

for (const relaxed of modules) {
  const label = relaxed ? 'wasm-simd-relaxed' : 'wasm-simd';
  t.test(`${label}: quad, paired and unstructured matrices agree with portable, copied and in place`, (t) => {
    const module = builtKernelModule(relaxed);
    t.ok(module.maxRowPairs > 0 && module.quads, 'the module has pair and quad functions');
    for (const [k, m] of [[2, 2], [4, 2], [4, 4], [8, 4], [10, 4], [6, 6], [12, 8], [20, 10], [16, 4]] as const) {
      for (const length of [1, 15, 16, 33, 4096 + 17, 300_001]) {
        const matrices: [string, Uint8Array][] = [
          ['paired', randomPairedMatrix(k, m, k * 100 + m)],
          ['random', pseudoRandomBytes(k * m, k + m + length)],
        ];
        if (k % 4 === 0 && m % 4 === 0) matrices.push(['quad', randomQuadMatrix(k, m, k * 1000 + m)]);
        for (const [kind, coefficients] of matrices) {
          const inputs = Array.from({ length: k }, (_, j) => pseudoRandomBytes(length, j + 1 + length));
          const expected = Array.from({ length: m }, () => new Uint8Array(length));
          portableMultiply(coefficients, inputs, expected);
          const copied = Array.from({ length: m }, () => new Uint8Array(length));
          createWasmSimdKernel(module).multiply(coefficients, inputs, copied);
          const kernel = createWasmSimdKernel(module);
          const placed = (kernel.allocate as NonNullable<typeof kernel.allocate>)(k + m, length, k, m);
          inputs.forEach((input, j) => (placed[j] as Uint8Array).set(input));
          kernel.multiply(coefficients, placed.slice(0, k), placed.slice(k));
          const what = `${k}x${m} ${kind} matrix, ${length} bytes`;
          t.ok(copied.every((o, r) => sameBytes(o, expected[r])), `${what}: copied`);
          t.ok(placed.slice(k).every((o, r) => sameBytes(o, expected[r])), `${what}: in place`);
        }
      }
    }
    t.end();
  });
}

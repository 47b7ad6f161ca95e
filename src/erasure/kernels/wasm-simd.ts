import { MUL_TABLE } from '../galois.js';
import type { GfKernel } from './kernel.js';
import { wasmEngine, type WasmMemory } from '../../common/index.js';

/** A compiled kernel module and the shape it was generated with. */
export interface WasmKernelModule {
  readonly bytes: Uint8Array;
  readonly relaxed: boolean;
  /** Functions mul1..mulN exist for N = maxOutputs. */
  readonly maxOutputs: number;
  /** Functions pairs1..pairsQ exist for Q = maxRowPairs (0: none). */
  readonly maxRowPairs: number;
  /** Function quads exists. */
  readonly quads: boolean;
  /** Every function accepts lengths that are multiples of this. */
  readonly stepBytes: number;
}

/** Tuning of the copy-in / compute / copy-out loop. */
export interface WasmSimdKernelOptions {
  /** Bytes of all input and output slices together per step; small enough to stay in L2. */
  readonly sliceBudgetBytes?: number;
}

// 16 bytes of c·x for x = 0..15, then 16 of c·(x << 4), for every coefficient c.
function buildNibbleTables(): Uint8Array {
  const tables = new Uint8Array(256 * 32);
  for (let c = 0; c < 256; c++) {
    for (let x = 0; x < 16; x++) {
      tables[c * 32 + x] = MUL_TABLE[c * 256 + x] as number;
      tables[c * 32 + 16 + x] = MUL_TABLE[c * 256 + (x << 4)] as number;
    }
  }
  return tables;
}

const NIBBLE_TABLES = buildNibbleTables();
const PAGE_BYTES = 65536;
const MAX_SLICE_BYTES = 256 * 1024;
const MIN_SLICE_BYTES = 1024;
const DEFAULT_SLICE_BUDGET_BYTES = 512 * 1024;
// Caller-visible shards start on this boundary, like the slices.
const ALIGN_BYTES = 64;

type MulFunction = (tables: number, inputs: number, inStride: number, inCount: number,
  outputs: number, outStride: number, lengthBytes: number) => void;

/**
 * True when the k × m matrix is made of 2 × 2 blocks [[a, b], [b, a]] (rows 2q, 2q + 1 against inputs 2p, 2p + 1),
 * which the pairsQ functions multiply with three products per block instead of four. The systematic Vandermonde
 * matrix has this shape whenever k and m are even: its entries are Lagrange basis polynomials over the points
 * 0..k-1, evaluated at k..k+m-1, and XOR by 1 maps both point sets onto themselves.
 */
export function hasPairedBlocks(coefficients: Uint8Array, k: number, m: number): boolean {
  if (k % 2 !== 0 || m % 2 !== 0) return false;
  for (let r = 0; r < m; r += 2) {
    for (let j = 0; j < k; j += 2) {
      const top = r * k + j;
      const bottom = top + k;
      if (coefficients[top] !== coefficients[bottom + 1] || coefficients[top + 1] !== coefficients[bottom]) return false;
    }
  }
  return true;
}

/**
 * True when k and m are multiples of 4 and the matrix is made of 4 × 4 blocks with entry (r, c) = g[r XOR c], which
 * the quads function multiplies with nine products per block instead of sixteen. The systematic Vandermonde matrix
 * has this shape whenever 4 divides k and m, for the same reason as hasPairedBlocks with XOR by 0..3.
 */
export function hasQuadBlocks(coefficients: Uint8Array, k: number, m: number): boolean {
  if (k % 4 !== 0 || m % 4 !== 0) return false;
  for (let r = 0; r < m; r += 4) {
    for (let j = 0; j < k; j += 4) {
      for (let dr = 0; dr < 4; dr++) {
        for (let dc = 0; dc < 4; dc++) {
          if (coefficients[(r + dr) * k + j + dc] !== coefficients[r * k + j + (dr ^ dc)]) return false;
        }
      }
    }
  }
  return true;
}

// How a coefficient matrix is multiplied: by rows, by paired 2 × 2 blocks, or by XOR-symmetric 4 × 4 blocks.
type Plan = 'rows' | 'pairs' | 'quads';

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

class WasmSimdKernel implements GfKernel {
  readonly name = 'wasm-simd' as const;
  readonly relaxedSimd: boolean;
  readonly #memory: WasmMemory;
  readonly #mul: MulFunction[];
  readonly #pairs: MulFunction[];
  readonly #maxOutputs: number;
  readonly #maxRowPairs: number;
  readonly #quads: MulFunction | undefined;
  readonly #stepBytes: number;
  readonly #sliceBudgetBytes: number;
  #heap: Uint8Array;
  // Memory: [shards handed out by allocate()][tables][k input slices][m output slices].
  #shardAreaBytes = 0;
  // Tables currently in memory: rebuilding them costs k·m·32 bytes of copies, which matters for small shards.
  #loadedCoefficients: Uint8Array | null = null;
  #loadedInputs = 0;
  #loadedAt = -1;
  #loadedPlan: Plan = 'rows';

  constructor(module: WasmKernelModule, options: WasmSimdKernelOptions) {
    const engine = wasmEngine();
    if (engine === undefined) throw new TypeError('this runtime has no WebAssembly');
    const instance = new engine.Instance(new engine.Module(module.bytes), {});
    this.#memory = instance.exports['memory'] as WasmMemory;
    this.#mul = [];
    for (let r = 1; r <= module.maxOutputs; r++) this.#mul[r] = instance.exports[`mul${r}`] as MulFunction;
    this.#pairs = [];
    for (let q = 1; q <= module.maxRowPairs; q++) this.#pairs[q] = instance.exports[`pairs${q}`] as MulFunction;
    this.#maxOutputs = module.maxOutputs;
    this.#maxRowPairs = module.maxRowPairs;
    this.#quads = module.quads ? (instance.exports['quads'] as MulFunction) : undefined;
    this.#stepBytes = module.stepBytes;
    this.#sliceBudgetBytes = options.sliceBudgetBytes ?? DEFAULT_SLICE_BUDGET_BYTES;
    this.relaxedSimd = module.relaxed;
    this.#heap = new Uint8Array(this.#memory.buffer);
  }

  multiply(coefficients: Uint8Array, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[]): void {
    const length = outputs[0]?.length ?? 0;
    const k = inputs.length;
    const m = outputs.length;
    if (length === 0 || k === 0 || m === 0) return;
    const bulk = length - (length % this.#stepBytes);
    const inStride = this.#strideInMemory(inputs);
    const outStride = this.#strideInMemory(outputs);
    if (bulk > 0 && inStride !== undefined && outStride !== undefined) {
      // Shards from allocate() (evenly spaced, as encode and verify pass them): run in place; only a tail shorter
      // than one step goes through the slices, since the kernel writes whole steps.
      this.#multiplyInPlace(coefficients, inputs, inStride, outputs, outStride, bulk);
      if (bulk === length) return;
      inputs = inputs.map((a) => a.subarray(bulk));
      outputs = outputs.map((a) => a.subarray(bulk));
    }
    this.#multiplyThroughSlices(coefficients, inputs, outputs);
  }

  allocate(count: number, bytes: number, maxInputs: number, maxOutputs: number): Uint8Array[] {
    const stride = roundUp(bytes, ALIGN_BYTES);
    this.#shardAreaBytes = count * stride;
    this.#loadedCoefficients = null;
    // Grow now for the largest call the owner will make, so that later calls never grow memory (growing would
    // detach the arrays returned here).
    const slice = this.#sliceBytes(Number.MAX_SAFE_INTEGER, maxInputs + maxOutputs);
    this.#ensureBytes(this.#tablesAt() + this.#tablesBytes(maxInputs, maxOutputs) + (maxInputs + maxOutputs) * slice);
    const heap = this.#heap;
    heap.fill(0, 0, this.#shardAreaBytes);
    return Array.from({ length: count }, (_, i) => heap.subarray(i * stride, i * stride + bytes));
  }

  // The distance between consecutive arrays when all of them lie in the allocate() area evenly spaced (the kernel
  // walks inputs and outputs by a stride), else undefined.
  #strideInMemory(arrays: readonly Uint8Array[]): number | undefined {
    const buffer = this.#memory.buffer;
    const first = arrays[0];
    if (first === undefined || first.buffer !== buffer) return undefined;
    const stride = arrays.length > 1 ? (arrays[1] as Uint8Array).byteOffset - first.byteOffset : 0;
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i] as Uint8Array;
      if (a.buffer !== buffer || a.byteOffset !== first.byteOffset + i * stride) return undefined;
      if (a.byteOffset + a.length > this.#shardAreaBytes) return undefined;
    }
    return stride;
  }

  #multiplyInPlace(coefficients: Uint8Array, inputs: readonly Uint8Array[], inStride: number,
    outputs: readonly Uint8Array[], outStride: number, bytes: number): void {
    const k = inputs.length;
    const m = outputs.length;
    const inBase = (inputs[0] as Uint8Array).byteOffset;
    const outBase = (outputs[0] as Uint8Array).byteOffset;
    const tablesAt = this.#tablesAt();
    // allocate() grew memory for the owner's largest call; a larger one grows it here, which keeps the contents.
    this.#ensureBytes(tablesAt + this.#tablesBytes(k, m));
    const plan = this.#loadTables(coefficients, k, m, tablesAt);
    this.#run(plan, tablesAt, inBase, inStride, k, outBase, outStride, m, bytes);
  }

  #multiplyThroughSlices(coefficients: Uint8Array, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[]): void {
    const length = outputs[0]?.length ?? 0;
    const k = inputs.length;
    const m = outputs.length;
    const step = this.#stepBytes;
    const slice = this.#sliceBytes(length, k + m);
    const tablesAt = this.#tablesAt();
    const inBase = tablesAt + this.#tablesBytes(k, m);
    const outBase = inBase + k * slice;
    this.#ensureBytes(outBase + m * slice);
    const plan = this.#loadTables(coefficients, k, m, tablesAt);
    const heap = this.#heap;
    for (let start = 0; start < length; start += slice) {
      const end = Math.min(length, start + slice);
      const bytes = end - start;
      for (let j = 0; j < k; j++) heap.set((inputs[j] as Uint8Array).subarray(start, end), inBase + j * slice);
      // Rounding up computes garbage past `bytes` from stale slice contents; it is never copied out.
      this.#run(plan, tablesAt, inBase, slice, k, outBase, slice, m, roundUp(bytes, step));
      for (let r = 0; r < m; r++) {
        const from = outBase + r * slice;
        (outputs[r] as Uint8Array).set(heap.subarray(from, from + bytes), start);
      }
    }
  }

  // Output groups of up to maxOutputs rows (or maxRowPairs row pairs), each with its block of tables.
  #run(plan: Plan, tablesAt: number, inBase: number, inStride: number, k: number, outBase: number,
    outStride: number, m: number, bytes: number): void {
    if (plan === 'quads') {
      for (let first = 0; first < m / 4; first++) {
        (this.#quads as MulFunction)(tablesAt + first * (k / 4) * 288, inBase, inStride, k / 4,
          outBase + 4 * first * outStride, outStride, bytes);
      }
      return;
    }
    if (plan === 'pairs') {
      const pairs = k / 2;
      for (let first = 0; first < m / 2; first += this.#maxRowPairs) {
        const count = Math.min(this.#maxRowPairs, m / 2 - first);
        (this.#pairs[count] as MulFunction)(tablesAt + first * pairs * 96, inBase, inStride, pairs,
          outBase + 2 * first * outStride, outStride, bytes);
      }
      return;
    }
    for (let first = 0; first < m; first += this.#maxOutputs) {
      const count = Math.min(this.#maxOutputs, m - first);
      (this.#mul[count] as MulFunction)(tablesAt + first * k * 32, inBase, inStride, k, outBase + first * outStride,
        outStride, bytes);
    }
  }

  #sliceBytes(length: number, shards: number): number {
    const step = this.#stepBytes;
    const budgetSlice = Math.floor(this.#sliceBudgetBytes / shards / step) * step;
    return Math.min(roundUp(length, step), Math.max(MIN_SLICE_BYTES, Math.min(MAX_SLICE_BYTES, budgetSlice)));
  }

  #tablesAt(): number {
    return this.#shardAreaBytes;
  }

  #tablesBytes(k: number, m: number): number {
    return roundUp(k * m * 32, ALIGN_BYTES);
  }

  // Output groups of up to maxOutputs rows each get a [j][r] block of tables, in group order; for paired blocks,
  // groups of up to maxRowPairs row pairs get a [p][q] block of (a, b, a ^ b) tables, and for quads each group of
  // 4 rows a [p] block of 9 tables. Returns the plan the tables were laid out for.
  #loadTables(coefficients: Uint8Array, k: number, m: number, at: number): Plan {
    if (this.#loadedCoefficients === coefficients && this.#loadedInputs === k && this.#loadedAt === at) {
      return this.#loadedPlan;
    }
    let plan: Plan = 'rows';
    if (this.#quads !== undefined && hasQuadBlocks(coefficients, k, m)) plan = 'quads';
    else if (this.#maxRowPairs > 0 && hasPairedBlocks(coefficients, k, m)) plan = 'pairs';
    if (plan === 'quads') this.#loadQuadTables(coefficients, k, m, at);
    else if (plan === 'pairs') this.#loadPairTables(coefficients, k, m, at);
    else this.#loadRowTables(coefficients, k, m, at);
    this.#loadedCoefficients = coefficients;
    this.#loadedInputs = k;
    this.#loadedAt = at;
    this.#loadedPlan = plan;
    return plan;
  }

  #loadQuadTables(coefficients: Uint8Array, k: number, m: number, at: number): void {
    const heap = this.#heap;
    let entry = at;
    for (let r = 0; r < m; r += 4) {
      for (let j = 0; j < k; j += 4) {
        const [g0, g1, g2, g3] = [0, 1, 2, 3].map((c) => coefficients[r * k + j + c] as number) as
          [number, number, number, number];
        for (const c of [g0 ^ g1 ^ g2 ^ g3, g0 ^ g2, g1 ^ g3, g0 ^ g1, g2 ^ g3, g0, g1, g2, g3]) {
          heap.set(NIBBLE_TABLES.subarray(c * 32, c * 32 + 32), entry);
          entry += 32;
        }
      }
    }
  }

  #loadPairTables(coefficients: Uint8Array, k: number, m: number, at: number): void {
    const heap = this.#heap;
    const pairs = k / 2;
    for (let first = 0; first < m / 2; first += this.#maxRowPairs) {
      const count = Math.min(this.#maxRowPairs, m / 2 - first);
      const base = at + first * pairs * 96;
      for (let p = 0; p < pairs; p++) {
        for (let q = 0; q < count; q++) {
          const a = coefficients[2 * (first + q) * k + 2 * p] as number;
          const b = coefficients[2 * (first + q) * k + 2 * p + 1] as number;
          const entry = base + (p * count + q) * 96;
          heap.set(NIBBLE_TABLES.subarray(a * 32, a * 32 + 32), entry);
          heap.set(NIBBLE_TABLES.subarray(b * 32, b * 32 + 32), entry + 32);
          heap.set(NIBBLE_TABLES.subarray((a ^ b) * 32, (a ^ b) * 32 + 32), entry + 64);
        }
      }
    }
  }

  #loadRowTables(coefficients: Uint8Array, k: number, m: number, at: number): void {
    const heap = this.#heap;
    for (let first = 0; first < m; first += this.#maxOutputs) {
      const count = Math.min(this.#maxOutputs, m - first);
      const base = at + first * k * 32;
      for (let j = 0; j < k; j++) {
        for (let r = 0; r < count; r++) {
          const c = coefficients[(first + r) * k + j] as number;
          heap.set(NIBBLE_TABLES.subarray(c * 32, c * 32 + 32), base + (j * count + r) * 32);
        }
      }
    }
  }

  #ensureBytes(bytes: number): void {
    const have = this.#memory.buffer.byteLength;
    if (bytes <= have) return;
    this.#memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    this.#heap = new Uint8Array(this.#memory.buffer);
  }
}

/** A kernel running the split-nibble SIMD module; each kernel owns its WebAssembly memory. */
export function createWasmSimdKernel(module: WasmKernelModule, options: WasmSimdKernelOptions = {}):
  GfKernel & { readonly relaxedSimd: boolean } {
  return new WasmSimdKernel(module, options);
}

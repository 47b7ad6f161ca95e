import { MUL_TABLE } from '../galois.js';
import type { GfKernel } from './kernel.js';
import { wasmEngine, type WasmMemory } from './wasm/engine.js';

/** A compiled kernel module and the shape it was generated with. */
export interface WasmKernelModule {
  readonly bytes: Uint8Array;
  readonly relaxed: boolean;
  /** Functions mul1..mulN exist for N = maxOutputs. */
  readonly maxOutputs: number;
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

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

class WasmSimdKernel implements GfKernel {
  readonly name = 'wasm-simd' as const;
  readonly relaxedSimd: boolean;
  readonly #memory: WasmMemory;
  readonly #mul: MulFunction[];
  readonly #maxOutputs: number;
  readonly #stepBytes: number;
  readonly #sliceBudgetBytes: number;
  #heap: Uint8Array;
  // Memory: [shards handed out by allocate()][tables][k input slices][m output slices].
  #shardAreaBytes = 0;
  // Tables currently in memory: rebuilding them costs k·m·32 bytes of copies, which matters for small shards.
  #loadedCoefficients: Uint8Array | null = null;
  #loadedInputs = 0;
  #loadedAt = -1;

  constructor(module: WasmKernelModule, options: WasmSimdKernelOptions) {
    const engine = wasmEngine();
    if (engine === undefined) throw new TypeError('this runtime has no WebAssembly');
    const instance = new engine.Instance(new engine.Module(module.bytes), {});
    this.#memory = instance.exports['memory'] as WasmMemory;
    this.#mul = [];
    for (let r = 1; r <= module.maxOutputs; r++) this.#mul[r] = instance.exports[`mul${r}`] as MulFunction;
    this.#maxOutputs = module.maxOutputs;
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
    this.#loadTables(coefficients, k, m, tablesAt);
    this.#run(tablesAt, inBase, inStride, k, outBase, outStride, m, bytes);
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
    this.#loadTables(coefficients, k, m, tablesAt);
    const heap = this.#heap;
    for (let start = 0; start < length; start += slice) {
      const end = Math.min(length, start + slice);
      const bytes = end - start;
      for (let j = 0; j < k; j++) heap.set((inputs[j] as Uint8Array).subarray(start, end), inBase + j * slice);
      // Rounding up computes garbage past `bytes` from stale slice contents; it is never copied out.
      this.#run(tablesAt, inBase, slice, k, outBase, slice, m, roundUp(bytes, step));
      for (let r = 0; r < m; r++) {
        const from = outBase + r * slice;
        (outputs[r] as Uint8Array).set(heap.subarray(from, from + bytes), start);
      }
    }
  }

  // Output groups of up to maxOutputs rows, each with its block of tables.
  #run(tablesAt: number, inBase: number, inStride: number, k: number, outBase: number, outStride: number, m: number,
    bytes: number): void {
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

  // Output groups of up to maxOutputs rows each get a [j][r] block of tables, in group order.
  #loadTables(coefficients: Uint8Array, k: number, m: number, at: number): void {
    if (this.#loadedCoefficients === coefficients && this.#loadedInputs === k && this.#loadedAt === at) return;
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
    this.#loadedCoefficients = coefficients;
    this.#loadedInputs = k;
    this.#loadedAt = at;
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

import { MUL_TABLE } from '../galois.js';
import type { GfKernel } from './kernel.js';

// Bytes per block: every output row is built from all inputs over one block before moving on, so the block of the
// output stays in L1 while the inputs stream past it.
const BLOCK_BYTES = 16 * 1024;

function isWordAligned(a: Uint8Array): boolean {
  return (a.byteOffset & 3) === 0;
}

function words(a: Uint8Array, wordCount: number): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, wordCount);
}

// Four table lookups per 32-bit word, two inputs per pass so each output word is loaded and stored half as often.
// Lanes stay in place, so byte order does not matter.
function mulWordsPair(t: Uint8Array, u: Uint8Array, d: Uint32Array, e: Uint32Array, o: Uint32Array, start: number,
  end: number, assign: boolean): void {
  for (let i = start; i < end; i++) {
    const w = d[i] as number;
    const x = e[i] as number;
    const product = ((t[w & 255] as number) ^ (u[x & 255] as number)) |
      (((t[(w >>> 8) & 255] as number) ^ (u[(x >>> 8) & 255] as number)) << 8) |
      (((t[(w >>> 16) & 255] as number) ^ (u[(x >>> 16) & 255] as number)) << 16) |
      (((t[w >>> 24] as number) ^ (u[x >>> 24] as number)) << 24);
    o[i] = assign ? product : (o[i] as number) ^ product;
  }
}

function mulWords(t: Uint8Array, d: Uint32Array, o: Uint32Array, start: number, end: number, assign: boolean): void {
  for (let i = start; i < end; i++) {
    const w = d[i] as number;
    const product = (t[w & 255] as number) | ((t[(w >>> 8) & 255] as number) << 8) |
      ((t[(w >>> 16) & 255] as number) << 16) | ((t[w >>> 24] as number) << 24);
    o[i] = assign ? product : (o[i] as number) ^ product;
  }
}

function mulBytes(t: Uint8Array, d: Uint8Array, o: Uint8Array, start: number, end: number, assign: boolean): void {
  if (assign) {
    for (let i = start; i < end; i++) o[i] = t[d[i] as number] as number;
  } else {
    for (let i = start; i < end; i++) o[i] = (o[i] as number) ^ (t[d[i] as number] as number);
  }
}

function tableFor(coefficient: number): Uint8Array {
  return MUL_TABLE.subarray(coefficient * 256, coefficient * 256 + 256);
}

/** Byte range [start, end) of every output, computed from the same range of the inputs. */
export function portableMultiplyRange(
  coefficients: Uint8Array,
  inputs: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
  start: number,
  end: number,
): void {
  const k = inputs.length;
  outputs.forEach((o, r) => {
    for (let j = 0; j < k; j++) {
      mulBytes(tableFor(coefficients[r * k + j] as number), inputs[j] as Uint8Array, o, start, end, j === 0);
    }
  });
}

/** Table-driven GF(2^8) kernel in plain TypeScript: the reference every other kernel is tested against. */
export function createPortableKernel(): GfKernel {
  return { name: 'portable', multiply: portableMultiply };
}

/** The portable kernel's multiply as a plain function (word-at-a-time when every shard is 4-byte aligned). */
export function portableMultiply(coefficients: Uint8Array, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[]): void {
  const length = outputs[0]?.length ?? 0;
  if (length === 0 || inputs.length === 0) return;
  const k = inputs.length;
  const aligned = inputs.every(isWordAligned) && outputs.every(isWordAligned);
  if (!aligned) {
    for (let start = 0; start < length; start += BLOCK_BYTES) {
      portableMultiplyRange(coefficients, inputs, outputs, start, Math.min(length, start + BLOCK_BYTES));
    }
    return;
  }
  const wordCount = length >>> 2;
  const in32 = inputs.map((a) => words(a, wordCount));
  const out32 = outputs.map((a) => words(a, wordCount));
  const blockWords = BLOCK_BYTES >>> 2;
  for (let start = 0; start < wordCount; start += blockWords) {
    const end = Math.min(wordCount, start + blockWords);
    for (let r = 0; r < out32.length; r++) {
      const o = out32[r] as Uint32Array;
      let j = 0;
      for (; j + 1 < k; j += 2) {
        mulWordsPair(tableFor(coefficients[r * k + j] as number), tableFor(coefficients[r * k + j + 1] as number),
          in32[j] as Uint32Array, in32[j + 1] as Uint32Array, o, start, end, j === 0);
      }
      if (j < k) mulWords(tableFor(coefficients[r * k + j] as number), in32[j] as Uint32Array, o, start, end, j === 0);
    }
  }
  if (wordCount * 4 < length) portableMultiplyRange(coefficients, inputs, outputs, wordCount * 4, length);
}

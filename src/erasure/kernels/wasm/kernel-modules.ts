import type { WasmKernelModule } from '../wasm-simd.js';
import { KERNEL_MODULE_RELAXED_SIMD, KERNEL_MODULE_SIMD } from './kernel-module.generated.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// Hand-rolled so the library needs neither Buffer nor atob and runs on any JS engine with WebAssembly.
function decodeBase64(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of clean) {
    value = (value << 6) | ALPHABET.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >>> bits) & 0xff;
    }
  }
  return out;
}

/** The embedded kernel module, standard-SIMD or relaxed-SIMD flavour. */
export function builtKernelModule(relaxed: boolean): WasmKernelModule {
  const built = relaxed ? KERNEL_MODULE_RELAXED_SIMD : KERNEL_MODULE_SIMD;
  return {
    bytes: decodeBase64(built.base64),
    relaxed,
    maxOutputs: built.vectorsPerStep.length,
    maxRowPairs: built.pairVectorsPerStep.length,
    quads: built.quads,
    stepBytes: 16 * Math.max(...built.vectorsPerStep, ...built.pairVectorsPerStep),
  };
}

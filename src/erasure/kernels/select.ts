import { ErasureError } from '../errors.js';
import type { GfKernel, KernelName } from './kernel.js';
import { createPortableKernel } from './portable.js';

/** What the running WebAssembly engine can do, found with WebAssembly.validate. */
export interface KernelSupport {
  readonly simd: boolean;
  readonly relaxedSimd: boolean;
}

/** Detects SIMD and relaxed SIMD support of the running engine. */
export function detectKernelSupport(): KernelSupport {
  return { simd: false, relaxedSimd: false };
}

/** Kernels that can run here, reference first. */
export function availableKernels(): KernelName[] {
  return detectKernelSupport().simd ? ['portable', 'wasm-simd'] : ['portable'];
}

/** The fastest kernel that can run here. */
export function bestKernel(): KernelName {
  return detectKernelSupport().simd ? 'wasm-simd' : 'portable';
}

/** How a codec asks for its kernel; maxInputs/maxOutputs size the kernel's working memory. */
export interface KernelRequest {
  kernel: KernelName | 'auto';
  relaxedSimd: boolean;
  maxInputs: number;
  maxOutputs: number;
}

/** Builds the requested kernel; a forced kernel that cannot run throws KernelUnavailable, 'auto' falls back. */
export function resolveKernel(request: KernelRequest): { kernel: GfKernel; relaxedSimd: boolean } {
  const name = request.kernel === 'auto' ? bestKernel() : request.kernel;
  if (name === 'portable') return { kernel: createPortableKernel(), relaxedSimd: false };
  if (name !== 'wasm-simd') throw new ErasureError('KernelUnavailable', `unknown kernel ${String(name)}`);
  throw new ErasureError('KernelUnavailable', 'WebAssembly SIMD does not validate on this runtime');
}

import { ErasureError } from '../errors.js';
import type { GfKernel, KernelName } from './kernel.js';
import { createPortableKernel } from './portable.js';
import { createWasmSimdKernel } from './wasm-simd.js';
import { builtKernelModule } from './wasm/kernel-modules.js';
import { wasmValidates } from '../../common/index.js';

/** What the running WebAssembly engine can do, found with WebAssembly.validate. */
export interface KernelSupport {
  readonly simd: boolean;
  readonly relaxedSimd: boolean;
}

/**
 * Detects SIMD and relaxed SIMD by validating the embedded kernel modules themselves: exact, since a runtime that
 * accepts them can run them, and cheap (a few KiB). Not cached, to keep the module free of mutable state.
 */
export function detectKernelSupport(): KernelSupport {
  const simd = wasmValidates(builtKernelModule(false).bytes);
  return { simd, relaxedSimd: simd && wasmValidates(builtKernelModule(true).bytes) };
}

/** Kernels that can run here, reference first. */
export function availableKernels(): KernelName[] {
  return detectKernelSupport().simd ? ['portable', 'wasm-simd'] : ['portable'];
}

/** The fastest kernel that can run here. */
export function bestKernel(): KernelName {
  return detectKernelSupport().simd ? 'wasm-simd' : 'portable';
}

/** How a codec asks for its kernel. */
export interface KernelRequest {
  kernel: KernelName | 'auto';
  /** Use relaxed SIMD when the runtime has it; false forces the standard swizzle. */
  relaxedSimd: boolean;
}

/** Builds the requested kernel; a forced kernel that cannot run throws KernelUnavailable, 'auto' falls back. */
export function resolveKernel(request: KernelRequest): { kernel: GfKernel; relaxedSimd: boolean } {
  const support = detectKernelSupport();
  const name = request.kernel === 'auto' ? (support.simd ? 'wasm-simd' : 'portable') : request.kernel;
  if (name === 'portable') return { kernel: createPortableKernel(), relaxedSimd: false };
  if (name !== 'wasm-simd') throw new ErasureError('KernelUnavailable', `unknown kernel ${String(name)}`);
  if (!support.simd) throw new ErasureError('KernelUnavailable', 'WebAssembly SIMD does not validate on this runtime');
  const relaxed = request.relaxedSimd && support.relaxedSimd;
  const kernel = createWasmSimdKernel(builtKernelModule(relaxed));
  return { kernel, relaxedSimd: relaxed };
}

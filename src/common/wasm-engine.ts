/**
 * The slice of the WebAssembly JS API the project's modules use (the erasure kernels, the placement
 * hash), typed here because the project's lib settings do not declare it, and looked up at run time
 * because some runtimes (e.g. node --jitless) have no WebAssembly at all.
 */

/** An instance's memory export. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

/** The constructors and validator the kernel needs. */
export interface WasmEngine {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

/** The runtime's WebAssembly object, or undefined when there is none. */
export function wasmEngine(): WasmEngine | undefined {
  return (globalThis as { WebAssembly?: WasmEngine }).WebAssembly;
}

/** True when the runtime accepts the module bytes (false without WebAssembly at all). */
export function wasmValidates(bytes: Uint8Array): boolean {
  const engine = wasmEngine();
  if (engine === undefined) return false;
  try {
    return engine.validate(bytes);
  } catch {
    return false;
  }
}

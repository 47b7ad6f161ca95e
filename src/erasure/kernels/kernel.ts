/** Names of the multiply kernels a codec can run on. */
export type KernelName = 'portable' | 'wasm-simd';

/**
 * The one signature every kernel implements: a matrix-times-shards product over GF(2^8).
 * outputs[r][i] = XOR over j of coefficients[r * inputs.length + j] · inputs[j][i], for every byte i.
 * Callers guarantee every input and output has the same length and that outputs do not alias inputs.
 */
export interface GfKernel {
  readonly name: KernelName;
  multiply(coefficients: Uint8Array, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[]): void;
  /**
   * Optional: `count` zeroed arrays of `bytes` each in the kernel's own memory, which multiply() then reads and
   * writes where they are, without copies. Memory is reserved for calls of up to maxInputs × maxOutputs. Each call
   * replaces the previous set, whose arrays must no longer be used.
   */
  allocate?(count: number, bytes: number, maxInputs: number, maxOutputs: number): Uint8Array[];
}

import { assembleModule, Code, ValType, type WasmFunction } from './assembler.js';

/** Shape of the generated kernel module; the runtime must agree with the module it loads. */
export interface KernelModuleShape {
  /** Use i8x16.relaxed_swizzle (indices are always 0..15, so its result is the same as the standard one). */
  readonly relaxed: boolean;
  /**
   * One entry per function: mulR (R = index + 1) keeps R outputs in registers and walks 16 × vectorsPerStep[R - 1]
   * bytes per step; lengths passed to it must be multiples of that.
   */
  readonly vectorsPerStep: readonly number[];
  /** Assign the first input's products instead of zeroing the accumulators and folding them in. */
  readonly peelFirstInput: boolean;
}

// Parameters shared by every mulN function:
// (tables, inputs, inputStrideBytes, inputCount, outputs, outputStrideBytes, lengthBytes).
const P = { tables: 0, inputs: 1, inStride: 2, inCount: 3, outputs: 4, outStride: 5, length: 6 } as const;
const PARAM_COUNT = 7;

class Locals {
  readonly types: ValType[] = [];
  add(type: ValType): number {
    this.types.push(type);
    return PARAM_COUNT + this.types.length - 1;
  }
}

/**
 * mulR computes R outputs over `length` bytes from inputCount inputs laid out `inputStrideBytes` apart. For input j
 * and output r the split-nibble tables sit at tables + 32·(j·R + r): 16 bytes of c·x and 16 of c·(x << 4).
 * Each step covers 16·U bytes of every input with the R × U accumulators in registers, so outputs are written once.
 */
function mulFunction(outputs: number, shape: KernelModuleShape): WasmFunction {
  const u = shape.vectorsPerStep[outputs - 1] as number;
  const locals = new Locals();
  const pos = locals.add(ValType.i32);
  const ip = locals.add(ValType.i32);
  const tp = locals.add(ValType.i32);
  const j = locals.add(ValType.i32);
  const op = locals.add(ValType.i32);
  const mask = locals.add(ValType.v128);
  const v = locals.add(ValType.v128);
  const tlo = locals.add(ValType.v128);
  const thi = locals.add(ValType.v128);
  const lo = Array.from({ length: u }, () => locals.add(ValType.v128));
  const hi = Array.from({ length: u }, () => locals.add(ValType.v128));
  const acc = Array.from({ length: outputs }, () => Array.from({ length: u }, () => locals.add(ValType.v128)));
  const c = new Code();
  const swizzle = (): Code => (shape.relaxed ? c.i8x16RelaxedSwizzle() : c.i8x16Swizzle());
  const tableBytes = 32 * outputs;

  // One input: split each vector into nibbles, look both up in every output's tables, fold into the accumulators
  // (or, for a peeled first input, set them).
  const inputStep = (assign: boolean): void => {
    for (let x = 0; x < u; x++) {
      c.get(ip).v128Load(16 * x).tee(v).get(mask).v128And().set(lo[x] as number);
      c.get(v).i32Const(4).i16x8ShrU().get(mask).v128And().set(hi[x] as number);
    }
    for (let r = 0; r < outputs; r++) {
      c.get(tp).v128Load(32 * r).set(tlo);
      c.get(tp).v128Load(32 * r + 16).set(thi);
      for (let x = 0; x < u; x++) {
        const a = (acc[r] as number[])[x] as number;
        c.get(tlo).get(lo[x] as number);
        swizzle();
        c.get(thi).get(hi[x] as number);
        swizzle();
        c.v128Xor();
        if (!assign) c.get(a).v128Xor();
        c.set(a);
      }
    }
    c.get(ip).get(P.inStride).i32Add().set(ip);
    c.get(tp).i32Const(tableBytes).i32Add().set(tp);
    c.get(j).i32Const(1).i32Sub().set(j);
  };

  c.v128Const(new Array<number>(16).fill(0x0f)).set(mask);
  c.i32Const(0).set(pos);
  c.block().loop();
  {
    c.get(pos).get(P.length).i32GeU().brIf(1);
    c.get(P.inputs).get(pos).i32Add().set(ip);
    c.get(P.tables).set(tp);
    c.get(P.inCount).set(j);
    if (shape.peelFirstInput) {
      inputStep(true);
    } else {
      for (const row of acc) for (const a of row) c.v128Const(new Array<number>(16).fill(0)).set(a);
    }
    // Callers pass inputCount >= 1, so after a peeled step j may be 0: test before the loop.
    c.block();
    c.get(j).i32Eqz().brIf(0);
    c.loop();
    inputStep(false);
    c.get(j).brIf(0);
    c.end().end();
    c.get(P.outputs).get(pos).i32Add().set(op);
    acc.forEach((row, r) => {
      row.forEach((a, x) => c.get(op).get(a).v128Store(16 * x));
      if (r < outputs - 1) c.get(op).get(P.outStride).i32Add().set(op);
    });
    c.get(pos).i32Const(16 * u).i32Add().set(pos);
    c.br(0);
  }
  c.end().end();
  return { name: `mul${outputs}`, params: new Array<ValType>(PARAM_COUNT).fill(ValType.i32), results: [], locals: locals.types, code: c };
}

/** The kernel module's bytes for one shape. */
export function emitKernelModule(shape: KernelModuleShape): Uint8Array {
  const functions: WasmFunction[] = [];
  for (let r = 1; r <= shape.vectorsPerStep.length; r++) functions.push(mulFunction(r, shape));
  return assembleModule({ memoryPages: 1, functions });
}

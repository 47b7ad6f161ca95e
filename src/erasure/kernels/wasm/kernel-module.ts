import { assembleModule, Code, ValType, type WasmFunction } from '../../../common/index.js';

/** Shape of the generated kernel module; the runtime must agree with the module it loads. */
export interface KernelModuleShape {
  /** Use i8x16.relaxed_swizzle (indices are always 0..15, so its result is the same as the standard one). */
  readonly relaxed: boolean;
  /**
   * One entry per function: mulR (R = index + 1) keeps R outputs in registers and walks 16 × vectorsPerStep[R - 1]
   * bytes per step; lengths passed to it must be multiples of that.
   */
  readonly vectorsPerStep: readonly number[];
  /**
   * mulR: assign the first input's products instead of zeroing the accumulators and folding them in. (pairsQ and
   * quads always do: it measured faster for both swizzles.)
   */
  readonly peelFirstInput: boolean;
  /**
   * One entry per function: pairsQ (Q = index + 1) keeps 2Q outputs in registers and walks
   * 16 × pairVectorsPerStep[Q - 1] bytes per step (see pairFunction). Empty for none.
   */
  readonly pairVectorsPerStep: readonly number[];
  /** Emit quads (see quadFunction), which walks 16 bytes per step. */
  readonly quads: boolean;
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

/** The i32 locals every function's outer loop uses. */
interface LoopLocals {
  readonly pos: number;
  readonly ip: number;
  readonly tp: number;
  readonly j: number;
  readonly op: number;
}

/**
 * The loop shared by every function: sets the nibble mask, then for each step of 16·u bytes resets the input and
 * table pointers, runs `step` once per input (or input group), and stores the accumulators acc[r][x] to output r.
 * With `peel` the first step assigns the accumulators instead of folding into zeroed ones.
 */
function stepLoop(c: Code, l: LoopLocals, mask: number, acc: readonly (readonly number[])[], u: number, peel: boolean,
  step: (assign: boolean) => void): void {
  c.v128Const(new Array<number>(16).fill(0x0f)).set(mask);
  c.i32Const(0).set(l.pos);
  c.block().loop();
  c.get(l.pos).get(P.length).i32GeU().brIf(1);
  c.get(P.inputs).get(l.pos).i32Add().set(l.ip);
  c.get(P.tables).set(l.tp);
  c.get(P.inCount).set(l.j);
  if (peel) {
    step(true);
  } else {
    for (const row of acc) for (const a of row) c.v128Const(new Array<number>(16).fill(0)).set(a);
  }
  // Callers pass inputCount >= 1, so after a peeled step j may be 0: test before the loop.
  c.block();
  c.get(l.j).i32Eqz().brIf(0);
  c.loop();
  step(false);
  c.get(l.j).brIf(0);
  c.end().end();
  c.get(P.outputs).get(l.pos).i32Add().set(l.op);
  acc.forEach((row, r) => {
    row.forEach((a, x) => c.get(l.op).get(a).v128Store(16 * x));
    if (r < acc.length - 1) c.get(l.op).get(P.outStride).i32Add().set(l.op);
  });
  c.get(l.pos).i32Const(16 * u).i32Add().set(l.pos);
  c.br(0);
  c.end().end();
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

  stepLoop(c, { pos, ip, tp, j, op }, mask, acc, u, shape.peelFirstInput, inputStep);
  return { name: `mul${outputs}`, params: new Array<ValType>(PARAM_COUNT).fill(ValType.i32), results: [], locals: locals.types, code: c };
}

/**
 * pairsQ computes 2Q outputs from 2·pairCount inputs (same parameters as mulR, with inputCount = pairCount) for
 * coefficient matrices made of 2 × 2 blocks [[a, b], [b, a]] — rows 2q and 2q + 1 against inputs x = 2p and
 * y = 2p + 1. The systematic Vandermonde matrix has that shape whenever k and m are even. Since
 * a·x + b·y = a·(x + y) + (a + b)·y and b·x + a·y = b·(x + y) + (a + b)·y, three products serve a block instead of
 * four, and the result is the same bytes. Tables for pair p and row pair q sit at tables + 96·(p·Q + q): a, b, then
 * a + b, each as 16 bytes of c·x and 16 of c·(x << 4).
 */
function pairFunction(rowPairs: number, shape: KernelModuleShape): WasmFunction {
  const u = shape.pairVectorsPerStep[rowPairs - 1] as number;
  const locals = new Locals();
  const pos = locals.add(ValType.i32);
  const ip = locals.add(ValType.i32);
  const yp = locals.add(ValType.i32);
  const tp = locals.add(ValType.i32);
  const j = locals.add(ValType.i32);
  const op = locals.add(ValType.i32);
  const mask = locals.add(ValType.v128);
  const y = locals.add(ValType.v128);
  const s = locals.add(ValType.v128);
  const tlo = locals.add(ValType.v128);
  const thi = locals.add(ValType.v128);
  const vectors = (): number[] => Array.from({ length: u }, () => locals.add(ValType.v128));
  const [slo, shi, ylo, yhi, shared] = [vectors(), vectors(), vectors(), vectors(), vectors()];
  const acc = Array.from({ length: 2 * rowPairs }, () => vectors());
  const c = new Code();
  const swizzle = (): Code => (shape.relaxed ? c.i8x16RelaxedSwizzle() : c.i8x16Swizzle());
  const tableBytes = 96 * rowPairs;
  const nibbles = (from: number, lo: number, hi: number): void => {
    c.get(from).get(mask).v128And().set(lo);
    c.get(from).i32Const(4).i16x8ShrU().get(mask).v128And().set(hi);
  };
  // Pushes the product of the table pair at `offset` with the nibbles (lo, hi).
  const product = (lo: number, hi: number): void => {
    c.get(tlo).get(lo);
    swizzle();
    c.get(thi).get(hi);
    swizzle();
    c.v128Xor();
  };
  const tables = (offset: number): void => {
    c.get(tp).v128Load(offset).set(tlo);
    c.get(tp).v128Load(offset + 16).set(thi);
  };

  const pairStep = (assign: boolean): void => {
    c.get(ip).get(P.inStride).i32Add().set(yp);
    for (let x = 0; x < u; x++) {
      c.get(yp).v128Load(16 * x).set(y);
      c.get(ip).v128Load(16 * x).get(y).v128Xor().set(s);
      nibbles(s, slo[x] as number, shi[x] as number);
      nibbles(y, ylo[x] as number, yhi[x] as number);
    }
    for (let q = 0; q < rowPairs; q++) {
      tables(96 * q + 64);
      for (let x = 0; x < u; x++) {
        product(ylo[x] as number, yhi[x] as number);
        c.set(shared[x] as number);
      }
      for (let half = 0; half < 2; half++) {
        tables(96 * q + 32 * half);
        for (let x = 0; x < u; x++) {
          const a = (acc[2 * q + half] as number[])[x] as number;
          product(slo[x] as number, shi[x] as number);
          c.get(shared[x] as number).v128Xor();
          if (!assign) c.get(a).v128Xor();
          c.set(a);
        }
      }
    }
    c.get(yp).get(P.inStride).i32Add().set(ip);
    c.get(tp).i32Const(tableBytes).i32Add().set(tp);
    c.get(j).i32Const(1).i32Sub().set(j);
  };

  stepLoop(c, { pos, ip, tp, j, op }, mask, acc, u, true, pairStep);
  return { name: `pairs${rowPairs}`, params: new Array<ValType>(PARAM_COUNT).fill(ValType.i32), results: [], locals: locals.types, code: c };
}

/**
 * quads computes 4 outputs from 4·blockCount inputs (same parameters as mulR, with inputCount = blockCount) for
 * coefficient matrices made of 4 × 4 blocks with entry (r, c) = g[r XOR c], which the systematic Vandermonde matrix
 * has whenever k and m are multiples of 4 (see wasm-simd.ts). Nine products serve a block instead of sixteen, with
 * σ = x0 + x1 + x2 + x3, s = x1 + x3, τ = x2 + x3, F0 = (g0 + g2)·τ + G·x3, F1 = (g1 + g3)·τ + G·x3 (G = Σ g),
 * H0 = (g0 + g1)·s, H1 = (g2 + g3)·s:
 *   out0 = g0·σ + H0 + F0, out1 = g1·σ + H0 + F1, out2 = g2·σ + H1 + F0, out3 = g3·σ + H1 + F1.
 * Tables for block p sit at tables + 288·p: G, g0 + g2, g1 + g3, g0 + g1, g2 + g3, g0, g1, g2, g3, each as 16 bytes
 * of c·x and 16 of c·(x << 4).
 */
function quadFunction(shape: KernelModuleShape): WasmFunction {
  const locals = new Locals();
  const [pos, ip, p1, p2, p3, tp, j, op] = Array.from({ length: 8 }, () => locals.add(ValType.i32)) as
    [number, number, number, number, number, number, number, number];
  const v128 = (): number => locals.add(ValType.v128);
  const [mask, x2, s1, loA, hiA, loB, hiB, tlo, thi, e, f0, f1, h0, h1] = Array.from({ length: 14 }, v128) as
    [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const acc = [v128(), v128(), v128(), v128()];
  const c = new Code();
  const swizzle = (): Code => (shape.relaxed ? c.i8x16RelaxedSwizzle() : c.i8x16Swizzle());
  // Splits the vector on top of the stack into nibbles.
  const nibbles = (lo: number, hi: number): void => {
    c.tee(lo).i32Const(4).i16x8ShrU().get(mask).v128And().set(hi);
    c.get(lo).get(mask).v128And().set(lo);
  };
  // Pushes table[index] times the vector whose nibbles are (lo, hi).
  const product = (index: number, lo: number, hi: number): void => {
    c.get(tp).v128Load(32 * index).set(tlo);
    c.get(tp).v128Load(32 * index + 16).set(thi);
    c.get(tlo).get(lo);
    swizzle();
    c.get(thi).get(hi);
    swizzle();
    c.v128Xor();
  };

  const blockStep = (assign: boolean): void => {
    c.get(ip).get(P.inStride).i32Add().tee(p1).get(P.inStride).i32Add().tee(p2).get(P.inStride).i32Add().set(p3);
    // x3 → G·x3; τ = x2 + x3 → F0, F1.
    c.get(p3).v128Load(0);
    nibbles(loA, hiA);
    product(0, loA, hiA);
    c.set(e);
    c.get(p2).v128Load(0).tee(x2).get(p3).v128Load(0).v128Xor();
    nibbles(loB, hiB);
    product(1, loB, hiB);
    c.get(e).v128Xor().set(f0);
    product(2, loB, hiB);
    c.get(e).v128Xor().set(f1);
    // s = x1 + x3 → H0, H1.
    c.get(p1).v128Load(0).get(p3).v128Load(0).v128Xor().tee(s1);
    nibbles(loA, hiA);
    product(3, loA, hiA);
    c.set(h0);
    product(4, loA, hiA);
    c.set(h1);
    // σ = x0 + x2 + s → outputs.
    c.get(ip).v128Load(0).get(x2).v128Xor().get(s1).v128Xor();
    nibbles(loB, hiB);
    const shared = [[h0, f0], [h0, f1], [h1, f0], [h1, f1]] as const;
    shared.forEach(([h, f], r) => {
      const a = acc[r] as number;
      product(5 + r, loB, hiB);
      c.get(h).v128Xor().get(f).v128Xor();
      if (!assign) c.get(a).v128Xor();
      c.set(a);
    });
    c.get(p3).get(P.inStride).i32Add().set(ip);
    c.get(tp).i32Const(288).i32Add().set(tp);
    c.get(j).i32Const(1).i32Sub().set(j);
  };

  stepLoop(c, { pos, ip, tp, j, op }, mask, acc.map((a) => [a]), 1, true, blockStep);
  return { name: 'quads', params: new Array<ValType>(PARAM_COUNT).fill(ValType.i32), results: [], locals: locals.types, code: c };
}

/** The kernel module's bytes for one shape. */
export function emitKernelModule(shape: KernelModuleShape): Uint8Array {
  const functions: WasmFunction[] = [];
  for (let r = 1; r <= shape.vectorsPerStep.length; r++) functions.push(mulFunction(r, shape));
  for (let q = 1; q <= shape.pairVectorsPerStep.length; q++) functions.push(pairFunction(q, shape));
  if (shape.quads) functions.push(quadFunction(shape));
  return assembleModule({ memoryPages: 1, functions });
}

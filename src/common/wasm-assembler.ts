/**
 * A tiny WebAssembly binary emitter: just the sections, control flow, integer and SIMD instructions the
 * erasure kernels and the placement hash need, so their modules are built from TypeScript without a
 * toolchain dependency.
 */

/** Value types by their binary encoding. */
export const ValType = { i32: 0x7f, i64: 0x7e, v128: 0x7b } as const;
/** A value type byte. */
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 64-bit integer (its two's complement bits, so constants above 2^63 are accepted too). */
export function sleb64(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asIntN(64, value);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function vector(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/** Instruction stream of one function body; methods append and return this for chaining. */
export class Code {
  readonly bytes: number[] = [];

  private simd(opcode: number, ...immediates: number[]): this {
    this.bytes.push(0xfd, ...uleb(opcode), ...immediates);
    return this;
  }

  block(): this { this.bytes.push(0x02, 0x40); return this; }
  loop(): this { this.bytes.push(0x03, 0x40); return this; }
  if(): this { this.bytes.push(0x04, 0x40); return this; }
  else(): this { this.bytes.push(0x05); return this; }
  end(): this { this.bytes.push(0x0b); return this; }
  br(depth: number): this { this.bytes.push(0x0c, ...uleb(depth)); return this; }
  brIf(depth: number): this { this.bytes.push(0x0d, ...uleb(depth)); return this; }
  get(local: number): this { this.bytes.push(0x20, ...uleb(local)); return this; }
  set(local: number): this { this.bytes.push(0x21, ...uleb(local)); return this; }
  tee(local: number): this { this.bytes.push(0x22, ...uleb(local)); return this; }
  i32Const(value: number): this { this.bytes.push(0x41, ...sleb(value)); return this; }
  i32Add(): this { this.bytes.push(0x6a); return this; }
  i32Sub(): this { this.bytes.push(0x6b); return this; }
  i32GeU(): this { this.bytes.push(0x4f); return this; }
  i32And(): this { this.bytes.push(0x71); return this; }
  i32Eqz(): this { this.bytes.push(0x45); return this; }
  i32GtU(): this { this.bytes.push(0x4b); return this; }
  i32LeU(): this { this.bytes.push(0x4d); return this; }
  i32WrapI64(): this { this.bytes.push(0xa7); return this; }
  i64Const(value: bigint): this { this.bytes.push(0x42, ...sleb64(value)); return this; }
  /** i64.load, i64.load32_u and i64.load8_u with a constant byte offset; unaligned loads are fine, the alignment is a hint. */
  i64Load(offset: number): this { this.bytes.push(0x29, 0, ...uleb(offset)); return this; }
  i64Load32U(offset: number): this { this.bytes.push(0x35, 0, ...uleb(offset)); return this; }
  i64Load8U(offset: number): this { this.bytes.push(0x31, 0, ...uleb(offset)); return this; }
  i64Add(): this { this.bytes.push(0x7c); return this; }
  i64Mul(): this { this.bytes.push(0x7e); return this; }
  i64Xor(): this { this.bytes.push(0x85); return this; }
  i64ShrU(): this { this.bytes.push(0x88); return this; }
  i64Rotl(): this { this.bytes.push(0x89); return this; }
  i64ExtendI32U(): this { this.bytes.push(0xad); return this; }
  /** v128.load with a constant byte offset; align is log2 of the promised alignment (a hint only). */
  v128Load(offset: number, align = 4): this { return this.simd(0x00, align, ...uleb(offset)); }
  v128Store(offset: number, align = 4): this { return this.simd(0x0b, align, ...uleb(offset)); }
  v128Const(bytes: readonly number[]): this { return this.simd(0x0c, ...bytes); }
  i8x16Swizzle(): this { return this.simd(0x0e); }
  i8x16RelaxedSwizzle(): this { return this.simd(0x100); }
  v128And(): this { return this.simd(0x4e); }
  v128Xor(): this { return this.simd(0x51); }
  i16x8ShrU(): this { return this.simd(0x8d); }
}

/** One exported function: its signature, extra locals and body (the final `end` is added by the assembler). */
export interface WasmFunction {
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  readonly locals: readonly ValType[];
  readonly code: Code;
}

/** A module with one exported memory ("memory", minPages initial) and the given exported functions. */
export function assembleModule(options: { memoryPages: number; functions: readonly WasmFunction[] }): Uint8Array {
  const { functions } = options;
  const types = functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), ...vector(f.results.map((r) => [r]))]);
  const funcs = functions.map((_, i) => uleb(i));
  const memory = [[0x00, ...uleb(options.memoryPages)]];
  const exports = [
    [...name('memory'), 0x02, ...uleb(0)],
    ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]),
  ];
  const bodies = functions.map((f) => {
    // Locals are run-length encoded: one (count, type) entry per local keeps this simple and is still valid.
    const locals = vector(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.code.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(3, vector(funcs)),
    ...section(5, vector(memory)),
    ...section(7, vector(exports)),
    ...section(10, vector(bodies)),
  ]);
}

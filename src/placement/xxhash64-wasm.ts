import { assembleModule, Code, ValType, wasmEngine, type WasmMemory } from '../common/index.js';

// xxhash64 (seed 0) as a WebAssembly function: native 64-bit multiplies instead of xxhash64.ts's
// 32-bit halves, which is most of what a placement lookup costs. The same digest, bit for bit.

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

// Locals of `high(length)`: the parameter, then the read position, the four lanes and the accumulator.
const LENGTH = 0;
const AT = 1;
const LANES = [2, 3, 4, 5];
const H = 6;

/** Pushes round(0, x) for the i64 on the stack: x * P2, rotated left 31, times P1. */
function roundOfTop(c: Code): Code {
  return c.i64Const(P2).i64Mul().i64Const(31n).i64Rotl().i64Const(P1).i64Mul();
}

/** The body of `high(length)`: the digest of memory[0, length), its high 32 bits returned. */
function hashBody(): Code {
  const c = new Code();
  c.get(LENGTH).i32Const(32).i32GeU().if();
  {
    // The lanes start at seed + P1 + P2, seed + P2, seed and seed - P1.
    const starts = [P1 + P2, P2, 0n, -P1];
    LANES.forEach((lane, i) => c.i64Const(starts[i]!).set(lane));
    c.loop();
    LANES.forEach((lane, i) => {
      c.get(lane).get(AT).i64Load(8 * i).i64Const(P2).i64Mul().i64Add().i64Const(31n).i64Rotl().i64Const(P1).i64Mul().set(lane);
    });
    c.get(AT).i32Const(32).i32Add().set(AT);
    // Again while 32 more bytes remain.
    c.get(AT).i32Const(32).i32Add().get(LENGTH).i32LeU().brIf(0);
    c.end();
    [1n, 7n, 12n, 18n].forEach((rotate, i) => {
      c.get(LANES[i]!).i64Const(rotate).i64Rotl();
      if (i > 0) c.i64Add();
    });
    c.set(H);
    for (const lane of LANES) {
      c.get(H).get(lane);
      roundOfTop(c).i64Xor().i64Const(P1).i64Mul().i64Const(P4).i64Add().set(H);
    }
  }
  c.else().i64Const(P5).set(H).end();
  c.get(H).get(LENGTH).i64ExtendI32U().i64Add().set(H);
  // Whole 8-byte words.
  c.block().loop();
  c.get(AT).i32Const(8).i32Add().get(LENGTH).i32GtU().brIf(1);
  c.get(H).get(AT).i64Load(0);
  roundOfTop(c).i64Xor().i64Const(27n).i64Rotl().i64Const(P1).i64Mul().i64Const(P4).i64Add().set(H);
  c.get(AT).i32Const(8).i32Add().set(AT).br(0);
  c.end().end();
  // A 4-byte word.
  c.get(AT).i32Const(4).i32Add().get(LENGTH).i32LeU().if();
  c.get(H).get(AT).i64Load32U(0).i64Const(P1).i64Mul().i64Xor().i64Const(23n).i64Rotl().i64Const(P2).i64Mul().i64Const(P3).i64Add().set(H);
  c.get(AT).i32Const(4).i32Add().set(AT);
  c.end();
  // Single bytes.
  c.block().loop();
  c.get(AT).get(LENGTH).i32GeU().brIf(1);
  c.get(H).get(AT).i64Load8U(0).i64Const(P5).i64Mul().i64Xor().i64Const(11n).i64Rotl().i64Const(P1).i64Mul().set(H);
  c.get(AT).i32Const(1).i32Add().set(AT).br(0);
  c.end().end();
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  c.get(H).get(H).i64Const(33n).i64ShrU().i64Xor().i64Const(P2).i64Mul().set(H);
  c.get(H).get(H).i64Const(29n).i64ShrU().i64Xor().i64Const(P3).i64Mul().set(H);
  // The high word of h ^ (h >> 32) is the high word of h.
  return c.get(H).i64Const(32n).i64ShrU().i32WrapI64();
}

/** The module: one page of memory for the input, and `high(length)`. */
export function xxhash64ModuleBytes(): Uint8Array {
  return assembleModule({
    memoryPages: 1,
    functions: [{ name: 'high', params: [ValType.i32], results: [ValType.i32], locals: [ValType.i32, ValType.i64, ValType.i64, ValType.i64, ValType.i64, ValType.i64], code: hashBody() }],
  });
}

/** xxhash64 (seed 0) of bytes written into `input` from its start: the high 32 bits of the digest. */
export interface XxHash64High {
  /** Where callers write what they hash; its length is the most one call hashes. */
  readonly input: Uint8Array;
  /** The high 32 bits of xxhash64 of input[0, length), unsigned. */
  high(length: number): number;
}

/** The WebAssembly hash, or null where the runtime has no WebAssembly (node --jitless): callers keep xxhash64.ts then. */
export function wasmXxHash64High(): XxHash64High | null {
  const engine = wasmEngine();
  if (engine === undefined) return null;
  try {
    const instance = new engine.Instance(new engine.Module(xxhash64ModuleBytes()), {});
    const memory = instance.exports['memory'] as WasmMemory;
    const high = instance.exports['high'] as (length: number) => number;
    return { input: new Uint8Array(memory.buffer), high: (length) => high(length) >>> 0 };
  } catch {
    return null;
  }
}

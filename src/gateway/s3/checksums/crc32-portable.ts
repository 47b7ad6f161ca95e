/** A reflected 32-bit CRC update step: continues `previous` (a finished CRC value) over `data`, like zlib's `crc32(data, value)`. */
export type Crc32Function = (data: Uint8Array, previous?: number) => number;

/** True on little-endian hosts, where 32-bit word views read bytes in CRC (reflected) order. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// Below this many bytes the word view costs more than it saves.
const WORD_PATH_MIN_BYTES = 64;

/** Builds a slice-by-16 reflected CRC-32 over `reflectedPolynomial` (init and xorout all ones, as CRC-32 and CRC-32C use). */
export function createCrc32Function(reflectedPolynomial: number): Crc32Function {
  const t = buildTables(reflectedPolynomial);
  const byteStep = (crc: number, data: Uint8Array, from: number, to: number): number => {
    for (let i = from; i < to; i++) crc = (crc >>> 8) ^ t[(crc ^ data[i]!) & 0xff]!;
    return crc;
  };
  return (data, previous = 0) => {
    const n = data.length;
    if (!LITTLE_ENDIAN || n < WORD_PATH_MIN_BYTES) return ~byteStep(~previous, data, 0, n) >>> 0;
    // Align to 4 bytes so a typed-array view over the same memory can read whole words (no copy).
    const head = (4 - (data.byteOffset & 3)) & 3;
    let crc = byteStep(~previous, data, 0, head);
    const blocks = (n - head) >>> 4;
    const w = new Int32Array(data.buffer, data.byteOffset + head, blocks * 4);
    // Sixteen bytes per step through sixteen tables: the hot loop for every uploaded byte.
    for (let j = 0; j < w.length; j += 4) {
      const a = crc ^ w[j]!;
      const b = w[j + 1]!;
      const c = w[j + 2]!;
      const d = w[j + 3]!;
      crc =
        t[3840 + (a & 0xff)]! ^ t[3584 + ((a >>> 8) & 0xff)]! ^ t[3328 + ((a >>> 16) & 0xff)]! ^ t[3072 + (a >>> 24)]! ^
        t[2816 + (b & 0xff)]! ^ t[2560 + ((b >>> 8) & 0xff)]! ^ t[2304 + ((b >>> 16) & 0xff)]! ^ t[2048 + (b >>> 24)]! ^
        t[1792 + (c & 0xff)]! ^ t[1536 + ((c >>> 8) & 0xff)]! ^ t[1280 + ((c >>> 16) & 0xff)]! ^ t[1024 + (c >>> 24)]! ^
        t[768 + (d & 0xff)]! ^ t[512 + ((d >>> 8) & 0xff)]! ^ t[256 + ((d >>> 16) & 0xff)]! ^ t[d >>> 24]!;
    }
    return ~byteStep(crc, data, head + blocks * 16, n) >>> 0;
  };
}

/** Sixteen 256-entry tables in one array: table k advances a byte through k further zero bytes. */
function buildTables(poly: number): Uint32Array {
  const t = new Uint32Array(16 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[b] = c >>> 0;
  }
  for (let k = 1; k < 16; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = t[(k - 1) * 256 + b]!;
      t[k * 256 + b] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
}

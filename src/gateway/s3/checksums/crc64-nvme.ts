import { LITTLE_ENDIAN } from './crc32-portable.js';

/** Reflected CRC-64/NVME polynomial (normal form 0xad93d23594c93659). */
export const CRC64_NVME_POLYNOMIAL = 0x9a6c9329ac4bc9b5n;

const SLICES = 16;
const WORD_PATH_MIN_BYTES = 64;

// JS has no fast 64-bit integers, so the state and the slice-by-16 tables are split into 32-bit halves.
const TABLE_LO = new Uint32Array(SLICES * 256);
const TABLE_HI = new Uint32Array(SLICES * 256);
{
  const polyHi = Number(CRC64_NVME_POLYNOMIAL >> 32n);
  const polyLo = Number(CRC64_NVME_POLYNOMIAL & 0xffffffffn);
  for (let b = 0; b < 256; b++) {
    let lo = b;
    let hi = 0;
    for (let j = 0; j < 8; j++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        lo = (lo ^ polyLo) >>> 0;
        hi = (hi ^ polyHi) >>> 0;
      }
    }
    TABLE_LO[b] = lo;
    TABLE_HI[b] = hi;
  }
  for (let k = 1; k < SLICES; k++) {
    for (let b = 0; b < 256; b++) {
      const lo = TABLE_LO[(k - 1) * 256 + b]!;
      const hi = TABLE_HI[(k - 1) * 256 + b]!;
      const i = lo & 0xff;
      TABLE_LO[k * 256 + b] = ((lo >>> 8) | (hi << 24)) ^ TABLE_LO[i]!;
      TABLE_HI[k * 256 + b] = (hi >>> 8) ^ TABLE_HI[i]!;
    }
  }
}

/** Incremental CRC-64/NVME (the `x-amz-checksum-crc64nvme` algorithm); digest is the 8-byte big-endian value. */
export class Crc64Nvme {
  #lo = 0xffffffff;
  #hi = 0xffffffff;

  /** Feeds more bytes. */
  update(data: Uint8Array): this {
    const n = data.length;
    if (!LITTLE_ENDIAN || n < WORD_PATH_MIN_BYTES) {
      this.#bytes(data, 0, n);
      return this;
    }
    // Align to 4 bytes so a typed-array view over the same memory reads whole words (no copy).
    const head = (4 - (data.byteOffset & 3)) & 3;
    this.#bytes(data, 0, head);
    const blocks = (n - head) >>> 4;
    const w = new Int32Array(data.buffer, data.byteOffset + head, blocks * 4);
    const tl = TABLE_LO;
    const th = TABLE_HI;
    let lo = this.#lo;
    let hi = this.#hi;
    for (let j = 0; j < w.length; j += 4) {
      const a = lo ^ w[j]!;
      const b = hi ^ w[j + 1]!;
      const c = w[j + 2]!;
      const d = w[j + 3]!;
      const i0 = 3840 + (a & 0xff);
      const i1 = 3584 + ((a >>> 8) & 0xff);
      const i2 = 3328 + ((a >>> 16) & 0xff);
      const i3 = 3072 + (a >>> 24);
      const i4 = 2816 + (b & 0xff);
      const i5 = 2560 + ((b >>> 8) & 0xff);
      const i6 = 2304 + ((b >>> 16) & 0xff);
      const i7 = 2048 + (b >>> 24);
      const i8 = 1792 + (c & 0xff);
      const i9 = 1536 + ((c >>> 8) & 0xff);
      const i10 = 1280 + ((c >>> 16) & 0xff);
      const i11 = 1024 + (c >>> 24);
      const i12 = 768 + (d & 0xff);
      const i13 = 512 + ((d >>> 8) & 0xff);
      const i14 = 256 + ((d >>> 16) & 0xff);
      const i15 = d >>> 24;
      lo =
        tl[i0]! ^ tl[i1]! ^ tl[i2]! ^ tl[i3]! ^ tl[i4]! ^ tl[i5]! ^ tl[i6]! ^ tl[i7]! ^
        tl[i8]! ^ tl[i9]! ^ tl[i10]! ^ tl[i11]! ^ tl[i12]! ^ tl[i13]! ^ tl[i14]! ^ tl[i15]!;
      hi =
        th[i0]! ^ th[i1]! ^ th[i2]! ^ th[i3]! ^ th[i4]! ^ th[i5]! ^ th[i6]! ^ th[i7]! ^
        th[i8]! ^ th[i9]! ^ th[i10]! ^ th[i11]! ^ th[i12]! ^ th[i13]! ^ th[i14]! ^ th[i15]!;
    }
    this.#lo = lo;
    this.#hi = hi;
    this.#bytes(data, head + blocks * 16, n);
    return this;
  }

  #bytes(data: Uint8Array, from: number, to: number): void {
    let lo = this.#lo;
    let hi = this.#hi;
    for (let i = from; i < to; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TABLE_LO[idx]!;
      hi = (hi >>> 8) ^ TABLE_HI[idx]!;
    }
    this.#lo = lo;
    this.#hi = hi;
  }

  /** The CRC of everything fed so far, as an unsigned 64-bit integer. */
  value(): bigint {
    return (BigInt(~this.#hi >>> 0) << 32n) | BigInt(~this.#lo >>> 0);
  }

  /** The CRC as S3 encodes it before base64: 8 bytes, big-endian. */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE(~this.#hi >>> 0, 0);
    out.writeUInt32BE(~this.#lo >>> 0, 4);
    return out;
  }
}

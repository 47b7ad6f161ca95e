import * as zlib from 'node:zlib';
import { createCrc32Function, type Crc32Function } from './crc32-portable.js';

/** Reflected CRC-32 polynomial (ISO-HDLC, the zlib/PNG CRC). */
export const CRC32_POLYNOMIAL = 0xedb88320;
/** Reflected CRC-32C polynomial (Castagnoli). */
export const CRC32C_POLYNOMIAL = 0x82f63b78;

// zlib's native crc32 exists from Node 20.15 / 22.2; older 22.x lacks it, so keep the portable twin.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (the `x-amz-checksum-crc32` algorithm), continuing from `previous`. */
export const crc32: Crc32Function = nativeCrc32 === undefined ? createCrc32Function(CRC32_POLYNOMIAL) : (data, previous = 0) => nativeCrc32(data, previous);

/** CRC-32C (the `x-amz-checksum-crc32c` algorithm), continuing from `previous`. */
export const crc32c: Crc32Function = createCrc32Function(CRC32C_POLYNOMIAL);

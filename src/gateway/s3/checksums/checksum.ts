import { createHash } from 'node:crypto';
import { combineCrc, type CrcAlgorithm } from './crc-combine.js';
import { crc32, crc32c } from './crc32.js';
import { Crc64Nvme } from './crc64-nvme.js';

/** The flexible-checksum algorithms S3 accepts, spelled as in `x-amz-sdk-checksum-algorithm`. */
export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;

/** One flexible-checksum algorithm. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** A checksum as S3 carries it: the algorithm and the base64 of the big-endian digest. */
export interface ChecksumValue {
  algorithm: ChecksumAlgorithm;
  base64: string;
}

/** Digest size per algorithm, to validate client-supplied values before reading a body. */
export const CHECKSUM_DIGEST_BYTES: Readonly<Record<ChecksumAlgorithm, number>> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

/** An incremental digest: feed bytes, then take the big-endian digest once. */
export interface ChecksumHasher {
  update(data: Uint8Array): unknown;
  digest(): Buffer;
}

class Crc32Hasher implements ChecksumHasher {
  #crc = 0;
  readonly #fn: (data: Uint8Array, previous?: number) => number;
  constructor(fn: (data: Uint8Array, previous?: number) => number) {
    this.#fn = fn;
  }
  update(data: Uint8Array): this {
    this.#crc = this.#fn(data, this.#crc);
    return this;
  }
  digest(): Buffer {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32BE(this.#crc, 0);
    return out;
  }
}

/** A fresh incremental hasher for `algorithm`. */
export function createChecksumHasher(algorithm: ChecksumAlgorithm): ChecksumHasher {
  switch (algorithm) {
    case 'CRC32':
      return new Crc32Hasher(crc32);
    case 'CRC32C':
      return new Crc32Hasher(crc32c);
    case 'CRC64NVME':
      return new Crc64Nvme();
    case 'SHA1':
      return createHash('sha1');
    case 'SHA256':
      return createHash('sha256');
  }
}

/** The base64 checksum of a whole buffer (for small bodies and tests). */
export function computeChecksum(algorithm: ChecksumAlgorithm, data: Uint8Array): string {
  const h = createChecksumHasher(algorithm);
  h.update(data);
  return h.digest().toString('base64');
}

/** `x-amz-checksum-<algorithm>`, the header (or trailer) name carrying a checksum. */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** The algorithm named by an `x-amz-checksum-*` header name (any case), or undefined. */
export function checksumAlgorithmFromHeaderName(name: string): ChecksumAlgorithm | undefined {
  const lower = name.toLowerCase();
  if (!lower.startsWith('x-amz-checksum-')) return undefined;
  return parseChecksumAlgorithm(lower.slice('x-amz-checksum-'.length));
}

/** Parses an algorithm name as clients send it (`crc32`, `CRC32`, ...), or undefined when unknown. */
export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm | undefined {
  const upper = value.trim().toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(upper) ? (upper as ChecksumAlgorithm) : undefined;
}

/** True when `base64` is canonical base64 of exactly the digest size of `algorithm`. */
export function isValidChecksumValue(algorithm: ChecksumAlgorithm, base64: string): boolean {
  // Buffer's base64 decoder skips junk, so insist on a byte-exact round trip.
  const bytes = Buffer.from(base64, 'base64');
  return bytes.length === CHECKSUM_DIGEST_BYTES[algorithm] && bytes.toString('base64') === base64;
}

/** S3's COMPOSITE multipart checksum: the checksum of the concatenated binary part checksums, then `-<parts>`. */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partChecksumsBase64: readonly string[]): string {
  const h = createChecksumHasher(algorithm);
  for (const part of partChecksumsBase64) h.update(Buffer.from(part, 'base64'));
  return `${h.digest().toString('base64')}-${partChecksumsBase64.length}`;
}

/** True for the algorithms S3 allows as FULL_OBJECT multipart checksums (the CRCs, which combine without the data). */
export function isCrcAlgorithm(algorithm: ChecksumAlgorithm): algorithm is CrcAlgorithm {
  return algorithm === 'CRC32' || algorithm === 'CRC32C' || algorithm === 'CRC64NVME';
}

/** S3's FULL_OBJECT multipart checksum: the CRC of the whole object, combined from each part's CRC and size. */
export function fullObjectChecksum(algorithm: CrcAlgorithm, parts: readonly { base64: string; sizeBytes: number }[]): string {
  const width = CHECKSUM_DIGEST_BYTES[algorithm];
  let crc = 0n;
  for (const part of parts) {
    const bytes = Buffer.from(part.base64, 'base64');
    if (bytes.length !== width) throw new RangeError(`invalid ${algorithm} part checksum`);
    const partCrc = width === 8 ? bytes.readBigUInt64BE(0) : BigInt(bytes.readUInt32BE(0));
    crc = combineCrc(algorithm, crc, partCrc, part.sizeBytes);
  }
  const out = Buffer.allocUnsafe(width);
  if (width === 8) out.writeBigUInt64BE(crc, 0);
  else out.writeUInt32BE(Number(crc), 0);
  return out.toString('base64');
}

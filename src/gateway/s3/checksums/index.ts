export {
  CHECKSUM_ALGORITHMS,
  CHECKSUM_DIGEST_BYTES,
  checksumAlgorithmFromHeaderName,
  checksumHeaderName,
  compositeChecksum,
  computeChecksum,
  createChecksumHasher,
  fullObjectChecksum,
  isCrcAlgorithm,
  isValidChecksumValue,
  parseChecksumAlgorithm,
} from './checksum.js';
export type { ChecksumAlgorithm, ChecksumHasher, ChecksumValue } from './checksum.js';
export { combineCrc } from './crc-combine.js';
export type { CrcAlgorithm } from './crc-combine.js';
export { crc32, crc32c, CRC32_POLYNOMIAL, CRC32C_POLYNOMIAL } from './crc32.js';
export { Crc64Nvme, CRC64_NVME_POLYNOMIAL } from './crc64-nvme.js';

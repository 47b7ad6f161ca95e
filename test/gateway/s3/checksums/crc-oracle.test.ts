import fc from 'fast-check';
import { t } from 'tap';
import {
  CRC32C_POLYNOMIAL,
  CRC32_POLYNOMIAL,
  Crc64Nvme,
  combineCrc,
  computeChecksum,
  crc32,
  crc32c,
  fullObjectChecksum,
} from '../../../../src/gateway/s3/checksums/index.js';
import { createCrc32Function, type Crc32Function } from '../../../../src/gateway/s3/checksums/crc32-portable.js';

// The CRC-32s in use come from a native package where it loads; the portable JavaScript twins are the oracle.
const CRC32S: readonly { algorithm: 'CRC32' | 'CRC32C'; inUse: Crc32Function; oracle: Crc32Function }[] = [
  { algorithm: 'CRC32', inUse: crc32, oracle: createCrc32Function(CRC32_POLYNOMIAL) },
  { algorithm: 'CRC32C', inUse: crc32c, oracle: createCrc32Function(CRC32C_POLYNOMIAL) },
];

/** Bytes at `offset` into a larger buffer, so views that do not start on a word boundary are covered. */
function placed(bytes: Uint8Array, offset: number): Uint8Array {
  const backing = new Uint8Array(offset + bytes.length + 3);
  backing.set(bytes, offset);
  return backing.subarray(offset, offset + bytes.length);
}

// Short inputs (the byte loop) and long ones up to 20 KB (the word loop); fast-check's default sizes stay small.
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ minLength: 80, maxLength: 20_000, size: 'max' }));

/** Random bytes at a random offset, cut in two at a random point. */
const input = fc.record({ bytes: anyBytes, offset: fc.nat({ max: 7 }), cut: fc.nat() }).map(({ bytes, offset, cut }) => {
  const data = placed(bytes, offset);
  const split = cut % (bytes.length + 1);
  return { data, a: data.subarray(0, split), b: data.subarray(split) };
});

t.test('CRC-32 and CRC-32C in use equal the portable oracle on any bytes, offset and split', async (t) => {
  for (const { algorithm, inUse, oracle } of CRC32S) {
    fc.assert(
      fc.property(input, ({ data, a, b }) => {
        const whole = oracle(data);
        return inUse(data) === whole && inUse(b, inUse(a)) === whole && oracle(b, oracle(a)) === whole;
      }),
      { numRuns: 500 },
    );
    t.pass(`${algorithm}: one-shot and continued values agree`);
  }
});

t.test('combineCrc joins values of either implementation into the CRC of the concatenation', async (t) => {
  for (const { algorithm, inUse, oracle } of CRC32S) {
    fc.assert(
      fc.property(input, ({ data, a, b }) => {
        const whole = BigInt(oracle(data));
        return (
          combineCrc(algorithm, BigInt(inUse(a)), BigInt(inUse(b)), b.length) === whole &&
          combineCrc(algorithm, BigInt(oracle(a)), BigInt(oracle(b)), b.length) === whole
        );
      }),
      { numRuns: 300 },
    );
    t.pass(`${algorithm}: combined parts equal the whole`);
  }
  const crc64 = (data: Uint8Array): bigint => new Crc64Nvme().update(data).value();
  fc.assert(
    fc.property(input, ({ data, a, b }) => combineCrc('CRC64NVME', crc64(a), crc64(b), b.length) === crc64(data)),
    { numRuns: 300 },
  );
  t.pass('CRC64NVME: combined parts equal the whole');
});

t.test('a FULL_OBJECT multipart checksum equals the oracle over the concatenated parts', async (t) => {
  for (const { algorithm, oracle } of CRC32S) {
    fc.assert(
      fc.property(fc.array(anyBytes, { minLength: 1, maxLength: 6 }), (parts) => {
        const whole = Buffer.alloc(4);
        whole.writeUInt32BE(oracle(Buffer.concat(parts)), 0);
        const combined = fullObjectChecksum(algorithm, parts.map((part) => ({ base64: computeChecksum(algorithm, part), sizeBytes: part.length })));
        return combined === whole.toString('base64');
      }),
      { numRuns: 200 },
    );
    t.pass(`${algorithm}: part checksums combine to the whole object's`);
  }
});

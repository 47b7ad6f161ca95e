import { createHash, randomBytes } from 'node:crypto';
import { t } from 'tap';
import { Crc32, Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import {
  CHECKSUM_ALGORITHMS,
  Crc64Nvme,
  checksumAlgorithmFromHeaderName,
  checksumHeaderName,
  combineCrc,
  compositeChecksum,
  computeChecksum,
  crc32,
  crc32c,
  createChecksumHasher,
  fullObjectChecksum,
  isValidChecksumValue,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
} from '../../../../src/gateway/s3/checksums/index.js';
import { CRC32_POLYNOMIAL } from '../../../../src/gateway/s3/checksums/index.js';
import { createCrc32Function } from '../../../../src/gateway/s3/checksums/crc32-portable.js';

const CHECK_INPUT = Buffer.from('123456789');

t.test('known answers: the catalogued check values of "123456789"', async (t) => {
  t.equal(crc32(CHECK_INPUT), 0xcbf43926, 'CRC-32/ISO-HDLC');
  t.equal(crc32c(CHECK_INPUT), 0xe3069283, 'CRC-32/ISCSI');
  t.equal(new Crc64Nvme().update(CHECK_INPUT).value(), 0xae8b14860a799888n, 'CRC-64/NVME');
  t.equal(createCrc32Function(CRC32_POLYNOMIAL)(CHECK_INPUT), 0xcbf43926, 'portable CRC-32 fallback');
  const hex = (algorithm: ChecksumAlgorithm) => Buffer.from(computeChecksum(algorithm, CHECK_INPUT), 'base64').toString('hex');
  t.equal(hex('CRC32'), 'cbf43926');
  t.equal(hex('CRC32C'), 'e3069283');
  t.equal(hex('CRC64NVME'), 'ae8b14860a799888');
  t.equal(hex('SHA1'), 'f7c3bc1d808e04732adf679965ccc34ca7ae3441');
  t.equal(hex('SHA256'), '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225');
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const empty = createChecksumHasher(algorithm).digest();
    t.equal(empty.toString('base64'), computeChecksum(algorithm, Buffer.alloc(0)), `${algorithm} of nothing`);
  }
  t.equal(computeChecksum('CRC32', Buffer.alloc(0)), 'AAAAAA==');
  t.equal(computeChecksum('CRC64NVME', Buffer.alloc(0)), 'AAAAAAAAAAA=');
  // The CRC32C of the AWS documentation's 66560-byte trailer example, as it publishes it.
  t.equal(computeChecksum('CRC32C', Buffer.alloc(66_560, 'a')), 'sOO8/Q==');
});

async function awsDigest(algorithm: 'CRC32' | 'CRC32C' | 'CRC64NVME', pieces: readonly Buffer[]): Promise<string> {
  const h = algorithm === 'CRC32' ? new Crc32() : algorithm === 'CRC32C' ? new Crc32cJs() : new Crc64NvmeJs();
  for (const p of pieces) h.update(p);
  return Buffer.from(await h.digest()).toString('base64');
}

t.test('equal to the AWS SDK implementations on random data, any split, any alignment', async (t) => {
  const data = randomBytes(1 << 20);
  for (let round = 0; round < 40; round++) {
    // Offsets and lengths that exercise unaligned heads, the word loop and byte tails.
    const start = round % 7;
    const size = round < 20 ? round * 3 : Math.floor(Math.random() * (data.length - 8));
    const slice = data.subarray(start, start + size);
    const cuts = [0, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * size)).sort((a, b) => a - b), size];
    const pieces = cuts.slice(1).map((end, i) => slice.subarray(cuts[i]!, end));
    for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
      const h = createChecksumHasher(algorithm);
      for (const p of pieces) h.update(p);
      t.equal(h.digest().toString('base64'), await awsDigest(algorithm, pieces), `${algorithm} ${size} bytes from offset ${start}`);
    }
    t.equal(createCrc32Function(CRC32_POLYNOMIAL)(slice), crc32(slice), 'portable CRC-32 equals the one in use');
  }
  for (const algorithm of ['SHA1', 'SHA256'] as const) {
    t.equal(computeChecksum(algorithm, data), createHash(algorithm.toLowerCase()).update(data).digest('base64'));
  }
});

t.test('CRCs combine across parts exactly as over the concatenation (FULL_OBJECT multipart)', async (t) => {
  for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
    for (let round = 0; round < 10; round++) {
      const parts = Array.from({ length: 1 + (round % 5) }, (_, i) => randomBytes(round === 0 && i === 0 ? 0 : Math.floor(Math.random() * 50_000)));
      const whole = computeChecksum(algorithm, Buffer.concat(parts));
      t.equal(fullObjectChecksum(algorithm, parts.map((p) => ({ base64: computeChecksum(algorithm, p), sizeBytes: p.length }))), whole, `${algorithm}, ${parts.length} parts`);
    }
  }
  // Lengths beyond 2^32 (5 GiB parts) need no data: build the CRC of 8 GiB of zeros by doubling from 1 MiB, and check
  // that combining in halves and in one step agree, after checking the 1 MiB to 64 MiB steps directly.
  const mib = Buffer.alloc(1 << 20);
  let direct = 0;
  let doubled = BigInt(crc32c(mib));
  let length = mib.length;
  for (let i = 0; i < 64; i++) direct = crc32c(mib, direct);
  for (; length < 8 * 1024 ** 3; length *= 2) {
    doubled = combineCrc('CRC32C', doubled, doubled, length);
    if (length * 2 === 64 * mib.length) t.equal(doubled, BigInt(direct), '64 MiB of zeros by doubling');
  }
  const a = BigInt(crc32c(randomBytes(100)));
  const half = 4 * 1024 ** 3;
  const zerosHalf = (() => {
    let c = BigInt(crc32c(mib));
    for (let l = mib.length; l < half; l *= 2) c = combineCrc('CRC32C', c, c, l);
    return c;
  })();
  t.equal(combineCrc('CRC32C', combineCrc('CRC32C', a, zerosHalf, half), zerosHalf, half), combineCrc('CRC32C', a, doubled, length), '8 GiB in halves or at once');
  t.throws(() => combineCrc('CRC32', 0n, 0n, -1));
});

t.test('COMPOSITE multipart checksum: the checksum of the binary part checksums, then -N', async (t) => {
  const parts = [randomBytes(1000), randomBytes(77)];
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const values = parts.map((p) => computeChecksum(algorithm, p));
    const expected = computeChecksum(algorithm, Buffer.concat(values.map((v) => Buffer.from(v, 'base64'))));
    t.equal(compositeChecksum(algorithm, values), `${expected}-2`);
  }
});

t.test('names and values as S3 spells them', async (t) => {
  t.equal(checksumHeaderName('CRC64NVME'), 'x-amz-checksum-crc64nvme');
  t.equal(checksumAlgorithmFromHeaderName('X-Amz-Checksum-Crc32c'), 'CRC32C');
  t.equal(checksumAlgorithmFromHeaderName('x-amz-checksum-type'), undefined, 'not every x-amz-checksum-* header is a value');
  t.equal(checksumAlgorithmFromHeaderName('x-amz-checksum-mode'), undefined);
  t.equal(parseChecksumAlgorithm('sha256'), 'SHA256');
  t.equal(parseChecksumAlgorithm('md5'), undefined);
  t.ok(isValidChecksumValue('CRC32', 'AAAAAA=='));
  t.notOk(isValidChecksumValue('CRC32', 'AAAAAA='), 'padding is required');
  t.notOk(isValidChecksumValue('CRC32', 'AAAAAAAA'), 'wrong length');
  t.notOk(isValidChecksumValue('CRC32', 'AA AAAA=='), 'junk characters');
  t.notOk(isValidChecksumValue('SHA1', computeChecksum('SHA256', CHECK_INPUT)));
});

import { createHash } from 'node:crypto';
import { t } from 'tap';
import { BodyDigest, DigestPool, INLINE_DIGEST_MAX_BYTES } from '../../../src/gateway/digest/index.js';
import { computeChecksum, type ChecksumAlgorithm } from '../../../src/gateway/s3/checksums/index.js';
import { seededBytes } from '../../helpers/bytes.js';

// Body digests are the same whether computed inline or by a worker, at every size around the switch-over.

const pool = new DigestPool({ workers: 2 });
t.teardown(() => pool.close());

async function digestOf(body: Buffer, pieceBytes: number, sha256: boolean, checksum: ChecksumAlgorithm | undefined, withPool: DigestPool | undefined) {
  const digest = new BodyDigest({ sha256, checksum }, withPool);
  let waits = 0;
  for (let i = 0; i < body.length; i += pieceBytes) {
    if (!digest.update(body.subarray(i, i + pieceBytes))) {
      waits += 1;
      await digest.ready();
    }
  }
  const digests = await digest.digests();
  return {
    md5: Buffer.from(digests.md5).toString('hex'),
    sha256: digests.sha256 === undefined ? undefined : Buffer.from(digests.sha256).toString('hex'),
    checksum: digests.checksum === undefined ? undefined : Buffer.from(digests.checksum).toString('base64'),
    waits,
  };
}

t.test('inline and worker digests match node:crypto and the checksum reference at every size', async (t) => {
  const sizes = [0, 1, INLINE_DIGEST_MAX_BYTES, INLINE_DIGEST_MAX_BYTES + 1, 3 * 1024 * 1024 + 5];
  const algorithms: (ChecksumAlgorithm | undefined)[] = [undefined, 'CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
  for (const size of sizes) {
    const body = seededBytes(size, size + 1);
    for (const checksum of algorithms) {
      const expected = {
        md5: createHash('md5').update(body).digest('hex'),
        sha256: checksum === 'SHA1' ? undefined : createHash('sha256').update(body).digest('hex'),
        checksum: checksum === undefined ? undefined : computeChecksum(checksum, body),
      };
      for (const [label, withPool] of [['inline', undefined], ['pool', pool]] as const) {
        const got = await digestOf(body, 65_536 + 3, expected.sha256 !== undefined, checksum, withPool);
        t.same({ md5: got.md5, sha256: got.sha256, checksum: got.checksum }, expected, `${size} bytes, ${checksum ?? 'no checksum'}, ${label}`);
      }
    }
  }
});

t.test('a body much larger than the worker takes at once makes its writer wait, then completes', async (t) => {
  const body = seededBytes(8 * 1024 * 1024, 5);
  const got = await digestOf(body, 1024 * 1024, false, undefined, pool);
  t.equal(got.md5, createHash('md5').update(body).digest('hex'));
  t.ok(got.waits > 0, `backpressure was applied (${got.waits} waits)`);
});

t.test('streams on a closed pool fail instead of hanging; an abandoned stream is forgotten', async (t) => {
  const own = new DigestPool({ workers: 1 });
  const abandoned = new BodyDigest({ sha256: false, checksum: undefined }, own);
  abandoned.update(seededBytes(INLINE_DIGEST_MAX_BYTES + 10, 1));
  abandoned.abandon();
  const digest = new BodyDigest({ sha256: true, checksum: 'CRC32' }, own);
  digest.update(seededBytes(INLINE_DIGEST_MAX_BYTES + 10, 2));
  const closing = own.close();
  await t.rejects(digest.digests(), { code: 'DigestWorkerFailed' });
  await closing;
  t.throws(() => own.open({ sha256: false, checksum: undefined }), /closed/);
});

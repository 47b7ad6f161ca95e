import { t } from 'tap';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { md5Hex } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { completeXml, rawS3, xmlField, xmlFields } from '../gateway/raw-s3.js';

/**
 * Multipart at S3's limits: an upload of 10,000 parts under a 1,024-byte key, listed in pages, completed
 * and read back. The minimum part size is lowered so the upload stays small; every other S3 rule
 * applies unchanged. About 200 s of CPU on 2 cores, so it runs in `npm run test:endurance`, not on every change;
 * the 10,000-part limit itself (part 10,001 refused) and large manifests are proven in npm test
 * (integration/multipart-edges, storage-node/large-commit).
 */
const MIN_PART_BYTES = 16;
const { cluster, s3, bucket } = await clusterWithBucket(t, {
  gatewayOverrides: { minPartSizeBytes: MIN_PART_BYTES, metadataTimeoutMs: 30_000, stallTimeoutMs: 30_000 },
});

t.test('10,000 parts under a 1,024-byte key complete, list in pages, and read back', { timeout: 900_000 }, async (t) => {
  const PARTS = 10_000;
  const key = `long/${'k'.repeat(1024 - 'long/'.length)}`;
  t.equal(Buffer.byteLength(key), 1024);
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const limit = pLimit(16);
  const bodies = Array.from({ length: PARTS }, (_, i) => Buffer.from(`part ${String(i + 1).padStart(5, '0')}`.padEnd(MIN_PART_BYTES, '.')));
  const etags = await Promise.all(
    bodies.map((body, i) =>
      limit(async () => {
        const answer = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key, query: { partNumber: String(i + 1), uploadId: UploadId }, body });
        if (answer.status !== 200) throw new Error(`part ${i + 1}: ${answer.status} ${answer.body}`);
        return String(answer.headers['etag']);
      }),
    ),
  );
  t.equal(etags[0], `"${md5Hex(bodies[0] as Buffer)}"`);

  // ListParts over all of them: S3's page of at most 1,000, resumed from NextPartNumberMarker.
  const listed: number[] = [];
  let marker = 0;
  let pages = 0;
  for (;;) {
    const page = await rawS3(cluster.endpoint, { method: 'GET', bucket, key, query: { uploadId: UploadId, 'part-number-marker': String(marker), 'max-parts': '1000' } });
    t.equal(page.status, 200);
    listed.push(...xmlFields(page.body, 'PartNumber').map(Number));
    pages += 1;
    if (xmlField(page.body, 'IsTruncated') !== 'true') break;
    marker = Number(xmlField(page.body, 'NextPartNumberMarker'));
  }
  t.equal(pages, 10, 'ten pages of 1,000');
  t.same(listed, Array.from({ length: PARTS }, (_, i) => i + 1), 'every part once, in order');

  const completed = await rawS3(cluster.endpoint, {
    method: 'POST',
    bucket,
    key,
    query: { uploadId: UploadId },
    body: completeXml(etags.map((ETag, i) => ({ PartNumber: i + 1, ETag }))),
  });
  t.equal(completed.status, 200, `completion succeeds: ${completed.body.slice(0, 300)}`);
  const md5s = Buffer.concat(bodies.map((body) => Buffer.from(md5Hex(body), 'hex')));
  t.equal(xmlField(completed.body, 'ETag')?.replace(/&quot;/g, '"'), `"${md5Hex(md5s)}-${PARTS}"`, 'S3\'s multipart ETag');

  const head = await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key });
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(PARTS * MIN_PART_BYTES));
  const tail = await rawS3(cluster.endpoint, { method: 'GET', bucket, key, headers: { range: `bytes=-${MIN_PART_BYTES * 3}` } });
  t.equal(tail.status, 206);
  t.equal(tail.body, Buffer.concat(bodies.slice(-3)).toString(), 'the last parts read back');
});

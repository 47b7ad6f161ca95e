import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { PassThrough } from 'node:stream';
import { collect, seededBytes } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { completeXml, rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

/**
 * Multipart at the edges: a retried completion, retried and out-of-order parts. The minimum part size
 * is lowered so the uploads stay small; every other S3 rule applies unchanged. S3's 10,000 parts under
 * a 1,024-byte key: test/extended/multipart-10000-parts.ts.
 */
const MIN_PART_BYTES = 16;
const { cluster, s3, bucket } = await clusterWithBucket(t, {
  gatewayOverrides: { minPartSizeBytes: MIN_PART_BYTES, metadataTimeoutMs: 30_000, stallTimeoutMs: 30_000 },
});

t.test('a completion retried after it succeeded answers 200 with the same ETag and location', async (t) => {
  const key = 'retried/completion';
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts = [seededBytes(MIN_PART_BYTES, 1), seededBytes(5, 2)];
  const completed: CompletedPart[] = [];
  for (const [i, Body] of parts.entries()) {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }));
    completed.push({ PartNumber: i + 1, ETag });
  }
  const first = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: completed } }));
  const again = await rawS3(cluster.endpoint, { method: 'POST', bucket, key, query: { uploadId: UploadId }, body: completeXml(completed as { PartNumber: number; ETag: string }[]) });
  t.equal(again.status, 200, 'the retry succeeds');
  t.equal(xmlField(again.body, 'ETag')?.replace(/&quot;/g, '"'), first.ETag, 'with the first answer\'s ETag');
  t.equal(xmlField(again.body, 'Location'), first.Location, 'and location');
  t.equal(xmlField(again.body, 'Key'), key);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(Buffer.concat(parts)), 'the object is the one completion wrote');
  t.same(
    await sdkError(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'retried/other-key', UploadId, MultipartUpload: { Parts: completed } }))),
    { name: 'NoSuchUpload', status: 404 },
    'the upload id under another key is still unknown',
  );
});

t.test('a part uploaded again replaces the first; parts finishing out of order complete in ascending order', async (t) => {
  const key = 'retried/parts';
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const p1 = seededBytes(MIN_PART_BYTES * 2, 11);
  const p2 = seededBytes(MIN_PART_BYTES, 12);
  const p3 = seededBytes(7, 13);
  // The last part first, then part 2, then part 1 twice: the second upload of part 1 is the one kept.
  const e3 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 3, Body: p3 }))).ETag ?? '';
  const e2 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: p2 }))).ETag ?? '';
  const stale = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: seededBytes(MIN_PART_BYTES, 99) }))).ETag ?? '';
  const e1 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: p1 }))).ETag ?? '';
  const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
  t.same(listed.Parts?.map((part) => [part.PartNumber, part.ETag, part.Size]), [[1, e1, p1.length], [2, e2, p2.length], [3, e3, p3.length]], 'ListParts shows the replacement');
  t.same(
    await sdkError(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: stale }, { PartNumber: 2, ETag: e2 }, { PartNumber: 3, ETag: e3 }] } }))),
    { name: 'InvalidPart', status: 400 },
    'the replaced part\'s ETag is no longer a part',
  );
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }, { PartNumber: 3, ETag: e3 }] } }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(Buffer.concat([p1, p2, p3])), 'the object is the parts in number order');
});

t.test('a first part that starts first and finishes last completes in part order', async (t) => {
  const key = 'retried/slow-first';
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const p1 = Buffer.from('first part, sent slowly'.padEnd(MIN_PART_BYTES * 4, '.'));
  const p2 = Buffer.from('second');
  const slow = new PassThrough();
  const first = rawS3(cluster.endpoint, {
    method: 'PUT',
    bucket,
    key,
    query: { partNumber: '1', uploadId: UploadId },
    headers: { 'content-length': String(p1.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    bodyStream: slow,
  });
  slow.write(p1.subarray(0, 10));
  // Part 2 is sent whole and answered while part 1 is still arriving.
  const second = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: p2 }));
  slow.end(p1.subarray(10));
  const firstAnswer = await first;
  t.equal(firstAnswer.status, 200, 'part 1 finishes after part 2');
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: String(firstAnswer.headers['etag']) }, { PartNumber: 2, ETag: second.ETag ?? '' }] },
    }),
  );
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(Buffer.concat([p1, p2])), 'the object is part 1 then part 2');
});

import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
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

/** An UploadPart whose first bytes are sent now and the rest by `finish`, which answers the request's response. */
function slowPart(key: string, uploadId: string, partNumber: number, body: Buffer): { finish: () => ReturnType<typeof rawS3> } {
  const stream = new PassThrough();
  const answer = rawS3(cluster.endpoint, {
    method: 'PUT',
    bucket,
    key,
    query: { partNumber: String(partNumber), uploadId },
    headers: { 'content-length': String(body.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    bodyStream: stream,
  });
  stream.write(body.subarray(0, 10));
  return {
    finish: () => {
      stream.end(body.subarray(10));
      return answer;
    },
  };
}

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
  const first = slowPart(key, UploadId, 1, p1);
  // Part 2 is sent whole and answered while part 1 is still arriving.
  const second = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: p2 }));
  const firstAnswer = await first.finish();
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

t.test('a part uploaded again that finishes after the completion is refused and leaves the completed object whole', async (t) => {
  const key = 'retried/part-after-completion';
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const p1 = seededBytes(MIN_PART_BYTES * 4, 21);
  const p2 = seededBytes(9, 22);
  const e1 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: p1 }))).ETag ?? '';
  const e2 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: p2 }))).ETag ?? '';
  // A second upload of part 1 (an SDK's retry of a slow first attempt) is still arriving when the client completes.
  const late = slowPart(key, UploadId, 1, p1);
  const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }] } }));
  t.ok(completed.ETag, 'the completion succeeds');
  const lateAnswer = await late.finish();
  t.equal(lateAnswer.status, 404, 'the part that finished after the completion is refused');
  t.equal(xmlField(lateAnswer.body, 'Code'), 'NoSuchUpload');
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(Buffer.concat([p1, p2])), 'the completed object reads back whole');
});

t.test('two completions of one upload at once write one object: the second answers as the first did', async (t) => {
  // In a versioned bucket, where two completions that both committed would leave two versions.
  const versioned = `${bucket}-versioned`;
  await s3.send(new CreateBucketCommand({ Bucket: versioned }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  const key = 'concurrent-completions';
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: versioned, Key: key }));
  const parts = [seededBytes(MIN_PART_BYTES, 31), seededBytes(MIN_PART_BYTES, 32), seededBytes(3, 33)];
  const etags: string[] = [];
  for (const [i, Body] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: versioned, Key: key, UploadId, PartNumber: i + 1, Body }))).ETag ?? '');
  const complete = (numbers: number[]) =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: versioned, Key: key, UploadId, MultipartUpload: { Parts: numbers.map((n) => ({ PartNumber: n, ETag: etags[n - 1] })) } }));
  const [a, b] = await Promise.all([complete([1, 3]), complete([2, 3])]);
  t.equal(a.ETag, b.ETag, 'both answer with the one object written');
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: versioned, Prefix: key }));
  t.equal(versions.Versions?.length, 1, 'one version of the key');
  const got = await s3.send(new GetObjectCommand({ Bucket: versioned, Key: key }));
  const body = await collect(got.Body as AsyncIterable<Uint8Array>);
  const winner = [Buffer.concat([parts[0] as Buffer, parts[2] as Buffer]), Buffer.concat([parts[1] as Buffer, parts[2] as Buffer])];
  t.ok(winner.some((w) => w.equals(body)), 'the object is one of the two lists of parts, whole');
  t.equal(got.ETag, a.ETag);
});

t.test('x-amz-mp-object-size that differs from the parts is InvalidRequest and writes nothing; part numbers outside 1..10000 are InvalidArgument', async (t) => {
  const key = 'declared/size';
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts = [seededBytes(MIN_PART_BYTES, 41), seededBytes(5, 42)];
  const completed: { PartNumber: number; ETag: string }[] = [];
  for (const [i, Body] of parts.entries()) {
    completed.push({ PartNumber: i + 1, ETag: (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }))).ETag ?? '' });
  }
  const complete = (body: string, headers: Record<string, string> = {}) => rawS3(cluster.endpoint, { method: 'POST', bucket, key, query: { uploadId: UploadId }, body, headers });
  for (const [partNumber, message] of [['0', 'PartNumber must be >= 1'], ['10001', 'PartNumber must be <= 10000']]) {
    const answer = await complete(completeXml([{ PartNumber: partNumber as unknown as number, ETag: completed[0]?.ETag ?? '' }]));
    t.equal(answer.status, 400, `part number ${partNumber}`);
    t.equal(xmlField(answer.body, 'Code'), 'InvalidArgument');
    t.equal(xmlField(answer.body, 'Message')?.replace(/&gt;/g, '>').replace(/&lt;/g, '<'), message);
  }
  const total = parts[0]!.length + parts[1]!.length;
  const wrong = await complete(completeXml(completed), { 'x-amz-mp-object-size': String(total + 1) });
  t.equal(wrong.status, 400);
  t.equal(xmlField(wrong.body, 'Code'), 'InvalidRequest');
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))), { name: 'NoSuchKey', status: 404 }, 'nothing was written');
  const right = await complete(completeXml(completed), { 'x-amz-mp-object-size': String(total) });
  t.equal(right.status, 200, right.body);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(Buffer.concat(parts)));
});

t.test('uploads in progress end with their bucket: after DeleteBucket and a new bucket of the same name they are not listed, continued or completed', async (t) => {
  const reused = `${bucket}-reused`;
  await s3.send(new CreateBucketCommand({ Bucket: reused }));
  const key = 'left/behind';
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: reused, Key: key }));
  const part = seededBytes(7, 51);
  const { ETag = '' } = await s3.send(new UploadPartCommand({ Bucket: reused, Key: key, UploadId, PartNumber: 1, Body: part }));
  await s3.send(new DeleteBucketCommand({ Bucket: reused }));
  await s3.send(new CreateBucketCommand({ Bucket: reused }));
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: reused }));
  t.same(listed.Uploads ?? [], [], 'the new bucket lists no upload');
  t.same(await sdkError(s3.send(new UploadPartCommand({ Bucket: reused, Key: key, UploadId, PartNumber: 2, Body: part }))), { name: 'NoSuchUpload', status: 404 });
  t.same(await sdkError(s3.send(new ListPartsCommand({ Bucket: reused, Key: key, UploadId }))), { name: 'NoSuchUpload', status: 404 });
  t.same(
    await sdkError(s3.send(new CompleteMultipartUploadCommand({ Bucket: reused, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }))),
    { name: 'NoSuchUpload', status: 404 },
  );
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: reused, Key: key }))), { name: 'NoSuchKey', status: 404 }, 'the old bucket\'s bytes did not become an object of the new one');
  const fresh = await s3.send(new CreateMultipartUploadCommand({ Bucket: reused, Key: key }));
  t.same((await s3.send(new ListMultipartUploadsCommand({ Bucket: reused }))).Uploads?.map((u) => u.UploadId), [fresh.UploadId], 'an upload of the new bucket is listed');
});

import { createHash } from 'node:crypto';
import { t } from 'tap';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { sdkError } from '../gateway/raw-s3.js';

const { s3, bucket } = await clusterWithBucket(t);
const MiB = 1024 * 1024;

async function errorName(promise: Promise<unknown>): Promise<string> {
  return (await sdkError(promise)).name;
}

t.test('a completed upload reads back as the parts in order, with S3’s multipart ETag', async (t) => {
  const parts = [seededBytes(5 * MiB, 1), seededBytes(5 * MiB + 3, 2), seededBytes(123_457, 3)];
  const created = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big/object', ContentType: 'video/mp4', Metadata: { take: 'two' } }),
  );
  const uploadId = created.UploadId;
  t.ok(uploadId);
  const etags: string[] = [];
  for (const [i, body] of parts.entries()) {
    const uploaded = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big/object', UploadId: uploadId, PartNumber: i + 1, Body: body }));
    t.equal(uploaded.ETag, `"${md5Hex(body)}"`, `part ${i + 1} ETag is its MD5`);
    etags.push(uploaded.ETag ?? '');
  }
  const listedParts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'big/object', UploadId: uploadId }));
  t.same(listedParts.Parts?.map((p) => [p.PartNumber, p.Size]), [[1, 5 * MiB], [2, 5 * MiB + 3], [3, 123_457]]);
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  t.same(uploads.Uploads?.map((u) => [u.Key, u.UploadId]), [['big/object', uploadId]]);
  const done = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: 'big/object', UploadId: uploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }),
  );
  const md5s = Buffer.concat(parts.map((p) => createHash('md5').update(p).digest()));
  const expectedEtag = `"${createHash('md5').update(md5s).digest('hex')}-3"`;
  t.equal(done.ETag, expectedEtag);
  const whole = Buffer.concat(parts);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/object' }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(whole), 'bytes are the concatenated parts');
  t.equal(got.ETag, expectedEtag);
  t.equal(got.ContentType, 'video/mp4');
  t.same(got.Metadata, { take: 'two' });
  const across = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/object', Range: `bytes=${5 * MiB - 10}-${10 * MiB + 10}` }));
  t.ok((await collect(across.Body as AsyncIterable<Uint8Array>)).equals(whole.subarray(5 * MiB - 10, 10 * MiB + 11)), 'a range across part boundaries');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/object' }));
  t.equal(head.ContentLength, whole.length);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'big/' }));
  t.same(listed.Contents?.map((c) => [c.Key, c.Size, c.ETag]), [['big/object', whole.length, expectedEtag]]);
  t.same((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], [], 'the upload is gone');
  t.equal(await errorName(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big/object', UploadId: uploadId, PartNumber: 4, Body: 'x' }))), 'NoSuchUpload');
});

t.test('completion refuses small middle parts, unknown parts, wrong order and unknown uploads', async (t) => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'bad' }));
  const small = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'bad', UploadId, PartNumber: 1, Body: 'tiny' }));
  const last = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'bad', UploadId, PartNumber: 2, Body: 'end' }));
  const complete = (parts: { ETag: string | undefined; PartNumber: number }[], uploadId = UploadId) =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'bad', UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  t.equal(await errorName(complete([{ ETag: small.ETag, PartNumber: 1 }, { ETag: last.ETag, PartNumber: 2 }])), 'EntityTooSmall');
  t.equal(await errorName(complete([{ ETag: '"00000000000000000000000000000000"', PartNumber: 1 }])), 'InvalidPart');
  t.equal(await errorName(complete([{ ETag: last.ETag, PartNumber: 2 }, { ETag: small.ETag, PartNumber: 1 }])), 'InvalidPartOrder');
  t.equal(await errorName(complete([{ ETag: small.ETag, PartNumber: 1 }], 'f'.repeat(32))), 'NoSuchUpload');
  t.equal(await errorName(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bad' }))), 'NoSuchKey', 'failed completions created nothing');
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'bad', UploadId }));
  t.equal(await errorName(complete([{ ETag: last.ETag, PartNumber: 2 }])), 'NoSuchUpload', 'an aborted upload cannot complete');
});

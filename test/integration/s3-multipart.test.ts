import { t } from 'tap';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { compositeChecksum, computeChecksum } from '../../src/gateway/s3/checksums/index.js';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField, xmlFields } from '../gateway/raw-s3.js';

const MiB = 1024 * 1024;
const { cluster, s3, bucket } = await clusterWithBucket(t);

async function read(key: string, checksumMode = false): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(checksumMode ? { ChecksumMode: 'ENABLED' as const } : {}) }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

t.test('lib-storage Upload with default checksums: COMPOSITE CRC32 `<base64>-N` built from the parts', async (t) => {
  const body = seededBytes(12 * MiB + 5, 3);
  const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: 'lib-storage', Body: body }, partSize: 5 * MiB, queueSize: 2 });
  const result = await upload.done();
  const parts = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)];
  const expected = compositeChecksum('CRC32', parts.map((part) => computeChecksum('CRC32', part)));
  t.match(expected, /^[A-Za-z0-9+/=]+-3$/);
  t.equal(result.ChecksumCRC32, expected, 'CompleteMultipartUploadResult names the composite checksum');
  t.equal(result.ChecksumType, 'COMPOSITE');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'lib-storage', ChecksumMode: 'ENABLED' }));
  t.equal(head.ChecksumCRC32, expected);
  t.equal(head.ChecksumType, 'COMPOSITE');
  t.ok((await read('lib-storage', true)).equals(body), 'GET with checksum mode returns the bytes');
});

async function uploadParts(key: string, parts: Buffer[], create: Partial<CreateMultipartUploadCommandInput>, partChecksum?: 'CRC64NVME' | 'SHA256' | 'CRC32C'): Promise<{ UploadId: string; completed: CompletedPart[] }> {
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...create }));
  const completed: CompletedPart[] = [];
  for (const [i, Body] of parts.entries()) {
    const uploaded = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body, ...(partChecksum === undefined ? {} : { ChecksumAlgorithm: partChecksum }) }));
    completed.push({
      PartNumber: i + 1,
      ETag: uploaded.ETag,
      ...(uploaded.ChecksumCRC64NVME === undefined ? {} : { ChecksumCRC64NVME: uploaded.ChecksumCRC64NVME }),
      ...(uploaded.ChecksumSHA256 === undefined ? {} : { ChecksumSHA256: uploaded.ChecksumSHA256 }),
      ...(uploaded.ChecksumCRC32C === undefined ? {} : { ChecksumCRC32C: uploaded.ChecksumCRC32C }),
    });
  }
  return { UploadId, completed };
}

t.test('CRC64NVME uploads are FULL_OBJECT: the CRC of the whole object, verified against the client\'s', async (t) => {
  const parts = [seededBytes(5 * MiB, 7), seededBytes(777_777, 8)];
  const whole = Buffer.concat(parts);
  const full = computeChecksum('CRC64NVME', whole);
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'probe', ChecksumAlgorithm: 'CRC64NVME' }));
  t.equal(created.ChecksumAlgorithm, 'CRC64NVME');
  t.equal(created.ChecksumType, 'FULL_OBJECT', 'CRC64NVME defaults to FULL_OBJECT');
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'probe', UploadId: created.UploadId }));
  const { UploadId, completed } = await uploadParts('full', parts, { ChecksumAlgorithm: 'CRC64NVME' }, 'CRC64NVME');
  t.equal(completed[0]?.ChecksumCRC64NVME, computeChecksum('CRC64NVME', parts[0] as Buffer), 'UploadPart returns the part CRC64NVME');
  const wrong = await sdkError(
    s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'full', UploadId, MultipartUpload: { Parts: completed }, ChecksumCRC64NVME: computeChecksum('CRC64NVME', Buffer.from('other')), ChecksumType: 'FULL_OBJECT' })),
  );
  t.same(wrong, { name: 'BadDigest', status: 400 }, 'a wrong whole-object checksum is refused');
  const otherType = await sdkError(
    s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'full', UploadId, MultipartUpload: { Parts: completed }, ChecksumCRC64NVME: full, ChecksumType: 'COMPOSITE' })),
  );
  t.same(otherType, { name: 'BadDigest', status: 400 }, 'a checksum type other than the upload\'s is BadDigest, as S3 documents');
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'full' }))), { name: 'NotFound', status: 404 }, 'neither completes anything');
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'full', UploadId, MultipartUpload: { Parts: completed }, ChecksumCRC64NVME: full, ChecksumType: 'FULL_OBJECT' }),
  );
  t.equal(done.ChecksumCRC64NVME, full);
  t.equal(done.ChecksumType, 'FULL_OBJECT');
  // The SDK validates a full-object checksum on GET: a wrong one would throw here.
  t.ok((await read('full', true)).equals(whole), 'GET validates against the full-object CRC');
});

t.test('SHA256 is COMPOSITE; impossible algorithm and type pairs are refused at creation', async (t) => {
  const parts = [seededBytes(5 * MiB, 9), Buffer.from('tail')];
  const { UploadId, completed } = await uploadParts('sha', parts, { ChecksumAlgorithm: 'SHA256' }, 'SHA256');
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'sha', UploadId, MultipartUpload: { Parts: completed } }));
  t.equal(done.ChecksumSHA256, compositeChecksum('SHA256', parts.map((p) => computeChecksum('SHA256', p))));
  t.equal(done.ChecksumType, 'COMPOSITE');
  t.same(await sdkError(s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'x', ChecksumAlgorithm: 'SHA256', ChecksumType: 'FULL_OBJECT' }))), { name: 'InvalidRequest', status: 400 });
  t.same(await sdkError(s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'x', ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'COMPOSITE' }))), { name: 'InvalidRequest', status: 400 });
  const typeAlone = await rawS3(cluster.endpoint, { method: 'POST', bucket, key: 'x', query: { uploads: '' }, headers: { 'x-amz-checksum-type': 'COMPOSITE' } });
  t.equal(xmlField(typeAlone.body, 'Code'), 'InvalidRequest');
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'x' }));
  t.equal(uploads.Uploads, undefined, 'no refused creation left an upload');
});

t.test('part checksum errors: a wrong value, a different algorithm, a wrong value at completion', async (t) => {
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'strict', ChecksumAlgorithm: 'CRC32C' }));
  const part = seededBytes(1000, 4);
  const badValue = await sdkError(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'strict', UploadId, PartNumber: 1, Body: part, ChecksumCRC32C: computeChecksum('CRC32C', Buffer.from('else')) })));
  t.same(badValue, { name: 'BadDigest', status: 400 });
  const otherAlgorithm = await sdkError(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'strict', UploadId, PartNumber: 1, Body: part, ChecksumAlgorithm: 'CRC32' })));
  t.same(otherAlgorithm, { name: 'InvalidRequest', status: 400 }, 'a part must use its upload\'s algorithm');
  t.equal((await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'strict', UploadId }))).Parts, undefined, 'refused parts were not stored');
  const good = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'strict', UploadId, PartNumber: 1, Body: part, ChecksumAlgorithm: 'CRC32C' }));
  t.equal(good.ChecksumCRC32C, computeChecksum('CRC32C', part));
  t.equal(good.$metadata.httpStatusCode, 200);
  const wrongAtCompletion = await sdkError(
    s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'strict', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: good.ETag, ChecksumCRC32C: 'AAAAAA==' }] } })),
  );
  t.same(wrongAtCompletion, { name: 'InvalidPart', status: 400 });
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'strict', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: good.ETag, ChecksumCRC32C: good.ChecksumCRC32C }] } }),
  );
  t.equal(done.ChecksumCRC32C, compositeChecksum('CRC32C', [computeChecksum('CRC32C', part)]), 'completes after the refusals');
});

t.test('ListParts pages by part-number-marker and max-parts and lists part checksums', async (t) => {
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'paged', ChecksumAlgorithm: 'CRC32' }));
  t.teardown(() => s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'paged', UploadId })));
  for (const n of [1, 2, 3, 5]) await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'paged', UploadId, PartNumber: n, Body: `part ${n}` }));
  const first = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'paged', UploadId, MaxParts: 2 }));
  t.same(first.Parts?.map((p) => p.PartNumber), [1, 2]);
  t.equal(first.IsTruncated, true);
  t.equal(first.NextPartNumberMarker, '2');
  t.equal(first.ChecksumAlgorithm, 'CRC32');
  t.equal(first.ChecksumType, 'COMPOSITE');
  t.equal(first.Parts?.[0]?.ChecksumCRC32, computeChecksum('CRC32', Buffer.from('part 1')));
  const second = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'paged', UploadId, MaxParts: 2, PartNumberMarker: first.NextPartNumberMarker }));
  t.same(second.Parts?.map((p) => p.PartNumber), [3, 5]);
  t.equal(second.IsTruncated, false);
  const bad = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'paged', query: { uploadId: UploadId, 'max-parts': 'many' } });
  t.equal(xmlField(bad.body, 'Code'), 'InvalidArgument');
});

t.test('ListMultipartUploads: key order then initiation order, markers, max-uploads, prefix and delimiter', async (t) => {
  const listBucket = bucketName('uploads');
  await s3.send(new CreateBucketCommand({ Bucket: listBucket }));
  const ids: [string, string][] = [];
  for (const key of ['b', 'a/2', 'c', 'a/1', 'b', 'd e']) {
    const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: listBucket, Key: key }));
    ids.push([key, UploadId]);
  }
  const bIds = ids.filter(([key]) => key === 'b').map(([, id]) => id);
  const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: listBucket }));
  t.same(all.Uploads?.map((u) => u.Key), ['a/1', 'a/2', 'b', 'b', 'c', 'd e'], 'sorted by key');
  t.same(all.Uploads?.filter((u) => u.Key === 'b').map((u) => u.UploadId), bIds, 'one key\'s uploads in initiation order');
  const seen: string[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (let page = 0; page < 10; page += 1) {
    const result = await s3.send(new ListMultipartUploadsCommand({ Bucket: listBucket, MaxUploads: 2, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    seen.push(...(result.Uploads ?? []).map((u) => `${u.Key}:${u.UploadId}`));
    if (result.IsTruncated !== true) break;
    keyMarker = result.NextKeyMarker;
    uploadIdMarker = result.NextUploadIdMarker;
  }
  t.same(seen, (all.Uploads ?? []).map((u) => `${u.Key}:${u.UploadId}`), 'paging with both markers visits each upload once, in order');
  const rolled = await s3.send(new ListMultipartUploadsCommand({ Bucket: listBucket, Delimiter: '/' }));
  t.same(rolled.CommonPrefixes?.map((p) => p.Prefix), ['a/']);
  t.same(rolled.Uploads?.map((u) => u.Key), ['b', 'b', 'c', 'd e']);
  const prefixed = await s3.send(new ListMultipartUploadsCommand({ Bucket: listBucket, Prefix: 'a/' }));
  t.same(prefixed.Uploads?.map((u) => u.Key), ['a/1', 'a/2']);
  const encoded = await rawS3(cluster.endpoint, { method: 'GET', bucket: listBucket, query: { uploads: '', 'encoding-type': 'url', prefix: 'd ' } });
  t.same(xmlFields(encoded.body, 'Key'), ['d%20e'], 'keys URL-encoded');
  t.equal(xmlField(encoded.body, 'Prefix'), 'd%20');
  t.equal(xmlField(encoded.body, 'EncodingType'), 'url');
  await s3.send(new AbortMultipartUploadCommand({ Bucket: listBucket, Key: 'c', UploadId: ids.find(([key]) => key === 'c')?.[1] }));
  const afterAbort = await s3.send(new ListMultipartUploadsCommand({ Bucket: listBucket }));
  t.notOk(afterAbort.Uploads?.some((u) => u.Key === 'c'), 'an aborted upload is gone');
});

import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { refusal } from '../helpers/sdk-refusal.js';
import { customerKey } from '../helpers/sse.js';
import { rawS3, xmlField } from '../gateway/raw-s3.js';

/** Answers S3 gives that clients check: partNumber past the parts, version ids of suspended writes, delete headers. */
const MiB = 1024 * 1024;
const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { sseCustomerKeysOverHttp: true } });
t.teardown(() => cluster.close());
const s3 = cluster.client();
const bucket = bucketName('answers');
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

async function uploadInTwoParts(key: string, sse: Record<string, string> = {}): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...sse }));
  const first = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: seededBytes(5 * MiB, 1), ...sse }));
  const second = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: 'tail', ...sse }));
  await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: first.ETag }, { PartNumber: 2, ETag: second.ETag }] }, ...sse }),
  );
}

t.test('partNumber past the object\'s parts is 400 InvalidPart on GET and HEAD, multipart, whole and SSE-C objects alike', async (t) => {
  await uploadInTwoParts('mp');
  t.match(await refusal(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: 3 }))), { name: 'InvalidPart', status: 400 });
  t.match(await refusal(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: 3 }))), { status: 400 }, 'HEAD: the status (a HEAD has no body to name the code)');
  const second = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: 2 }));
  t.equal((await collect(second.Body as AsyncIterable<Uint8Array>)).toString(), 'tail', 'a part it has is read');

  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'whole', Body: 'written whole' }));
  t.match(await refusal(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'whole', PartNumber: 2 }))), { name: 'InvalidPart', status: 400 });
  t.match(await refusal(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'whole', PartNumber: 2 }))), { status: 400 });
  const raw = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'whole', query: { partNumber: '2' } });
  t.equal(xmlField(raw.body, 'Code'), 'InvalidPart');
  t.match(await refusal(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'whole', PartNumber: 0 }))), { name: 'InvalidArgument', status: 400 }, 'outside 1..10000 is InvalidArgument');

  const key = customerKey();
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 };
  await uploadInTwoParts('mp-sse-c', sse);
  t.match(await refusal(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp-sse-c', PartNumber: 3, ...sse }))), { name: 'InvalidPart', status: 400 });
  t.match(await refusal(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp-sse-c', PartNumber: 3, ...sse }))), { status: 400 });
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'whole-sse-c', Body: 'secret', ...sse }));
  t.match(await refusal(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'whole-sse-c', PartNumber: 2, ...sse }))), { name: 'InvalidPart', status: 400 });
  const part = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'whole-sse-c', PartNumber: 1, ...sse }));
  t.equal((await collect(part.Body as AsyncIterable<Uint8Array>)).toString(), 'secret', 'part 1 of an SSE-C object is the object');
});

t.test('a suspended bucket\'s PUT, CopyObject and CompleteMultipartUpload answer without x-amz-version-id; GET names the version null', async (t) => {
  const suspended = bucketName('suspended');
  await s3.send(new CreateBucketCommand({ Bucket: suspended }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: suspended, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: suspended, VersioningConfiguration: { Status: 'Suspended' } }));
  const put = await s3.send(new PutObjectCommand({ Bucket: suspended, Key: 'p', Body: 'null version' }));
  t.equal(put.VersionId, undefined, 'PutObject');
  const copied = await s3.send(new CopyObjectCommand({ Bucket: suspended, Key: 'c', CopySource: `${suspended}/p` }));
  t.equal(copied.VersionId, undefined, 'CopyObject');
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: suspended, Key: 'm' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: suspended, Key: 'm', UploadId, PartNumber: 1, Body: 'one part' }));
  const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket: suspended, Key: 'm', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  t.equal(completed.VersionId, undefined, 'CompleteMultipartUpload');
  const retried = await s3.send(new CompleteMultipartUploadCommand({ Bucket: suspended, Key: 'm', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  t.equal(retried.VersionId, undefined, 'a retried completion answers as the first did');
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: suspended, Key: 'p' }))).VersionId, 'null', 'HEAD names the null version');
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: suspended }));
  t.same(versions.Versions?.map((v) => [v.Key, v.VersionId]), [['c', 'null'], ['m', 'null'], ['p', 'null']], 'every write is the null version');
  await s3.send(new PutBucketVersioningCommand({ Bucket: suspended, VersioningConfiguration: { Status: 'Enabled' } }));
  const versioned = await s3.send(new PutObjectCommand({ Bucket: suspended, Key: 'p', Body: 'versioned' }));
  t.ok(versioned.VersionId !== undefined && versioned.VersionId !== 'null', 'under Enabled the write names its version');
});

t.test('DELETE in a never-versioned bucket answers 204 without x-amz-delete-marker or x-amz-version-id', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain-delete', Body: 'x' }));
  for (const key of ['plain-delete', 'never-written']) {
    const answer = await rawS3(cluster.endpoint, { method: 'DELETE', bucket, key });
    t.equal(answer.status, 204, key);
    t.equal(answer.headers['x-amz-delete-marker'], undefined, `${key}: no x-amz-delete-marker`);
    t.equal(answer.headers['x-amz-version-id'], undefined, `${key}: no x-amz-version-id`);
  }
  const sdk = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'plain-delete' }));
  t.equal(sdk.DeleteMarker, undefined, 'the SDK sees no DeleteMarker');
});

import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { localS3Client, startCluster, startSecondGateway, statusOf, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * Object rows are keyed by the bucket's name: a write must never land in a bucket deleted since it
 * began, nor in another bucket created later under the same name (docs/bucket-incarnations.md).
 */
const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const s3 = cluster.client();
t.teardown(() => s3.destroy());

t.test('a PUT whose body is still arriving when its bucket is deleted is refused, and the next bucket of that name holds nothing', async (t) => {
  const bucket = bucketName('inflight');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const chunkBytes = 256 * 1024;
  const totalBytes = 32 * 1024 * 1024;
  const body = seededBytes(totalBytes, 7);
  let sentBytes = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  async function* halves(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
      if (offset === totalBytes / 2) await released;
      sentBytes = offset + chunkBytes;
      yield body.subarray(offset, offset + chunkBytes);
    }
  }
  const put = sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'late', Body: Readable.from(halves()), ContentLength: totalBytes })));
  // Half of the body is more than the sockets between client and gateway hold: the gateway is storing it.
  await until('half of the body was sent', async () => sentBytes >= totalBytes / 2, 30_000, 20);
  t.equal(await statusOf(s3.send(new DeleteBucketCommand({ Bucket: bucket }))), 200, 'the bucket had no object: deleted');
  release();
  t.equal((await put).name, 'NoSuchBucket', 'the PUT is refused rather than stored into no bucket');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  t.same([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])], [], 'the new bucket of that name holds nothing');
  t.equal(await statusOf(s3.send(new DeleteBucketCommand({ Bucket: bucket }))), 200, 'and can be deleted');
});

t.test('writes through a gateway that still caches a deleted bucket are refused, never landing in the bucket created under its name since', async (t) => {
  // A cache that outlives the whole test: what every gateway's cache is for its first seconds.
  const stale = localS3Client(await startSecondGateway(t, cluster, { bucketCacheTtlMs: 600_000 }), TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => stale.destroy());
  const bucket = bucketName('reborn');
  const source = bucketName('source');
  await s3.send(new CreateBucketCommand({ Bucket: source }));
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'src', Body: 'copied' }));
  // The bucket of the name is one with Object Lock and a default retention, whose record the stale
  // gateway caches; then it is deleted and a plain bucket created under its name. (A refused write
  // makes the gateway drop the record, so each write below begins with a deleted bucket cached anew.)
  const cacheLocked = async (): Promise<void> => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    const Rule = { DefaultRetention: { Mode: 'GOVERNANCE' as const, Days: 1 } };
    await s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule } }));
    await stale.send(new HeadBucketCommand({ Bucket: bucket }));
  };
  const replace = async (): Promise<void> => {
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  };
  const writes: [string, () => Promise<unknown>][] = [
    ['PutObject', () => stale.send(new PutObjectCommand({ Bucket: bucket, Key: 'put', Body: 'stale' }))],
    ['CopyObject', () => stale.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${source}/src` }))],
    ['DeleteObject (a delete marker)', () => stale.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'marker' }))],
  ];
  for (const [name, write] of writes) {
    await cacheLocked();
    await replace();
    t.equal((await sdkError(write())).name, 'NoSuchBucket', name);
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  }
  // An upload begun, and its part stored, through the stale gateway before the bucket went.
  await cacheLocked();
  const { UploadId = '' } = await stale.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multipart' }));
  const { ETag = '' } = await stale.send(new UploadPartCommand({ Bucket: bucket, Key: 'multipart', UploadId, PartNumber: 1, Body: 'part' }));
  await replace();
  const completion = stale.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'multipart', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
  t.equal((await sdkError(completion)).name, 'NoSuchBucket', 'CompleteMultipartUpload');

  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  t.same([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])], [], 'the bucket now under that name holds nothing');
  // The stale gateway dropped the record it was refused for: its next write goes to the new bucket, without the old one's lock.
  await stale.send(new PutObjectCommand({ Bucket: bucket, Key: 'fresh', Body: 'fresh' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fresh' }));
  t.equal(head.ObjectLockMode, undefined, 'written without the deleted bucket\'s retention');
  t.equal((await collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'fresh' }))).Body as Readable)).toString(), 'fresh');
});

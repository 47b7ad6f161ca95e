import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { bucketName, collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { TEST_CREDENTIALS, localS3Client, startCluster } from '../helpers/cluster.js';
import { sdkError } from '../gateway/raw-s3.js';

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024 });
t.teardown(() => cluster.close());
const s3 = cluster.client();

t.test('bucket lifecycle: create, head, list, refuse duplicates and non-empty deletes', async (t) => {
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  const listed = await s3.send(new ListBucketsCommand({}));
  t.ok(listed.Buckets?.some((b) => b.Name === bucket), 'new bucket is listed');
  // us-east-1 (this cluster's region) answers a repeated create of one's own bucket with 200, as S3 does there.
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
  t.same(await sdkError(s3.send(new DeleteBucketCommand({ Bucket: bucket }))), { name: 'BucketNotEmpty', status: 409 });
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  t.equal((await sdkError(s3.send(new HeadBucketCommand({ Bucket: bucket })))).status, 404);
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }))), { name: 'NoSuchBucket', status: 404 });
  t.same(await sdkError(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' }))), { name: 'InvalidBucketName', status: 400 });
});

t.test('objects of every stripe shape round-trip byte-identical with ETag, type and metadata', async (t) => {
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const stripe = 4 * 64 * 1024;
  for (const size of [0, 1, 5, 1000, stripe - 1, stripe, stripe + 1, 3 * stripe + 12345]) {
    const body = seededBytes(size, size + 1);
    const key = `objects/size-${size}`;
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-test', Metadata: { origin: 'unit', n: String(size) } }),
    );
    t.equal(put.ETag, `"${md5Hex(body)}"`, `ETag of ${size} bytes is the MD5`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await collect(got.Body as AsyncIterable<Uint8Array>);
    t.ok(bytes.equals(body), `${size} bytes read back identical`);
    t.equal(got.ContentType, 'application/x-test');
    t.same(got.Metadata, { origin: 'unit', n: String(size) });
    t.equal(got.ContentLength, size);
  }
});

t.test('ranged reads return 206 with the exact bytes; past the end is 416 InvalidRange', async (t) => {
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const body = seededBytes(1_000_003, 7);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: body }));
  for (const [range, start, end] of [
    ['bytes=0-0', 0, 0],
    ['bytes=10-300000', 10, 300000],
    ['bytes=262143-262144', 262143, 262144],
    ['bytes=999000-', 999000, 1_000_002],
    ['bytes=-17', 1_000_003 - 17, 1_000_002],
    ['bytes=5-99999999', 5, 1_000_002],
  ] as const) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: range }));
    const bytes = await collect(got.Body as AsyncIterable<Uint8Array>);
    t.ok(bytes.equals(body.subarray(start, end + 1)), `${range} bytes match`);
    t.equal(got.ContentRange, `bytes ${start}-${end}/1000003`, `${range} Content-Range`);
  }
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=1000003-' }))), { name: 'InvalidRange', status: 416 });
});

t.test('missing keys, bad signatures and unknown access keys get S3 errors', async (t) => {
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'nope' }))), { name: 'NoSuchKey', status: 404 });
  t.equal((await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'nope' })))).status, 404);
  const badSecret = new S3Client({
    endpoint: cluster.endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' },
  });
  const unknownKey = new S3Client({
    endpoint: cluster.endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' },
  });
  t.teardown(() => { badSecret.destroy(); unknownKey.destroy(); });
  t.same(await sdkError(badSecret.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }))), { name: 'SignatureDoesNotMatch', status: 403 });
  t.same(await sdkError(unknownKey.send(new ListBucketsCommand({}))), { name: 'InvalidAccessKeyId', status: 403 });
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }))), { name: 'NoSuchKey', status: 404 }, 'refused PUT stored nothing');
});

t.test('ListObjectsV2 pages with prefix, delimiter, max-keys and continuation tokens', async (t) => {
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys = ['a', 'a/b', 'a/c/d', 'b/1', 'b/2', 'b/3', 'c', 'c/x', 'd~', 'é', '日本/語'];
  await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
  const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same(all.Contents?.map((c) => c.Key), [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))), 'UTF-8 byte order');
  t.equal(all.KeyCount, keys.length);
  const rolled = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
  t.same(rolled.Contents?.map((c) => c.Key), ['a', 'c', 'd~', 'é']);
  t.same(rolled.CommonPrefixes?.map((p) => p.Prefix), ['a/', 'b/', 'c/', '日本/']);
  const inB = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'b/', Delimiter: '/' }));
  t.same(inB.Contents?.map((c) => c.Key), ['b/1', 'b/2', 'b/3']);
  const pages: string[][] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 3, ContinuationToken: token }));
    pages.push([...(page.Contents ?? []).map((c) => c.Key ?? ''), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? '')].sort());
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    t.ok((page.KeyCount ?? 0) <= 3, 'MaxKeys counts keys plus prefixes');
  } while (token !== undefined);
  t.same(pages.flat().sort(), ['a', 'a/', 'b/', 'c', 'c/', 'd~', 'é', '日本/'].sort(), 'paging visits every entry once');
  t.equal(pages.length, 3);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'c' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: 'newer' }));
  const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
  t.same(after.Contents?.map((c) => c.Key), ['a', 'd~', 'é'], 'deleted keys are hidden');
  t.equal(after.Contents?.[0]?.Size, 5, 'an overwrite lists its newest size');
});

t.test('DeleteObjects removes a batch and reports each key', async (t) => {
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys = Array.from({ length: 25 }, (_, i) => `batch/${i}`);
  await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
  const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  t.equal(result.Deleted?.length, 25);
  t.equal(result.Errors, undefined);
  const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.equal(left.KeyCount, 0);
});

t.test('outside us-east-1 a repeated CreateBucket of one\'s own bucket is 409 BucketAlreadyOwnedByYou, and writes nothing', async (t) => {
  const regional = await startCluster({ nodeHealing: false, gatewayOverrides: { region: 'eu-west-1' } });
  t.teardown(() => regional.close());
  // Signed for the gateway's own region, as a client configured for it signs: a us-east-1 scope is refused there.
  const client = localS3Client(regional.endpoint, TEST_CREDENTIALS, { region: 'eu-west-1' });
  t.teardown(() => client.destroy());
  const bucket = bucketName();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: 'x' }));
  t.same(await sdkError(client.send(new CreateBucketCommand({ Bucket: bucket }))), { name: 'BucketAlreadyOwnedByYou', status: 409 });
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same(listed.Contents?.map((o) => o.Key), ['kept'], 'the bucket and its object are untouched');
});

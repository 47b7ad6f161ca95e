import { PassThrough } from 'node:stream';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { bucketName, collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { localS3Client, startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { rawS3, type RawResponse } from '../gateway/raw-s3.js';

/**
 * Two writes of one key that overlap in time: the one that completes last is the one that stays (S3's
 * rule, and what a client that just got its 200 reads back), even when it started first. A slow PUT
 * is held open part way through its body while a second write of the key starts after it and
 * completes; then the slow one finishes. Through one gateway and through two, unversioned and
 * versioned, and a multipart completion against a PUT.
 */
const cluster = await startCluster({ blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 20_000, stallTimeoutMs: 30_000 } });
t.teardown(() => cluster.close());
const second = new Gateway({ config: cluster.config, logger: silentLogger() });
await second.start();
t.teardown(() => second.close());
const endpoints = [cluster.endpoint, `http://127.0.0.1:${second.address.port}`];
const clients: S3Client[] = endpoints.map((endpoint) => localS3Client(endpoint, TEST_CREDENTIALS, { maxAttempts: 1 }));
t.teardown(() => clients.forEach((client) => client.destroy()));
const s3 = clients[0] as S3Client;

const plain = bucketName('overlap');
const versioned = bucketName('overlap-ver');
await s3.send(new CreateBucketCommand({ Bucket: plain }));
await s3.send(new CreateBucketCommand({ Bucket: versioned }));
await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));

/** Bytes the slow PUT sends before it is held: several stripes (4 x 64 KiB), so shards are streaming to the nodes. */
const HEAD_BYTES = 1024 * 1024;
const TAIL_BYTES = 64 * 1024;

/** Resolves once some node is receiving a shard: the write is under way on the nodes. */
async function shardsStreaming(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!cluster.nodes.some((node) => node.parts.store.writesInFlight > 0)) {
    if (Date.now() > deadline) throw new Error('the slow PUT never reached the nodes');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Starts a PUT of `body` through gateway `via` whose body stops after HEAD_BYTES until `finish` is
 * called; resolves once its shards are streaming to the nodes (its write has begun there).
 */
async function slowPut(via: number, bucket: string, key: string, body: Buffer): Promise<{ finish(): Promise<RawResponse> }> {
  const stream = new PassThrough();
  const response = rawS3(endpoints[via] as string, {
    method: 'PUT',
    bucket,
    key,
    headers: { 'content-length': String(body.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    bodyStream: stream,
  });
  stream.write(body.subarray(0, HEAD_BYTES));
  await Promise.race([shardsStreaming(), response.then((r) => Promise.reject(new Error(`slow PUT ended early: ${r.status} ${r.body}`)))]);
  return {
    async finish() {
      stream.end(body.subarray(HEAD_BYTES));
      return response;
    },
  };
}

async function bodyOf(bucket: string, key: string, via = 0): Promise<Buffer> {
  const got = await (clients[via] as S3Client).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

const cases = [
  { name: 'one gateway', slowVia: 0, fastVia: 0 },
  { name: 'two gateways', slowVia: 0, fastVia: 1 },
  { name: 'two gateways, the other way round', slowVia: 1, fastVia: 0 },
];

for (const { name, slowVia, fastVia } of cases) {
  t.test(`unversioned, ${name}: the PUT that started first and completed last is what GET and LIST return`, async (t) => {
    const key = `plain-${slowVia}${fastVia}`;
    const slowBody = seededBytes(HEAD_BYTES + TAIL_BYTES, 1);
    const slow = await slowPut(slowVia, plain, key, slowBody);
    const fast = await (clients[fastVia] as S3Client).send(new PutObjectCommand({ Bucket: plain, Key: key, Body: 'the fast write' }));
    t.ok(fast.ETag, 'the later, quicker PUT completed first');
    const finished = await slow.finish();
    t.equal(finished.status, 200, finished.body);
    t.equal(finished.headers['etag'], `"${md5Hex(slowBody)}"`);
    for (const via of [0, 1]) t.equal(md5Hex(await bodyOf(plain, key, via)), md5Hex(slowBody), `GET through gateway ${via} returns the write that completed last`);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: plain, Prefix: key }));
    t.same(listed.Contents?.map((c) => [c.Key, c.ETag, c.Size]), [[key, `"${md5Hex(slowBody)}"`, slowBody.length]], 'the listing shows it too');
  });

  t.test(`versioned, ${name}: the write that completed last is the latest version and first in ListObjectVersions`, async (t) => {
    const key = `ver-${slowVia}${fastVia}`;
    const early = await s3.send(new PutObjectCommand({ Bucket: versioned, Key: key, Body: 'before both' }));
    const slowBody = seededBytes(HEAD_BYTES + TAIL_BYTES, 2);
    const slow = await slowPut(slowVia, versioned, key, slowBody);
    const fast = await (clients[fastVia] as S3Client).send(new PutObjectCommand({ Bucket: versioned, Key: key, Body: 'the fast write' }));
    const finished = await slow.finish();
    t.equal(finished.status, 200, finished.body);
    const slowId = finished.headers['x-amz-version-id'];
    t.type(slowId, 'string');
    t.not(slowId, fast.VersionId);
    t.equal(md5Hex(await bodyOf(versioned, key, fastVia)), md5Hex(slowBody), 'GET returns the write that completed last');
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: versioned, Prefix: key }));
    t.same(
      listed.Versions?.map((v) => [v.VersionId, v.IsLatest]),
      [
        [slowId, true],
        [fast.VersionId, false],
        [early.VersionId, false],
      ],
      'newest first in order of completion',
    );
    const byId = await s3.send(new GetObjectCommand({ Bucket: versioned, Key: key, VersionId: fast.VersionId }));
    t.equal((await collect(byId.Body as AsyncIterable<Uint8Array>)).toString(), 'the fast write', 'the overtaken version stays readable by its id');
    const slowById = await s3.send(new GetObjectCommand({ Bucket: versioned, Key: key, VersionId: slowId as string }));
    t.equal(md5Hex(await collect(slowById.Body as AsyncIterable<Uint8Array>)), md5Hex(slowBody), 'and so does the latest, by the id its PUT answered');
  });
}

t.test('a multipart completion that lands while a slow PUT is still sending loses to that PUT once it completes', async (t) => {
  for (const bucket of [plain, versioned]) {
    const key = `mpu-then-put-${bucket}`;
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: 'the multipart object' }));
    const slowBody = seededBytes(HEAD_BYTES + TAIL_BYTES, 3);
    const slow = await slowPut(0, bucket, key, slowBody);
    const completed = await (clients[1] as S3Client).send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    t.ok(completed.ETag);
    const finished = await slow.finish();
    t.equal(finished.status, 200, finished.body);
    t.equal(md5Hex(await bodyOf(bucket, key)), md5Hex(slowBody), `${bucket}: the PUT, which completed last, stays`);
    if (bucket === versioned) {
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
      t.same(listed.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[finished.headers['x-amz-version-id'], true], [completed.VersionId, false]]);
    }
  }
});

t.test('a multipart upload begun before a PUT but completed after it is what stays', async (t) => {
  for (const bucket of [plain, versioned]) {
    const key = `put-then-mpu-${bucket}`;
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: 'the multipart object' }));
    const put = await (clients[1] as S3Client).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'the single PUT' }));
    const completed = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    t.equal((await bodyOf(bucket, key, 1)).toString(), 'the multipart object', `${bucket}: the completion, which came last, stays`);
    if (bucket === versioned) {
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
      t.same(listed.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[completed.VersionId, true], [put.VersionId, false]]);
    }
  }
});

t.test('a conditional write through a gateway whose clock runs five minutes behind still follows the version it checked', async (t) => {
  const lagging = new Gateway({ config: cluster.config, logger: silentLogger(), clock: () => Date.now() - 300_000 });
  await lagging.start();
  t.teardown(() => lagging.close());
  const behind = localS3Client(`http://127.0.0.1:${lagging.address.port}`, TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => behind.destroy());
  for (const bucket of [plain, versioned]) {
    const key = `lagging-${bucket}`;
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'written on time' }));
    const replaced = await behind.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'replaced through the lagging gateway', IfMatch: first.ETag }));
    t.equal((await bodyOf(bucket, key)).toString(), 'replaced through the lagging gateway', `${bucket}: If-Match replaced what it matched`);
    if (bucket === versioned) {
      t.ok((replaced.VersionId ?? '') > (first.VersionId ?? ''), 'its version id orders after the one it checked');
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      await behind.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'created over a delete marker', IfNoneMatch: '*' }));
      t.equal((await bodyOf(bucket, key)).toString(), 'created over a delete marker', 'If-None-Match: * over a newer delete marker is current');
    }
  }
});

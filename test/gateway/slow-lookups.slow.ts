import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, type DeleteObjectsCommandOutput, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { bucketName, collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { TEST_CREDENTIALS, localS3Client } from '../helpers/cluster.js';
import { READ_DEADLINE_MS } from '../../src/gateway/data-path/index.js';
import { slowCluster } from '../helpers/slow-link.js';
import { NodeClient } from '../../src/rpc/index.js';

/** The configured metadata and stall timeouts: the nodes below answer several times slower. */
const TIMEOUT_FLOOR_MS = 300;

/**
 * Two clients of `endpoint`: `s3` makes one attempt per request (a 503 the SDK would have retried counts
 * as a failure), `writer` has the SDK's retries, for setup writes that a loaded machine may refuse with
 * timeouts this short (what these tests prove is about reads).
 */
function clients(t: { teardown(fn: () => unknown): void }, endpoint: string): { s3: S3Client; writer: S3Client } {
  const s3 = localS3Client(endpoint, TEST_CREDENTIALS, { maxAttempts: 1 });
  const writer = localS3Client(endpoint, TEST_CREDENTIALS);
  t.teardown(() => {
    s3.destroy();
    writer.destroy();
  });
  return { s3, writer };
}

t.test('every node turning several times slower than the timeouts at once fails no GET, HEAD or LIST, even without client retries', async (t) => {
  const { links, endpoint } = await slowCluster(t, TIMEOUT_FLOOR_MS);
  const { s3, writer } = clients(t, endpoint);
  const bucket = bucketName();
  await writer.send(new CreateBucketCommand({ Bucket: bucket }));
  const written = new Map<string, string>();
  for (let i = 0; i < 8; i += 1) {
    // Small objects (shards inline in the lookup's answer) and larger ones (shards read from files).
    const body = seededBytes(i % 4 === 3 ? 300_000 : 3_000, i);
    const key = `dir/object-${i}`;
    await writer.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    written.set(key, md5Hex(body));
  }
  // Reads at full speed first, so the gateway's latency estimate (and so its deadlines) is as short as it gets.
  for (const key of written.keys()) await collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as AsyncIterable<Uint8Array>);

  // The machine turns busy at once: every node answers four, then eight times slower than the configured timeouts.
  for (const delayMs of [4 * TIMEOUT_FLOOR_MS, 8 * TIMEOUT_FLOOR_MS]) {
    for (const link of links) link.delayMs = delayMs;
    const reads: Promise<string>[] = [];
    for (const [key, md5] of written) {
      reads.push(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(async (got) => {
          const digest = md5Hex(await collect(got.Body as AsyncIterable<Uint8Array>));
          return digest === md5 ? 'ok' : `GET ${key} read other bytes`;
        }),
      );
      reads.push(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then((head) => (head.ContentLength !== undefined ? 'ok' : `HEAD ${key} had no length`)));
    }
    for (let i = 0; i < 3; i += 1) {
      reads.push(
        s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/' })).then((listed) => {
          const keys = (listed.Contents ?? []).map((o) => o.Key).sort();
          return JSON.stringify(keys) === JSON.stringify([...written.keys()].sort()) ? 'ok' : `LIST gave ${JSON.stringify(keys)}`;
        }),
      );
    }
    reads.push(s3.send(new ListObjectVersionsCommand({ Bucket: bucket })).then((listed) => ((listed.Versions ?? []).length === written.size ? 'ok' : 'version listing incomplete')));
    const outcomes = await Promise.allSettled(reads);
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).name ?? o.reason)] : o.value === 'ok' ? [] : [o.value]));
    t.same(failures, [], `no read failed with nodes ${delayMs} ms slow (${reads.length} reads)`);
  }
});

t.test('nodes that are down, not slow, are not waited for: a read that cannot meet its quorum answers 503 at once', async (t) => {
  const { nodes, endpoint } = await slowCluster(t, TIMEOUT_FLOOR_MS);
  const { s3, writer } = clients(t, endpoint);
  const bucket = bucketName();
  await writer.send(new CreateBucketCommand({ Bucket: bucket }));
  await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: seededBytes(3_000, 1) }));
  // Four of six down: no read quorum for the key (3 of 6 needed) nor a majority for bucket records.
  for (const node of nodes.slice(0, 4)) await node.close();
  const startedMs = performance.now();
  const error = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })).then(
    () => undefined,
    (err: unknown) => err as { $metadata?: { httpStatusCode?: number } },
  );
  const elapsedMs = performance.now() - startedMs;
  t.equal(error?.$metadata?.httpStatusCode, 503, 'the read is refused with 503');
  t.ok(elapsedMs < READ_DEADLINE_MS / 2, `refused nodes fail the read well before the read deadline (${Math.round(elapsedMs)} ms)`);
});

t.test('a bucket created while every node answers slower than the timeouts is created, without client retries', async (t) => {
  const { links, endpoint } = await slowCluster(t, TIMEOUT_FLOOR_MS);
  const s3 = localS3Client(endpoint, TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  for (const link of links) link.delayMs = 4 * TIMEOUT_FLOOR_MS;
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const link of links) link.delayMs = 0;
  const listed = await s3.send(new ListBucketsCommand({}));
  t.ok((listed.Buckets ?? []).some((b) => b.Name === bucket), 'the bucket is listed once the nodes are fast again');
});

t.test('DeleteBucket while every node answers slower than the timeouts decides on emptiness instead of answering 503, without client retries', async (t) => {
  const { links, endpoint } = await slowCluster(t, TIMEOUT_FLOOR_MS);
  const { s3, writer } = clients(t, endpoint);
  const full = bucketName();
  const empty = bucketName();
  const versioned = bucketName();
  for (const bucket of [full, empty, versioned]) await writer.send(new CreateBucketCommand({ Bucket: bucket }));
  await writer.send(new PutObjectCommand({ Bucket: full, Key: 'k', Body: seededBytes(3_000, 1) }));
  await writer.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  await writer.send(new PutObjectCommand({ Bucket: versioned, Key: 'v', Body: seededBytes(3_000, 2) }));
  await writer.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'v' }));
  for (const link of links) link.delayMs = 4 * TIMEOUT_FLOOR_MS;
  const codeOf = (bucket: string): Promise<string> =>
    s3.send(new DeleteBucketCommand({ Bucket: bucket })).then(
      () => 'deleted',
      (err: { name?: string }) => err.name ?? String(err),
    );
  t.equal(await codeOf(full), 'BucketNotEmpty', 'a bucket holding an object');
  t.equal(await codeOf(versioned), 'BucketNotEmpty', 'a bucket holding only versions and a delete marker');
  t.equal(await codeOf(empty), 'deleted', 'an empty bucket');
  for (const link of links) link.delayMs = 0;
  const names = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name);
  t.ok(names.includes(full) && names.includes(versioned) && !names.includes(empty), 'only the empty bucket is gone');
});

t.test('DeleteObjects whose nodes turn slower than the timeouts between the key lease and the commit deletes every key and reports each deleted, without client retries', async (t) => {
  const { links, endpoint } = await slowCluster(t, TIMEOUT_FLOOR_MS);
  const { s3, writer } = clients(t, endpoint);
  const bucket = bucketName();
  await writer.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys = Array.from({ length: 6 }, (_, i) => `batch/${i}`);
  for (const [i, key] of keys.entries()) await writer.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: seededBytes(3_000, i) }));
  // The machine turns busy just as the first delete marker is sent: its lease round ran at full speed,
  // so the commit round's deadline is as short as it gets.
  const commit = NodeClient.prototype.commit;
  NodeClient.prototype.commit = function (this: NodeClient, ...args: Parameters<NodeClient['commit']>) {
    for (const link of links) link.delayMs = 8 * TIMEOUT_FLOOR_MS;
    return commit.apply(this, args);
  };
  let result: DeleteObjectsCommandOutput;
  try {
    result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  } finally {
    NodeClient.prototype.commit = commit;
    for (const link of links) link.delayMs = 0;
  }
  t.same(result.Errors ?? [], [], 'no key answered an error');
  t.same((result.Deleted ?? []).map((d) => d.Key).sort(), keys, 'every key reported deleted');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.equal(listed.KeyCount, 0, 'and none is listed');
});

for (const { name, size } of [
  { name: 'a small PUT', size: 3_000 },
  { name: 'a streamed PUT', size: 600_000 },
]) {
  t.test(`${name} whose nodes turn slower than the timeouts at its commit is stored and acknowledged, without client retries`, async (t) => {
    const { links, endpoint } = await slowCluster(t, TIMEOUT_FLOOR_MS);
    const { s3, writer } = clients(t, endpoint);
    const bucket = bucketName();
    await writer.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = seededBytes(size, 7);
    // Every shard is prepared at full speed; the machine turns busy as the commit round is sent, so the
    // round's deadline is as short as it gets.
    const commit = NodeClient.prototype.commit;
    NodeClient.prototype.commit = function (this: NodeClient, ...args: Parameters<NodeClient['commit']>) {
      for (const link of links) link.delayMs = 8 * TIMEOUT_FLOOR_MS;
      return commit.apply(this, args);
    };
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'slow-commit', Body: body }));
    } finally {
      NodeClient.prototype.commit = commit;
      for (const link of links) link.delayMs = 0;
    }
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'slow-commit' }));
    t.equal(md5Hex(await collect(got.Body as AsyncIterable<Uint8Array>)), md5Hex(body), 'the object reads back whole');
  });
}

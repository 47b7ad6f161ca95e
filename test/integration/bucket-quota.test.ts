import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import type { QuotaReport } from '../../src/bin/bucket-cli.js';
import { silentLogger } from '../../src/common/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { bucketOn, localS3Client, startCluster, startSecondGateway, statusOf, TEST_CREDENTIALS, writeGatewayConfig } from '../helpers/cluster.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { refusal } from '../helpers/sdk-refusal.js';
import { until } from '../helpers/until.js';

/** Smallest multipart part but the last, shrunk so the multipart case stays cheap. */
const MIN_PART_BYTES = 1024;

const cluster = await startCluster({ nodeHealing: false, gatewayOverrides: { bucketCacheTtlMs: 100, minPartSizeBytes: MIN_PART_BYTES } });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

/** Runs `tessera admin bucket ...` against the cluster; its exit code and output. */
async function admin(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCli(['bucket', ...args, '--config', configFile], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

/** `tessera admin bucket quota BUCKET ... --json`, parsed. */
async function quota(bucket: string, ...flags: string[]): Promise<QuotaReport> {
  const { code, out, err } = await admin('quota', bucket, ...flags, '--json');
  if (code !== 0) throw new Error(`tessera admin bucket quota exited ${code}: ${err}`);
  return JSON.parse(out) as QuotaReport;
}

function put(s3: S3Client, bucket: string, key: string, sizeBytes: number): Promise<unknown> {
  return s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: seededBytes(sizeBytes, sizeBytes) }));
}

/**
 * Waits until the gateway follows a quota just set (its bucket cache lasts 100 ms here): a write of
 * `sizeBytes` to a probe key is refused. A probe that got in before is deleted (its tombstone counts nothing).
 */
async function quotaInForce(s3: S3Client, bucket: string, sizeBytes: number): Promise<void> {
  await until(
    'the gateway follows the quota',
    async () => {
      const status = await statusOf(put(s3, bucket, 'probe', sizeBytes));
      if (status === 200) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'probe' }));
      return status === 403;
    },
    10_000,
  );
}

async function stored(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  return (await statusOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))) === 200;
}

t.test('a byte quota refuses the PUT or copy that would pass it with QuotaExceeded (403), storing nothing; deletes free room', async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  const set = await quota(bucket, '--max-bytes', '1000');
  t.same(set.quota, { maxBytes: 1000 }, 'the CLI sets the quota');
  t.same(set.usage, { objects: 0, bytes: 0, complete: true }, 'and shows the empty bucket');
  await quotaInForce(s3, bucket, 1001);

  await put(s3, bucket, 'a', 600);
  const refused = await refusal(put(s3, bucket, 'b', 401));
  t.same([refused.name, refused.status], ['QuotaExceeded', 403], 'the write past the quota is refused with QuotaExceeded');
  t.notOk(await stored(s3, bucket, 'b'), 'and nothing of it is stored');
  await put(s3, bucket, 'c', 400);
  t.ok(await stored(s3, bucket, 'c'), 'a write that fills the quota exactly is taken');
  t.same((await quota(bucket)).usage, { objects: 2, bytes: 1000, complete: true }, 'usage counts what was stored');

  const copy = await refusal(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/c` })));
  t.equal(copy.name, 'QuotaExceeded', 'a copy past the quota is refused too');
  t.notOk(await stored(s3, bucket, 'copy'));

  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a' }));
  // The gateway reads usage again within a second; the delete frees its 600 bytes then.
  await until('the delete frees room', async () => (await statusOf(put(s3, bucket, 'd', 500))) === 200, 10_000);
  t.same((await quota(bucket)).usage, { objects: 2, bytes: 900, complete: true }, 'usage follows the delete');
});

t.test('an object quota refuses the write of one object too many, and a multipart upload into a full bucket', async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  await put(s3, bucket, 'x1', 10);
  await put(s3, bucket, 'x2', 10);
  t.same((await quota(bucket, '--max-objects', '2')).quota, { maxObjects: 2 });
  // Until the gateway follows the quota, x3 is taken (and deleted again: its tombstone is no object).
  await until(
    'the gateway follows the quota',
    async () => {
      const status = await statusOf(put(s3, bucket, 'x3', 10));
      if (status === 200) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'x3' }));
      return status === 403;
    },
    10_000,
  );
  const refused = await refusal(put(s3, bucket, 'x3', 10));
  t.same([refused.name, refused.status], ['QuotaExceeded', 403]);
  t.notOk(await stored(s3, bucket, 'x3'), 'the refused object is not stored');
  const upload = await refusal(s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big' })));
  t.equal(upload.name, 'QuotaExceeded', 'a multipart upload is refused before any part is sent');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'x1' }));
  await until('the delete frees room for one object', async () => (await statusOf(put(s3, bucket, 'x3', 10))) === 200, 10_000);
  t.same((await quota(bucket)).usage, { objects: 2, bytes: 20, complete: true });
});

t.test('multipart: a part past the byte quota is refused, and so is a completion whose object would pass it', async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  await quota(bucket, '--max-bytes', String(3 * MIN_PART_BYTES));
  await quotaInForce(s3, bucket, 3 * MIN_PART_BYTES + 1);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big' }));
  const part = async (partNumber: number, sizeBytes: number): Promise<string> =>
    (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big', UploadId, PartNumber: partNumber, Body: seededBytes(sizeBytes, partNumber) }))).ETag ?? '';
  const tooBig = await refusal(part(1, 3 * MIN_PART_BYTES + 1));
  t.equal(tooBig.name, 'QuotaExceeded', 'a part that alone passes the quota is refused');
  const etags = [await part(1, 2 * MIN_PART_BYTES), await part(2, 2 * MIN_PART_BYTES)];
  const completion = await refusal(
    s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'big', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } })),
  );
  t.same([completion.name, completion.status], ['QuotaExceeded', 403], 'the completion of an object past the quota is refused');
  t.notOk(await stored(s3, bucket, 'big'), 'and the object is not there');
  t.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0, 0);
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'big', UploadId, MultipartUpload: { Parts: [{ ETag: etags[0], PartNumber: 1 }] } }));
  t.ok(done.ETag, 'the same upload completes with parts that fit');
  t.same((await quota(bucket)).usage, { objects: 1, bytes: 2 * MIN_PART_BYTES, complete: true });
});

t.test('usage is right after a node restarts, and estimated from the others while it is down; the CLI clears the quota', async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  await quota(bucket, '--max-bytes', '10000', '--max-objects', '10');
  for (const [i, size] of [100, 200, 300].entries()) await put(s3, bucket, `k${i}`, size);
  const before = (await quota(bucket)).usage;
  t.same(before, { objects: 3, bytes: 600, complete: true });

  const index = 2;
  const node = cluster.nodes[index] as StorageNode;
  const port = node.address.port;
  await cluster.stopNode(index);
  const down = (await quota(bucket)).usage;
  t.same(down, { objects: 3, bytes: 600, complete: false }, 'with one node down the others\' counts are scaled by their share of the ring');

  const restarted = new StorageNode({ nodeId: `node-${index}`, dataDir: join(cluster.dataDir, `node-${index}`), host: '127.0.0.1', port, clusterSecret: 'test-cluster-secret', logger: silentLogger(), healing: false });
  await restarted.start();
  t.teardown(() => restarted.close());
  await until('the restarted node answers', async () => (await quota(bucket)).usage.complete, 10_000);
  t.same((await quota(bucket)).usage, before, 'the restarted node reads back its counts');

  const metrics = parsePrometheus(await cluster.gateway.metrics.registry.metrics());
  t.same(
    ['tessera_gateway_bucket_quota_bytes', 'tessera_gateway_bucket_quota_objects', 'tessera_gateway_bucket_usage_bytes', 'tessera_gateway_bucket_usage_objects'].map((name) => sampleValue(metrics, name, { bucket })),
    [10_000, 10, 600, 3],
    '/metrics shows the quota and usage per bucket with a quota',
  );

  const cleared = await quota(bucket, '--clear');
  t.equal(cleared.quota, null, 'the CLI clears the quota');
  await until('the gateway follows the cleared quota', async () => (await statusOf(put(s3, bucket, 'large', 20_000))) === 200, 10_000);
  const text = await admin('quota', bucket);
  t.match(text.out, /quota: none\n\s+usage: 20600 bytes, 4 objects\n/, 'the plain output shows the quota and usage');
  t.equal((await admin('quota', bucket, '--max-bytes', 'lots')).code, 2, 'a limit that is not a number is refused');
  t.equal((await admin('quota', 'no-such-bucket-here')).code, 2, 'a missing bucket exits 2');
});

t.test("a node that takes a usage call and never answers does not hold up a quota'd bucket's writes for the node timeout", async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  await quota(bucket, '--max-bytes', '10000');
  await quotaInForce(s3, bucket, 20_000);
  // A gateway that would wait a minute for a silent node; node 5 takes its usage calls and never answers.
  const patient = localS3Client(await startSecondGateway(t, cluster, { metadataTimeoutMs: 60_000 }), TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => patient.destroy());
  const store = (cluster.nodes[5] as StorageNode).parts.store;
  const answer = store.bucketUsage.bind(store);
  const held: (() => void)[] = [];
  store.bucketUsage = ((name: string | undefined) => new Promise((resolve) => held.push(() => resolve(answer(name))))) as unknown as typeof store.bucketUsage;
  t.teardown(() => {
    store.bucketUsage = answer;
    for (const release of held) release();
  });
  const written = put(patient, bucket, 'small', 100).then(() => 'written' as const);
  const outcome = await Promise.race([written, new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 30_000).unref())]);
  t.equal(outcome, 'written', 'the write is checked against the answers of the others, not held for the silent node');
  t.ok(held.length > 0, 'the silent node was asked');
  t.equal(await statusOf(put(patient, bucket, 'large', 20_000)), 403, 'the quota still holds with the silent node');
});

import { t } from 'tap';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  GetBucketVersioningCommand,
  GetObjectTaggingCommand,
  GetBucketLoggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketLoggingCommand,
  ListMultipartUploadsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { LOG_FIELD_COUNT, splitLogLine } from '../../src/gateway/access-log/index.js';
import { bucketName, collect } from '../helpers/bytes.js';
import { parsePrometheus, sampleValue, scrape } from '../helpers/prometheus.js';
import { startCluster, statusOf, userClients } from '../helpers/cluster.js';

/**
 * Server access logging end to end (docs/access-logs.md): a real cluster in this process, S3 requests
 * through the AWS SDK to a bucket with logging on, and the log objects read back from the target
 * bucket. A gateway killed with SIGKILL right after answering is in test/crash/event-delivery-crash.test.ts.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const s3 = cluster.client();

/** Every log line under `prefix` of `bucket`, split into fields. */
async function logLines(client: S3Client, bucket: string, prefix: string): Promise<string[][]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const lines: string[][] = [];
  for (const object of listed.Contents ?? []) {
    const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
    const text = (await collect(body.Body as AsyncIterable<Uint8Array>)).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') lines.push(splitLogLine(line));
  }
  return lines;
}

async function errorCode(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (err) {
    return (err as { name?: string }).name;
  }
}

t.test('PutBucketLogging is stored and read back; a missing target, or one of another owner, is InvalidTargetBucketForLogging', async (t) => {
  const source = bucketName('logged');
  const target = bucketName('logs');
  await s3.send(new CreateBucketCommand({ Bucket: source }));
  await s3.send(new CreateBucketCommand({ Bucket: target }));
  t.same((await s3.send(new GetBucketLoggingCommand({ Bucket: source }))).LoggingEnabled, undefined, 'off until configured');
  await s3.send(
    new PutBucketLoggingCommand({
      Bucket: source,
      BucketLoggingStatus: { LoggingEnabled: { TargetBucket: target, TargetPrefix: 'access/', TargetObjectKeyFormat: { PartitionedPrefix: { PartitionDateSource: 'EventTime' } } } },
    }),
  );
  const got = await s3.send(new GetBucketLoggingCommand({ Bucket: source }));
  t.same(got.LoggingEnabled, { TargetBucket: target, TargetPrefix: 'access/', TargetObjectKeyFormat: { PartitionedPrefix: { PartitionDateSource: 'EventTime' } } });
  const missing = s3.send(new PutBucketLoggingCommand({ Bucket: source, BucketLoggingStatus: { LoggingEnabled: { TargetBucket: bucketName('nowhere'), TargetPrefix: '' } } }));
  t.equal(await errorCode(missing), 'InvalidTargetBucketForLogging');
  const user = await (await userClients(t, cluster))('logger');
  const foreign = bucketName('foreign');
  await user.client.send(new CreateBucketCommand({ Bucket: foreign }));
  const other = s3.send(new PutBucketLoggingCommand({ Bucket: source, BucketLoggingStatus: { LoggingEnabled: { TargetBucket: foreign, TargetPrefix: 'x/' } } }));
  t.equal(await errorCode(other), 'InvalidTargetBucketForLogging', "another owner's bucket is no target");
  t.equal((await s3.send(new GetBucketLoggingCommand({ Bucket: source }))).LoggingEnabled?.TargetBucket, target, 'a refused change leaves the configuration as it was');
  await s3.send(new PutBucketLoggingCommand({ Bucket: source, BucketLoggingStatus: {} }));
  t.same((await s3.send(new GetBucketLoggingCommand({ Bucket: source }))).LoggingEnabled, undefined, 'an empty status turns logging off');
});

t.test("requests to a logged bucket are in its target's log objects by the time they are answered, one S3 line each", async (t) => {
  const source = bucketName('logged');
  const target = bucketName('logs');
  await s3.send(new CreateBucketCommand({ Bucket: source }));
  await s3.send(new CreateBucketCommand({ Bucket: target }));
  await s3.send(new PutBucketLoggingCommand({ Bucket: source, BucketLoggingStatus: { LoggingEnabled: { TargetBucket: target, TargetPrefix: 'access/' } } }));
  const put = await s3.send(new PutObjectCommand({ Bucket: source, Key: 'a dir/report 1.txt', Body: 'hello log' }));
  const get = await s3.send(new GetObjectCommand({ Bucket: source, Key: 'a dir/report 1.txt' }));
  t.equal((await collect(get.Body as AsyncIterable<Uint8Array>)).toString(), 'hello log');
  t.equal(await statusOf(s3.send(new HeadObjectCommand({ Bucket: source, Key: 'absent' }))), 404);
  // No waiting: each answer came only once its record was durable.
  const lines = await logLines(s3, target, 'access/');
  t.equal(lines.length, 3, 'one line per request');
  for (const fields of lines) t.equal(fields.length, LOG_FIELD_COUNT, `${LOG_FIELD_COUNT} fields: ${fields.join(' | ')}`);
  const byOperation = new Map(lines.map((fields) => [fields[6], fields]));
  const putLine = byOperation.get('REST.PUT.OBJECT');
  t.match(putLine, [/^\S+$/, source, /^\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000$/, /\S/, /\S/, put.$metadata.requestId, 'REST.PUT.OBJECT', 'a%20dir/report%201.txt', /^PUT \/.+ HTTP\/1\.1$/, '200', '-', '-', '9']);
  const getLine = byOperation.get('REST.GET.OBJECT');
  t.match(getLine, { 5: get.$metadata.requestId, 9: '200', 10: '-', 11: '9', 12: '9', 19: 'SigV4', 21: 'AuthHeader' });
  t.match(byOperation.get('REST.HEAD.OBJECT'), { 7: 'absent', 9: '404', 10: 'NoSuchKey' });
  t.match(getLine?.[16], /aws-sdk-js/, 'the user agent, quoted');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: target, Prefix: 'access/' }));
  for (const object of listed.Contents ?? []) t.match(object.Key, /^access\/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}$/, "S3's key format");
  const metrics = parsePrometheus((await scrape(`${cluster.endpoint}/metrics`)).text);
  t.ok(sampleValue(metrics, 'tessera_gateway_access_log_records_total') >= 3, 'the records are counted in /metrics');
  t.equal(sampleValue(metrics, 'tessera_gateway_access_log_failed_total'), 0, 'none failed');
});

t.test("a bucket that logs into itself: the log objects' own writes are never logged", async (t) => {
  const bucket = bucketName('selflog');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketLoggingCommand({ Bucket: bucket, BucketLoggingStatus: { LoggingEnabled: { TargetBucket: bucket, TargetPrefix: 'logs/' } } }));
  for (let i = 0; i < 3; i += 1) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `data/${i}`, Body: 'x' }));
  const lines = await logLines(s3, bucket, 'logs/');
  const puts = lines.filter((fields) => fields[6] === 'REST.PUT.OBJECT');
  t.same(puts.map((fields) => fields[7]).sort(), ['data/0', 'data/1', 'data/2'], 'the three client writes, and no delivery write');
});

t.test('x-amz-expected-bucket-owner naming another owner is AccessDenied and changes nothing', async (t) => {
  const bucket = bucketName('owned');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const ownerId = (await s3.send(new GetBucketAclCommand({ Bucket: bucket }))).Owner?.ID ?? '';
  t.not(ownerId, '');
  t.equal(await statusOf(s3.send(new HeadBucketCommand({ Bucket: bucket, ExpectedBucketOwner: `${ownerId}x` }))), 403);
  t.equal(await errorCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ExpectedBucketOwner: '111122223333' }))), 'AccessDenied');
  t.equal(await statusOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))), 404, 'the refused write left nothing');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ExpectedBucketOwner: ownerId }));
  t.equal(await statusOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', ExpectedBucketOwner: ownerId }))), 200, 'the right owner passes');

  // Every kind of call that takes the header: bucket and object, reads and writes, copies from either side.
  const other = '111122223333';
  const refused: [string, () => Promise<unknown>][] = [
    ['GetObject', () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ExpectedBucketOwner: other }))],
    ['ListObjectsV2', () => s3.send(new ListObjectsV2Command({ Bucket: bucket, ExpectedBucketOwner: other }))],
    ['GetBucketVersioning', () => s3.send(new GetBucketVersioningCommand({ Bucket: bucket, ExpectedBucketOwner: other }))],
    ['PutBucketVersioning', () => s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' }, ExpectedBucketOwner: other }))],
    ['PutObjectTagging', () => s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'k', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] }, ExpectedBucketOwner: other }))],
    ['DeleteObject', () => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', ExpectedBucketOwner: other }))],
    ['DeleteObjects', () => s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'k' }] }, ExpectedBucketOwner: other }))],
    ['CreateMultipartUpload', () => s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'm', ExpectedBucketOwner: other }))],
    ['CopyObject, target owner', () => s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'c1', CopySource: `${bucket}/k`, ExpectedBucketOwner: other }))],
    ['CopyObject, source owner', () => s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'c2', CopySource: `${bucket}/k`, ExpectedSourceBucketOwner: other }))],
    ['DeleteBucket', () => s3.send(new DeleteBucketCommand({ Bucket: bucket, ExpectedBucketOwner: other }))],
  ];
  for (const [call, send] of refused) t.equal(await errorCode(send()), 'AccessDenied', `${call} naming another owner is AccessDenied`);
  t.equal(await statusOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))), 200, 'the object is still there');
  t.same((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }))).TagSet, [], 'untagged');
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, undefined, 'versioning never turned on');
  t.same((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], [], 'no upload started');
  t.same(((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key), ['k'], 'no copy made');
});

import { createHmac, randomBytes } from 'node:crypto';
import { t, type Test } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  ListBucketsCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type NotificationConfiguration,
} from '@aws-sdk/client-s3';
import { NodeClient, type ChangeNote } from '../../src/rpc/index.js';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { defineTarget } from '../helpers/event-targets.js';
import { until } from '../helpers/until.js';

/**
 * The gateway's part of the change log (docs/events.md): every write that makes an S3 event carries
 * its note to the nodes of its key when one of the bucket's notification configurations selects it,
 * and each of those nodes logs it once, with the same id. Read back from every node's own log.
 * Six nodes under 4+2: every key's set is the whole cluster.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const s3 = cluster.client();
const nodes = cluster.config.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: cluster.config.clusterSecret, connections: 1 }));
t.teardown(() => Promise.all(nodes.map((node) => node.close())));

// A target nothing listens on: the changes stay logged for the checks to read.
const arn = await defineTarget(nodes, 'hook', { type: 'webhook', url: 'http://127.0.0.1:9/' });
const adminId = (await s3.send(new ListBucketsCommand({}))).Owner?.ID ?? '';
const EVERYTHING: NotificationConfiguration = {
  QueueConfigurations: [{ Id: 'everything', QueueArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*', 's3:ObjectTagging:*'] }],
};
const DESTINATIONS = [{ configurationId: 'everything', arn }];

/** What a node logged for a change, as the checks compare it. */
interface Logged {
  key: string;
  note: ChangeNote;
}

/** Every change `node` logged for `bucket`, in the node's order. */
async function loggedOn(node: NodeClient, bucket: string): Promise<Logged[]> {
  const found: Logged[] = [];
  const limit = 500;
  let after: string | undefined;
  for (;;) {
    const changes = await node.listChanges({ after, limit });
    for (const change of changes) if (change.bucket === bucket) found.push({ key: change.key, note: change.note });
    const last = changes.at(-1);
    if (changes.length < limit || last === undefined) return found;
    after = last.seq;
  }
}

/** The changes of `bucket` on every node, once each holds `count`. */
async function loggedEverywhere(bucket: string, count: number): Promise<Logged[][]> {
  let logs: Logged[][] = [];
  await until(`every node logged ${count} changes of ${bucket}`, async () => {
    logs = await Promise.all(nodes.map((node) => loggedOn(node, bucket)));
    return logs.every((log) => log.length >= count);
  }, 30_000);
  return logs;
}

/** What a write's note must say: its event, key, the version a client sees, and the request that made it. */
interface Expected {
  key: string;
  eventName: ChangeNote['eventName'];
  versionId?: string | undefined;
  sizeBytes?: number | undefined;
  etag?: string | undefined;
  requestId: string;
  hostId: string;
}

/** The request ids an SDK answer names. */
function requestOf(out: { $metadata: { requestId?: string; extendedRequestId?: string } }): { requestId: string; hostId: string } {
  return { requestId: out.$metadata.requestId ?? '', hostId: out.$metadata.extendedRequestId ?? '' };
}

function unquoted(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

/** The fields the checks compare, absent ones left out as the note leaves them out. */
function viewOf({ key, note }: Logged): Record<string, unknown> {
  return {
    key,
    eventName: note.eventName,
    ...(note.versionId === undefined ? {} : { versionId: note.versionId }),
    ...(note.sizeBytes === undefined ? {} : { sizeBytes: note.sizeBytes }),
    ...(note.etag === undefined ? {} : { etag: note.etag }),
    requestId: note.requestId,
    hostId: note.hostId,
    principalId: note.principalId,
    bucketOwnerId: note.bucketOwnerId,
    destinations: note.destinations,
  };
}

function expectedView(expected: Expected): Record<string, unknown> {
  const { versionId, sizeBytes, etag, ...rest } = expected;
  return {
    ...rest,
    ...(versionId === undefined ? {} : { versionId }),
    ...(sizeBytes === undefined ? {} : { sizeBytes }),
    ...(etag === undefined ? {} : { etag }),
    principalId: adminId,
    bucketOwnerId: adminId,
    destinations: DESTINATIONS,
  };
}

/** Groups by key, each key's changes in the node's order (writes of different keys may interleave in a batch). */
function byKey<T extends { key: string }>(items: readonly T[]): Record<string, T[]> {
  const groups: Record<string, T[]> = {};
  for (const item of items) (groups[item.key] ??= []).push(item);
  return groups;
}

/**
 * Every node logged exactly the expected changes of `bucket`, in each key's write order, under the
 * same ids everywhere; each key's order ids grow with its writes, and each note's time is the write's.
 */
async function checkLogs(t: Test, bucket: string, expected: readonly Expected[], window: { fromMs: number; toMs: number }): Promise<void> {
  const logs = await loggedEverywhere(bucket, expected.length);
  const want = Object.fromEntries(Object.entries(byKey(expected)).map(([key, list]) => [key, list.map(expectedView)]));
  logs.forEach((log, i) => {
    t.same(Object.fromEntries(Object.entries(byKey(log)).map(([key, list]) => [key, list.map(viewOf)])), want, `node ${i} logged each write once`);
  });
  const idsOf = (log: readonly Logged[]): string[] => log.map(({ note }) => note.id).sort();
  const ids = idsOf(logs[0] ?? []);
  t.equal(new Set(ids).size, expected.length, 'every change has its own id');
  t.ok(ids.every((id) => /^[0-9a-f]{32}$/.test(id)), 'ids are 32 hex digits');
  for (const [i, log] of logs.entries()) t.same(idsOf(log), ids, `node ${i} logged the same ids`);
  for (const [key, list] of Object.entries(byKey(logs[0] ?? []))) {
    const orderIds = list.map(({ note }) => note.orderId);
    t.same(orderIds, [...orderIds].sort(), `the changes of ${key} are ordered as they were made`);
    t.equal(new Set(orderIds).size, orderIds.length, `each change of ${key} has its own order id`);
  }
  t.ok(
    (logs[0] ?? []).every(({ note }) => note.timeMs >= window.fromMs && note.timeMs <= window.toMs && /^(::ffff:)?127\.0\.0\.1$/.test(note.sourceIp)),
    'each note names when the change was made and from where',
  );
}

type Field = [string, string];

/** A browser form upload signed with the test credentials (SigV4 POST policy); the answer's request ids. */
async function postForm(bucket: string, key: string, file: Buffer): Promise<{ requestId: string; hostId: string; etag: string }> {
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = date.slice(0, 8);
  const fields: Field[] = [
    ['key', key],
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', `${TEST_CREDENTIALS.accessKeyId}/${day}/us-east-1/s3/aws4_request`],
    ['x-amz-date', date],
  ];
  const conditions = [{ bucket }, ...fields.map(([name, value]) => ({ [name]: value }))];
  const policy = Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 60_000).toISOString(), conditions })).toString('base64');
  let signingKey: Buffer = createHmac('sha256', `AWS4${TEST_CREDENTIALS.secretAccessKey}`).update(day).digest();
  for (const part of ['us-east-1', 's3', 'aws4_request']) signingKey = createHmac('sha256', signingKey).update(part).digest();
  const form = new FormData();
  for (const [name, value] of [...fields, ['policy', policy], ['x-amz-signature', createHmac('sha256', signingKey).update(policy).digest('hex')]]) {
    form.append(name as string, value as string);
  }
  form.append('file', new Blob([file]), 'upload.bin');
  const response = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body: form });
  const body = await response.text();
  if (response.status !== 204) throw new Error(`POST answered ${response.status}: ${body}`);
  return { requestId: response.headers.get('x-amz-request-id') ?? '', hostId: response.headers.get('x-amz-id-2') ?? '', etag: response.headers.get('etag') ?? '' };
}

async function bucketWith(configuration: NotificationConfiguration | undefined, versioning?: 'Enabled' | 'Suspended'): Promise<string> {
  const bucket = bucketName('changes');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  if (versioning !== undefined) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: versioning } }));
  if (configuration !== undefined) await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: configuration }));
  return bucket;
}

t.test('in a bucket never versioned, each kind of write logs its event on every node of its key, without version ids', async (t) => {
  const bucket = await bucketWith(EVERYTHING);
  const fromMs = Date.now();
  const expected: Expected[] = [];
  const body = randomBytes(1000);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: body }));
  expected.push({ key: 'a', eventName: 's3:ObjectCreated:Put', sizeBytes: 1000, etag: unquoted(put.ETag), ...requestOf(put) });
  const posted = await postForm(bucket, 'b', randomBytes(2000));
  expected.push({ key: 'b', eventName: 's3:ObjectCreated:Post', sizeBytes: 2000, etag: unquoted(posted.etag), requestId: posted.requestId, hostId: posted.hostId });
  const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'c', CopySource: `${bucket}/a` }));
  expected.push({ key: 'c', eventName: 's3:ObjectCreated:Copy', sizeBytes: 1000, etag: unquoted(copied.CopyObjectResult?.ETag), ...requestOf(copied) });
  // A part and an ACL change are no events; the completion is.
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'd' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'd', UploadId: upload.UploadId, PartNumber: 1, Body: randomBytes(3000) }));
  const completed = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'd', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
  );
  expected.push({ key: 'd', eventName: 's3:ObjectCreated:CompleteMultipartUpload', sizeBytes: 3000, etag: unquoted(completed.ETag), ...requestOf(completed) });
  t.match(unquoted(completed.ETag), /^[0-9a-f]{32}-1$/);
  await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'd', ACL: 'public-read' }));
  const tagged = await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'a', Tagging: { TagSet: [{ Key: 'stage', Value: 'raw' }] } }));
  expected.push({ key: 'a', eventName: 's3:ObjectTagging:Put', etag: unquoted(put.ETag), ...requestOf(tagged) });
  const untagged = await s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'a' }));
  expected.push({ key: 'a', eventName: 's3:ObjectTagging:Delete', etag: unquoted(put.ETag), ...requestOf(untagged) });
  const deleted = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a' }));
  expected.push({ key: 'a', eventName: 's3:ObjectRemoved:Delete', ...requestOf(deleted) });
  const batch = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'b' }, { Key: 'c' }] } }));
  t.same(batch.Errors ?? [], []);
  for (const key of ['b', 'c']) expected.push({ key, eventName: 's3:ObjectRemoved:Delete', ...requestOf(batch) });
  await checkLogs(t, bucket, expected, { fromMs, toMs: Date.now() });
});

t.test('in a versioned bucket, notes name the version ids clients see: new versions, delete markers, and versions deleted by id', async (t) => {
  const bucket = await bucketWith(EVERYTHING, 'Enabled');
  const fromMs = Date.now();
  const expected: Expected[] = [];
  const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'first' }));
  expected.push({ key: 'doc', eventName: 's3:ObjectCreated:Put', versionId: first.VersionId, sizeBytes: 5, etag: unquoted(first.ETag), ...requestOf(first) });
  const second = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'second' }));
  expected.push({ key: 'doc', eventName: 's3:ObjectCreated:Put', versionId: second.VersionId, sizeBytes: 6, etag: unquoted(second.ETag), ...requestOf(second) });
  const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/doc?versionId=${first.VersionId ?? ''}` }));
  expected.push({ key: 'copy', eventName: 's3:ObjectCreated:Copy', versionId: copied.VersionId, sizeBytes: 5, etag: unquoted(copied.CopyObjectResult?.ETag), ...requestOf(copied) });
  const tagged = await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'doc', VersionId: first.VersionId, Tagging: { TagSet: [{ Key: 'old', Value: 'yes' }] } }));
  expected.push({ key: 'doc', eventName: 's3:ObjectTagging:Put', versionId: first.VersionId, etag: unquoted(first.ETag), ...requestOf(tagged) });
  const marked = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc' }));
  t.equal(marked.DeleteMarker, true);
  expected.push({ key: 'doc', eventName: 's3:ObjectRemoved:DeleteMarkerCreated', versionId: marked.VersionId, ...requestOf(marked) });
  const removed = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: first.VersionId }));
  expected.push({ key: 'doc', eventName: 's3:ObjectRemoved:Delete', versionId: first.VersionId, ...requestOf(removed) });
  const batch = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'doc', VersionId: second.VersionId }, { Key: 'copy' }] } }));
  t.same(batch.Errors ?? [], []);
  const copyMarker = batch.Deleted?.find((d) => d.Key === 'copy')?.DeleteMarkerVersionId;
  t.ok(copyMarker, 'the batch made a delete marker for copy');
  expected.push({ key: 'doc', eventName: 's3:ObjectRemoved:Delete', versionId: second.VersionId, ...requestOf(batch) });
  expected.push({ key: 'copy', eventName: 's3:ObjectRemoved:DeleteMarkerCreated', versionId: copyMarker, ...requestOf(batch) });
  await checkLogs(t, bucket, expected, { fromMs, toMs: Date.now() });
});

t.test('in a bucket whose versioning is suspended, the null version is named "null"', async (t) => {
  const bucket = await bucketWith(EVERYTHING, 'Suspended');
  const fromMs = Date.now();
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'n', Body: 'null version' }));
  t.equal(put.VersionId, undefined, 'S3 answers a suspended write without a version id');
  const marked = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'n' }));
  const removed = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'n', VersionId: 'null' }));
  await checkLogs(
    t,
    bucket,
    [
      { key: 'n', eventName: 's3:ObjectCreated:Put', versionId: 'null', sizeBytes: 12, etag: unquoted(put.ETag), ...requestOf(put) },
      { key: 'n', eventName: 's3:ObjectRemoved:DeleteMarkerCreated', versionId: 'null', ...requestOf(marked) },
      { key: 'n', eventName: 's3:ObjectRemoved:Delete', versionId: 'null', ...requestOf(removed) },
    ],
    { fromMs, toMs: Date.now() },
  );
});

t.test('a write no configuration selects, and any write in a bucket without a configuration, logs nothing', async (t) => {
  const filtered = await bucketWith({ QueueConfigurations: [{ Id: 'everything', QueueArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'logs/' }] } } }] });
  const plain = await bucketWith(undefined);
  const fromMs = Date.now();
  await s3.send(new PutObjectCommand({ Bucket: plain, Key: 'logs/x', Body: 'unwatched' }));
  await s3.send(new DeleteObjectCommand({ Bucket: plain, Key: 'logs/x' }));
  await s3.send(new PutObjectCommand({ Bucket: filtered, Key: 'other/x', Body: 'outside the prefix' }));
  await s3.send(new PutObjectTaggingCommand({ Bucket: filtered, Key: 'other/x', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }));
  await s3.send(new DeleteObjectCommand({ Bucket: filtered, Key: 'other/x' }));
  // Tagging events are not among the configuration's: the tag change on logs/x is not logged either.
  const inside = await s3.send(new PutObjectCommand({ Bucket: filtered, Key: 'logs/x', Body: 'inside' }));
  await s3.send(new PutObjectTaggingCommand({ Bucket: filtered, Key: 'logs/x', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }));
  await checkLogs(t, filtered, [{ key: 'logs/x', eventName: 's3:ObjectCreated:Put', sizeBytes: 6, etag: unquoted(inside.ETag), ...requestOf(inside) }], { fromMs, toMs: Date.now() });
  const logs = await Promise.all(nodes.map((node) => loggedOn(node, plain)));
  t.same(logs, nodes.map(() => []), 'no node logged a change of the bucket without a configuration');
});

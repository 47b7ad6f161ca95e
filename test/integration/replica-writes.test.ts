import { createHash } from 'node:crypto';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { formatVersionId, parseVersionId } from '../../src/common/index.js';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, userClients } from '../helpers/cluster.js';
import { refusal } from '../helpers/sdk-refusal.js';
import { until } from '../helpers/until.js';

/**
 * The destination side of bucket replication (docs/replication.md), through a real gateway and nodes
 * with the AWS SDK: a write sent with `x-tessera-replica: true` (and the source's version id in
 * `x-tessera-replica-version-id`) is stored as a REPLICA under that id, once however often the delivery
 * is retried, and only for a requester allowed s3:ReplicateObject / s3:ReplicateDelete.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const s3 = cluster.client();
const users = await userClients(t, cluster);

/** A command that sends `headers` too (added before signing, so they are signed like the rest). */
function withHeaders<C extends { middlewareStack: { add: (...args: never[]) => unknown } }>(command: C, headers: Record<string, string>): C {
  const stack = command.middlewareStack as unknown as {
    add: (middleware: (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>, options: { step: 'build' }) => void;
  };
  stack.add(
    (next) => async (args) => {
      const request = args.request as { headers: Record<string, string> };
      Object.assign(request.headers, headers);
      return next(args);
    },
    { step: 'build' },
  );
  return command;
}

/** The headers a replicator sends for a version `versionId`. */
const replicaOf = (versionId: string): Record<string, string> => ({ 'x-tessera-replica': 'true', 'x-tessera-replica-version-id': versionId });

/** A version id as another cluster's clock makes it, `offsetMs` from now. */
const sourceId = (offsetMs: number): string => formatVersionId(Date.now() + offsetMs, 0, 'abcdef01');

const md5 = (text: string): string => `"${createHash('md5').update(text).digest('hex')}"`;

async function versionedBucket(client: S3Client = s3): Promise<string> {
  const bucket = bucketName('replica');
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

async function versionsOf(bucket: string, key: string): Promise<{ versions: { id: string; latest: boolean }[]; markers: { id: string; latest: boolean }[] }> {
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return {
    versions: (listed.Versions ?? []).filter((v) => v.Key === key).map((v) => ({ id: v.VersionId ?? '', latest: v.IsLatest === true })),
    markers: (listed.DeleteMarkers ?? []).filter((m) => m.Key === key).map((m) => ({ id: m.VersionId ?? '', latest: m.IsLatest === true })),
  };
}

async function text(bucket: string, key: string, versionId?: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Body?.transformToString() ?? '';
}

t.test("a replica PUT is stored as REPLICA under the source's version id; a retried delivery answers that version and writes nothing", async (t) => {
  const bucket = await versionedBucket();
  const id = sourceId(-60_000);
  const put = await s3.send(withHeaders(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'one' }), replicaOf(id)));
  t.equal(put.VersionId, id, 'x-amz-version-id is the source id');
  t.equal(put.ETag, md5('one'));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(head.ReplicationStatus, 'REPLICA');
  t.equal(head.VersionId, id);
  const retried = await s3.send(withHeaders(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'two' }), replicaOf(id)));
  t.equal(retried.VersionId, id, 'the retry answers the version');
  t.equal(retried.ETag, md5('one'), "with the stored version's ETag");
  t.equal(await text(bucket, 'k'), 'one', 'the retry wrote nothing');
  t.same((await versionsOf(bucket, 'k')).versions, [{ id, latest: true }], 'one version');
  const plain = await s3.send(withHeaders(new PutObjectCommand({ Bucket: bucket, Key: 'fresh', Body: 'x' }), { 'x-tessera-replica': 'true' }));
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fresh' }))).ReplicationStatus, 'REPLICA', 'a replica without a version id takes a fresh one');
  t.ok(plain.VersionId !== undefined && plain.VersionId !== id);
});

t.test("a replica's version takes its place among the key's versions by its id", async (t) => {
  const bucket = await versionedBucket();
  const local = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'local' }));
  const older = sourceId(-120_000);
  await s3.send(withHeaders(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'older replica' }), replicaOf(older)));
  t.same((await versionsOf(bucket, 'k')).versions, [{ id: local.VersionId, latest: true }, { id: older, latest: false }], 'an older replica is a noncurrent version');
  t.equal(await text(bucket, 'k'), 'local');
  const newer = sourceId(5_000);
  await s3.send(withHeaders(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'newer replica' }), replicaOf(newer)));
  t.equal(await text(bucket, 'k'), 'newer replica', 'a newer replica is the current version');
  const after = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'after' }));
  t.ok((after.VersionId ?? '') > newer, "the gateway's clock observed the replica's id: a later write orders after it");
  t.same(
    (await versionsOf(bucket, 'k')).versions,
    [{ id: after.VersionId, latest: true }, { id: newer, latest: false }, { id: local.VersionId, latest: false }, { id: older, latest: false }],
    'newest first',
  );
});

t.test('a replica delete writes a REPLICA delete marker under the source id, once', async (t) => {
  const bucket = await versionedBucket();
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
  // After the version: the gateway's clock may run ahead of the wall clock, having observed replicas' ids.
  const id = formatVersionId(parseVersionId(put.VersionId ?? '').physicalMs + 1_000, 0, 'abcdef01');
  for (const attempt of ['first', 'retried']) {
    const deleted = await s3.send(withHeaders(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }), replicaOf(id)));
    t.equal(deleted.DeleteMarker, true, `${attempt}: a delete marker`);
    t.equal(deleted.VersionId, id, `${attempt}: under the source id`);
  }
  t.same(await versionsOf(bucket, 'k'), { versions: [{ id: put.VersionId, latest: false }], markers: [{ id, latest: true }] }, 'one marker');
  t.match(await refusal(withHeadersSend(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: put.VersionId }), replicaOf(sourceId(2_000)))), { name: 'InvalidArgument', status: 400 }, 'a replica delete names no version');
  t.equal((await versionsOf(bucket, 'k')).versions.length, 1, 'the version is kept');
});

function withHeadersSend(command: DeleteObjectCommand | PutObjectCommand, headers: Record<string, string>, client: S3Client = s3): Promise<unknown> {
  return command instanceof DeleteObjectCommand ? client.send(withHeaders(command, headers)) : client.send(withHeaders(command, headers));
}

t.test("a multipart replica completes under the source id as REPLICA, and a repeated delivery answers that version", async (t) => {
  const bucket = await versionedBucket();
  const id = sourceId(-30_000);
  const deliver = async (body: string): Promise<{ versionId: string | undefined; etag: string | undefined }> => {
    const upload = await s3.send(withHeaders(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big' }), replicaOf(id)));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big', UploadId: upload.UploadId, PartNumber: 1, Body: body }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'big', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    return { versionId: done.VersionId, etag: done.ETag };
  };
  const first = await deliver('part one');
  t.equal(first.versionId, id);
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big' }));
  t.equal(head.ReplicationStatus, 'REPLICA');
  t.equal(head.ETag, first.etag);
  const again = await deliver('another body');
  t.same(again, first, 'the repeated delivery answers the stored version');
  t.equal(await text(bucket, 'big'), 'part one', 'and wrote nothing');
  t.same((await versionsOf(bucket, 'big')).versions, [{ id, latest: true }]);
});

t.test('malformed replica headers are refused with InvalidArgument and write nothing', async (t) => {
  const bucket = await versionedBucket();
  const cases: [string, Record<string, string>][] = [
    ['a version id of another syntax', replicaOf('3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY')],
    ['an upper-case version id', replicaOf(sourceId(0).toUpperCase())],
    ['a version id an hour ahead of the clock', replicaOf(sourceId(3_600_000))],
    ['a replica flag that is not true', { 'x-tessera-replica': 'yes' }],
    ['a version id without the replica flag', { 'x-tessera-replica-version-id': sourceId(0) }],
  ];
  for (const [what, headers] of cases) {
    t.match(await refusal(withHeadersSend(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }), headers)), { name: 'InvalidArgument', status: 400 }, what);
  }
  t.match(await refusal(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))), { status: 404 }, 'nothing was written');
});

t.test('replica writes need s3:ReplicateObject or s3:ReplicateDelete: the bucket owner has them, others only by a bucket policy', async (t) => {
  const carol = await users('carol');
  const bob = await users('bob');
  const bucket = await versionedBucket(carol.client);
  const own = await carol.client.send(withHeaders(new PutObjectCommand({ Bucket: bucket, Key: 'own', Body: 'x' }), replicaOf(sourceId(0))));
  t.ok(own.VersionId !== undefined, "the bucket's owner may write replicas");
  const policy = (actions: string[]) =>
    carol.client.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: actions, Resource: [`arn:aws:s3:::${bucket}/*`] }] }),
      }),
    );
  await policy(['s3:PutObject', 's3:DeleteObject']);
  await until('bob may write', () => bob.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'x' })).then(() => true, () => false), 20_000);
  t.same(await refusal(withHeadersSend(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: 'x' }), replicaOf(sourceId(0)), bob.client)), { name: 'AccessDenied', status: 403, message: 'Access Denied' }, 'a replica PUT');
  t.same(await refusal(withHeadersSend(new DeleteObjectCommand({ Bucket: bucket, Key: 'plain' }), replicaOf(sourceId(0)), bob.client)), { name: 'AccessDenied', status: 403, message: 'Access Denied' }, 'a replica delete');
  t.same(await versionsOf(bucket, 'r'), { versions: [], markers: [] }, 'nothing was written');
  t.equal((await versionsOf(bucket, 'plain')).markers.length, 0, 'no marker either');
  await policy(['s3:PutObject', 's3:DeleteObject', 's3:ReplicateObject', 's3:ReplicateDelete']);
  const id = sourceId(0);
  await until('the policy grants replication', () => withHeadersSend(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: 'x' }), replicaOf(id), bob.client).then(() => true, () => false), 20_000);
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'r' }))).ReplicationStatus, 'REPLICA');
  const marker = await bob.client.send(withHeaders(new DeleteObjectCommand({ Bucket: bucket, Key: 'plain' }), replicaOf(sourceId(1))));
  t.equal(marker.DeleteMarker, true, 'with s3:ReplicateDelete a replica delete marker');
});

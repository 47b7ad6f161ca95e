import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName, collect } from '../helpers/bytes.js';
import { secondGatewayClient, startCluster, statusOf } from '../helpers/cluster.js';
import { refusal } from '../helpers/sdk-refusal.js';
import { rawS3, xmlField } from '../gateway/raw-s3.js';

/**
 * Conditional deletes (S3, 2025): If-Match (and the size and time conditions) on DeleteObject, and an
 * ETag (Size, LastModifiedTime) per entry of DeleteObjects, through the real gateway with the JS SDK.
 */
const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const s3 = cluster.client();
const bucket = bucketName('conddel');
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

async function put(key: string, body: string, target = bucket): Promise<string> {
  return (await s3.send(new PutObjectCommand({ Bucket: target, Key: key, Body: body }))).ETag ?? '';
}

async function bodyOf(key: string, target = bucket): Promise<string | null> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: target, Key: key }));
    return (await collect(got.Body as AsyncIterable<Uint8Array>)).toString();
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
}

t.test('DeleteObject If-Match: another ETag is 412 PreconditionFailed and the object stays; its own ETag deletes it', async (t) => {
  const etag = await put('k', 'first');
  const failed = await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', IfMatch: '"00000000000000000000000000000000"' })));
  t.match(failed, { name: 'PreconditionFailed', status: 412 });
  t.equal(await bodyOf('k'), 'first', 'a failed condition deleted nothing');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', IfMatch: etag }));
  t.equal(await bodyOf('k'), null, 'the matching ETag deleted it');
  const bare = await put('bare', 'x');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'bare', IfMatch: bare.replace(/"/g, '') }));
  t.equal(await bodyOf('bare'), null, 'an unquoted ETag matches too');
});

t.test('DeleteObject If-Match on a missing key is 404 NoSuchKey; If-Match: * deletes an object that exists', async (t) => {
  t.match(await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'never', IfMatch: '*' }))), { name: 'NoSuchKey', status: 404 });
  t.match(await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'never', IfMatch: '"abc"' }))), { name: 'NoSuchKey', status: 404 });
  await put('star', 'here');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'star', IfMatch: '*' }));
  t.equal(await bodyOf('star'), null);
});

t.test('x-amz-if-match-size and x-amz-if-match-last-modified-time: a mismatch is 412, a match deletes, a missing key is 204', async (t) => {
  await put('sized', 'twelve bytes');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'sized' }));
  const modified = head.LastModified ?? new Date();
  t.match(await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'sized', IfMatchSize: 11 }))), { name: 'PreconditionFailed', status: 412 });
  t.match(
    await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'sized', IfMatchLastModifiedTime: new Date(modified.getTime() - 60_000) }))),
    { name: 'PreconditionFailed', status: 412 },
  );
  t.equal(await bodyOf('sized'), 'twelve bytes', 'nothing deleted');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'sized', IfMatchSize: 12, IfMatchLastModifiedTime: modified }));
  t.equal(await bodyOf('sized'), null, 'both conditions held: deleted');
  t.equal(await statusOf(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'gone', IfMatchSize: 3 }))), 200, 'a missing key with only a size condition is a plain 204');
});

t.test('a condition the gateway cannot read is 400 InvalidArgument, never dropped', async (t) => {
  await put('guarded', 'x');
  for (const headers of [{ 'x-amz-if-match-size': 'ten' }, { 'x-amz-if-match-size': '-1' }, { 'x-amz-if-match-last-modified-time': 'yesterday' }]) {
    const answer = await rawS3(cluster.endpoint, { method: 'DELETE', bucket, key: 'guarded', headers });
    t.equal(answer.status, 400, JSON.stringify(headers));
    t.equal(xmlField(answer.body, 'Code'), 'InvalidArgument');
  }
  t.equal(await bodyOf('guarded'), 'x', 'the object stays');
});

t.test('in a versioned bucket a failed If-Match writes no delete marker; a delete marker as the current version is NoSuchKey', async (t) => {
  const versioned = bucketName('conddelv');
  await s3.send(new CreateBucketCommand({ Bucket: versioned }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  const etag = await put('v', 'one', versioned);
  await refusal(s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'v', IfMatch: '"ffffffffffffffffffffffffffffffff"' })));
  let listed = await s3.send(new ListObjectVersionsCommand({ Bucket: versioned }));
  t.equal(listed.DeleteMarkers?.length ?? 0, 0, 'no marker');
  const marked = await s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'v', IfMatch: etag }));
  t.equal(marked.DeleteMarker, true, 'the matching delete wrote a marker');
  t.ok(marked.VersionId !== undefined && marked.VersionId !== 'null', 'with its version id');
  t.match(await refusal(s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'v', IfMatch: '*' }))), { name: 'NoSuchKey', status: 404 });
  listed = await s3.send(new ListObjectVersionsCommand({ Bucket: versioned }));
  t.equal(listed.DeleteMarkers?.length, 1, 'the refused delete added no second marker');
});

t.test('DeleteObjects with an ETag per entry: each key is checked on its own; a failed one is its Error and stays', async (t) => {
  const keep = await put('batch-keep', 'keep');
  const drop = await put('batch-drop', 'drop');
  t.not(keep, drop);
  await put('batch-size', 'four');
  const answer = await s3.send(
    new DeleteObjectsCommand({
      Bucket: bucket,
      Delete: {
        Objects: [
          { Key: 'batch-drop', ETag: drop },
          { Key: 'batch-keep', ETag: drop },
          { Key: 'batch-missing', ETag: drop },
          { Key: 'batch-size', Size: 5 },
        ],
      },
    }),
  );
  t.same(answer.Deleted?.map((d) => d.Key), ['batch-drop']);
  const errors = Object.fromEntries((answer.Errors ?? []).map((e) => [e.Key, e.Code]));
  t.same(errors, { 'batch-keep': 'PreconditionFailed', 'batch-missing': 'NoSuchKey', 'batch-size': 'PreconditionFailed' });
  t.equal(await bodyOf('batch-drop'), null);
  t.equal(await bodyOf('batch-keep'), 'keep');
  t.equal(await bodyOf('batch-size'), 'four');
});

t.test('a conditional delete racing an overwrite through another gateway never removes the new object', async (t) => {
  // Either the delete commits first (and the overwrite then lands on a deleted key) or the overwrite
  // does (and the delete's ETag no longer matches): in both orders the overwrite's object stays. A
  // check apart from its delete would let the marker land after the overwrite and hide it.
  const other: S3Client = await secondGatewayClient(t, cluster);
  const outcomes = new Set<number>();
  for (let round = 0; round < 12; round += 1) {
    const key = `race-${round}`;
    const etag = await put(key, 'old');
    const [deleted, overwritten] = await Promise.all([
      statusOf(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }))),
      statusOf(other.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `new ${round}` }))),
    ]);
    t.equal(overwritten, 200, `round ${round}: the overwrite succeeds`);
    t.ok(deleted === 200 || deleted === 412, `round ${round}: the delete answers 204 or 412 (${deleted})`);
    outcomes.add(deleted);
    t.equal(await bodyOf(key), `new ${round}`, `round ${round}: the overwrite's object stays`);
  }
  t.comment(`delete outcomes seen: ${[...outcomes].join(', ')}`);
});

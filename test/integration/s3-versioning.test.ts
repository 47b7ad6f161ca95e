import { t } from 'tap';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ListObjectVersionsCommandOutput,
} from '@aws-sdk/client-s3';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { rawS3, sdkError } from '../gateway/raw-s3.js';

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const s3 = cluster.client();

async function newBucket(status?: 'Enabled' | 'Suspended'): Promise<string> {
  const bucket = bucketName('ver');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  if (status !== undefined) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
  return bucket;
}

async function body(bucket: string, key: string, versionId?: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }));
  return (await collect(got.Body as AsyncIterable<Uint8Array>)).toString('utf8');
}

async function put(bucket: string, key: string, text: string | Buffer): Promise<string | undefined> {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }))).VersionId;
}

/** Every version and marker of a bucket, through pages of `pageSize`, as [key, versionId, isLatest, marker] rows. */
async function allVersions(bucket: string, pageSize = 1000, extra: { Prefix?: string } = {}): Promise<{ rows: [string, string, boolean, boolean][]; pages: number }> {
  const rows: [string, string, boolean, boolean][] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  let pages = 0;
  for (;;) {
    const page: ListObjectVersionsCommandOutput = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: pageSize, KeyMarker: keyMarker, VersionIdMarker: versionMarker, ...extra }),
    );
    pages += 1;
    const entries = [
      ...(page.Versions ?? []).map((v) => ({ key: v.Key ?? '', id: v.VersionId ?? '', latest: v.IsLatest === true, marker: false, ms: v.LastModified?.getTime() ?? 0 })),
      ...(page.DeleteMarkers ?? []).map((m) => ({ key: m.Key ?? '', id: m.VersionId ?? '', latest: m.IsLatest === true, marker: true, ms: m.LastModified?.getTime() ?? 0 })),
    ];
    // The SDK splits versions and markers into two lists: S3's order (key ascending, newest first) is
    // restored by key, then the latest, then last-modified time (a stable sort keeps each list's own order).
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) || Number(b.latest) - Number(a.latest) || b.ms - a.ms);
    for (const entry of entries) rows.push([entry.key, entry.id, entry.latest, entry.marker]);
    if (page.IsTruncated !== true) return { rows, pages };
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
}

t.test('GetBucketVersioning is empty until enabled, then answers Enabled or Suspended; bad documents are refused', async (t) => {
  const bucket = await newBucket();
  t.same((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, undefined);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Enabled');
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Suspended');
  const bad = await sdkError(s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Maybe' as 'Enabled' } })));
  t.equal(bad.name, 'IllegalVersioningConfigurationException');
  const mfa = await sdkError(s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' } })));
  t.equal(mfa.name, 'NotImplemented');
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Suspended', 'a refused document changes nothing');
});

t.test('an enabled bucket keeps every write: each version reads back by its id, the newest is current', async (t) => {
  const bucket = await newBucket('Enabled');
  const big = seededBytes(300 * 1024, 7);
  const ids = [await put(bucket, 'k', 'one'), await put(bucket, 'k', big), await put(bucket, 'k', 'three')];
  t.ok(ids.every((id) => typeof id === 'string' && /^[0-9a-f]{24}$/.test(id)), 'opaque URL-safe version ids');
  t.equal(new Set(ids).size, 3);
  t.equal(await body(bucket, 'k'), 'three');
  t.equal(await body(bucket, 'k', ids[0]), 'one');
  const second = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: ids[1] }));
  t.equal(second.VersionId, ids[1]);
  t.ok((await collect(second.Body as AsyncIterable<Uint8Array>)).equals(big), 'a large noncurrent version reads back byte-identical');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(head.VersionId, ids[2]);
  const listed = await allVersions(bucket);
  t.same(listed.rows, [
    ['k', ids[2], true, false],
    ['k', ids[1], false, false],
    ['k', ids[0], false, false],
  ]);
  const missing = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: '0000000000000000deadbeef' })));
  t.equal(missing.name, 'NoSuchVersion');
  const invalid = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: 'not-a-version' })));
  t.equal(invalid.name, 'NoSuchVersion', 'an id of a shape never issued names no version');
});

t.test('an empty ?versionId= is 400 InvalidArgument on GET, HEAD, DELETE and tagging, as S3 answers, and deletes nothing', async (t) => {
  const bucket = await newBucket('Enabled');
  const v1 = await put(bucket, 'k', 'kept');
  for (const [method, query] of [
    ['GET', { versionId: '' }],
    ['HEAD', { versionId: '' }],
    ['DELETE', { versionId: '' }],
    ['GET', { tagging: '', versionId: '' }],
  ] as const) {
    const answer = await rawS3(cluster.endpoint, { method, bucket, key: 'k', query });
    t.equal(answer.status, 400, `${method} ${Object.keys(query).join('&')}`);
    if (method !== 'HEAD') {
      t.match(answer.body, /<Code>InvalidArgument<\/Code>/);
      t.match(answer.body, /<Message>Version id cannot be the empty string<\/Message>/);
    }
  }
  t.same((await allVersions(bucket)).rows, [['k', v1, true, false]], 'no marker written, no version removed');
  t.equal(await body(bucket, 'k'), 'kept');
});

t.test('DELETE writes a delete marker: GET is 404 with x-amz-delete-marker, the marker by id is 405, deleting the marker restores the object', async (t) => {
  const bucket = await newBucket('Enabled');
  const v1 = await put(bucket, 'doc', 'kept');
  const deleted = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc' }));
  t.equal(deleted.DeleteMarker, true);
  const markerId = deleted.VersionId;
  t.match(markerId, /^[0-9a-f]{24}$/);
  const get = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'doc' });
  t.equal(get.status, 404);
  t.equal(get.headers['x-amz-delete-marker'], 'true');
  t.equal(get.headers['x-amz-version-id'], markerId);
  const byId = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'doc', query: { versionId: markerId ?? '' } });
  t.equal(byId.status, 405);
  t.equal(byId.headers['x-amz-delete-marker'], 'true');
  t.equal(await body(bucket, 'doc', v1), 'kept', 'the older version is still there');
  t.same((await allVersions(bucket)).rows, [
    ['doc', markerId, true, true],
    ['doc', v1, false, false],
  ]);
  const removed = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: markerId }));
  t.equal(removed.DeleteMarker, true);
  t.equal(removed.VersionId, markerId);
  t.equal(await body(bucket, 'doc'), 'kept', 'removing the marker makes the older version current again');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: v1 }));
  t.same((await allVersions(bucket)).rows, [], 'a version deleted by id is gone for good');
  t.equal((await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc' })))).name, 'NoSuchKey');
});

t.test('suspended: a write replaces the null version, a delete writes a null marker, versions from before stay', async (t) => {
  const bucket = await newBucket();
  await put(bucket, 'k', 'before versioning');
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const v = await put(bucket, 'k', 'versioned');
  t.same((await allVersions(bucket)).rows, [
    ['k', v, true, false],
    ['k', 'null', false, false],
  ]);
  t.equal(await body(bucket, 'k', 'null'), 'before versioning', 'the pre-versioning object is the null version');
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
  t.equal(await put(bucket, 'k', 'suspended one'), undefined, 'a suspended write answers without x-amz-version-id, as S3 does');
  t.same((await allVersions(bucket)).rows, [
    ['k', 'null', true, false],
    ['k', v, false, false],
  ], 'the new null version replaced the old one, wherever it was in the history');
  t.equal(await put(bucket, 'k', 'suspended two'), undefined);
  t.equal(await body(bucket, 'k'), 'suspended two');
  const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(marker.DeleteMarker, true);
  t.equal(marker.VersionId, 'null');
  t.same((await allVersions(bucket)).rows, [
    ['k', 'null', true, true],
    ['k', v, false, false],
  ], 'the null marker replaced the null version');
  t.equal(await body(bucket, 'k', v), 'versioned');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: 'null' }));
  t.equal(await body(bucket, 'k'), 'versioned', 'removing the null marker by id brings the versioned write back');
});

t.test('ListObjectVersions pages by KeyMarker/VersionIdMarker, filters by prefix, rolls up by delimiter and encodes keys', async (t) => {
  const bucket = await newBucket('Enabled');
  const expected: [string, string, boolean, boolean][] = [];
  for (const key of ['a', 'b/1', 'b/2', 'c d+e']) {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await put(bucket, key, `${key}:${i}`)) ?? '');
    ids.reverse().forEach((id, i) => expected.push([key, id, i === 0, false]));
  }
  const whole = await allVersions(bucket);
  t.same(whole.rows, expected);
  for (const size of [1, 2, 5]) {
    const paged = await allVersions(bucket, size);
    t.same(paged.rows, expected, `pages of ${size}`);
    t.equal(paged.pages, Math.ceil(expected.length / size));
  }
  t.same((await allVersions(bucket, 2, { Prefix: 'b/' })).rows, expected.filter(([key]) => key.startsWith('b/')));
  const rolled = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Delimiter: '/' }));
  t.same(rolled.CommonPrefixes?.map((p) => p.Prefix), ['b/']);
  t.same(rolled.Versions?.map((v) => v.Key), ['a', 'a', 'a', 'c d+e', 'c d+e', 'c d+e']);
  const encoded = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { versions: '', 'encoding-type': 'url', prefix: 'c' } });
  t.match(encoded.body, /<Key>c(\+|%20)d%2Be<\/Key>/, 'the key is URL-encoded by the listing encoder');
  t.match(encoded.body, /<EncodingType>url<\/EncodingType>/);
});

t.test('CopyObject copies a named source version; tagging acts on a named version', async (t) => {
  const bucket = await newBucket('Enabled');
  const v1 = await put(bucket, 'src', 'first');
  await put(bucket, 'src', 'second');
  const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src?versionId=${v1}` }));
  t.equal(copied.CopySourceVersionId, v1);
  t.match(copied.VersionId, /^[0-9a-f]{24}$/);
  t.equal(await body(bucket, 'dst'), 'first');
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'src', VersionId: v1, Tagging: { TagSet: [{ Key: 'old', Value: 'yes' }] } }));
  const oldTags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'src', VersionId: v1 }));
  t.same(oldTags.TagSet, [{ Key: 'old', Value: 'yes' }]);
  t.equal(oldTags.VersionId, v1);
  t.same((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'src' }))).TagSet ?? [], [], 'the current version keeps its own tags');
});

t.test('a named version copied onto its own key becomes the current one (restoring a previous version)', async (t) => {
  const bucket = await newBucket('Enabled');
  const v1 = await put(bucket, 'model.bin', 'good weights');
  await put(bucket, 'model.bin', 'bad weights');
  const restored = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'model.bin', CopySource: `${bucket}/model.bin?versionId=${v1}` }));
  t.equal(restored.CopySourceVersionId, v1);
  t.equal(await body(bucket, 'model.bin'), 'good weights', 'the old bytes are current again');
  t.equal((await allVersions(bucket)).rows.length, 3, 'as a new version, the others kept');
  t.same(
    await sdkError(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'model.bin', CopySource: `${bucket}/model.bin` }))),
    { name: 'InvalidRequest', status: 400 },
    'the current object copied onto itself unchanged is still refused',
  );
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'assembled' }));
  const part = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'assembled', UploadId, PartNumber: 1, CopySource: `${bucket}/model.bin?versionId=${v1}` }));
  t.equal(part.CopySourceVersionId, v1, 'UploadPartCopy names the source version it read, as CopyObject does');
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'assembled', UploadId }));
  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'model.bin' }))).VersionId;
  t.same(
    await sdkError(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'other', CopySource: `${bucket}/model.bin?versionId=${marker}` }))),
    { name: 'InvalidRequest', status: 400 },
    'a delete marker named as the source is 400, not the 405 a GET of it answers',
  );
  const removed = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'model.bin', VersionId: marker }] } }));
  t.same(
    removed.Deleted?.map((d) => [d.VersionId, d.DeleteMarker, d.DeleteMarkerVersionId]),
    [[marker, true, marker]],
    'DeleteObjects naming a marker reports it as a marker, with its id as DeleteMarkerVersionId',
  );
});

t.test('DeleteObjects writes markers for keys and removes named versions', async (t) => {
  const bucket = await newBucket('Enabled');
  const v1 = await put(bucket, 'x', 'x1');
  await put(bucket, 'y', 'y1');
  const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'x', VersionId: v1 }, { Key: 'y' }] } }));
  const byKey = new Map((result.Deleted ?? []).map((d) => [d.Key, d]));
  t.equal(byKey.get('x')?.VersionId, v1);
  t.equal(byKey.get('y')?.DeleteMarker, true);
  t.match(byKey.get('y')?.DeleteMarkerVersionId, /^[0-9a-f]{24}$/);
  const rows = (await allVersions(bucket)).rows;
  t.same(rows.map(([key, , latest, marker]) => [key, latest, marker]), [
    ['y', true, true],
    ['y', false, false],
  ]);
});

t.test('a retried CompleteMultipartUpload (its answer lost) answers with the version id the first one gave', async (t) => {
  for (const status of ['Enabled', 'Suspended'] as const) {
    const bucket = await newBucket(status);
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: upload.UploadId, PartNumber: 1, Body: 'only part' }));
    const complete = () =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const first = await complete();
    // A suspended bucket's completion is the null version, which S3 answers without x-amz-version-id.
    if (status === 'Enabled') t.ok(first.VersionId, `${status}: the completion names its version`);
    else t.equal(first.VersionId, undefined, `${status}: the completion answers no version id`);
    const retried = await complete();
    t.equal(retried.VersionId, first.VersionId, `${status}: so does its retry`);
    t.equal(retried.ETag, first.ETag);
  }
});

t.test('an unversioned bucket keeps one version per key and answers as before', async (t) => {
  const bucket = await newBucket();
  const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'one' }));
  t.equal(first.VersionId, undefined, 'no x-amz-version-id without versioning');
  await put(bucket, 'k', 'two');
  t.same((await allVersions(bucket)).rows, [['k', 'null', true, false]]);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.same((await allVersions(bucket)).rows, [], 'a delete leaves no marker to list');
});

t.test('Object Lock headers on a write are refused, as S3 does for a bucket without an Object Lock configuration', async (t) => {
  const bucket = await newBucket('Enabled');
  const until = new Date(Date.now() + 86_400_000);
  const refused = await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'locked', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until })));
  t.same(refused, { name: 'InvalidRequest', status: 400 });
  const hold = await sdkError(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'held', CopySource: `${bucket}/locked`, ObjectLockLegalHoldStatus: 'ON' })));
  t.same(hold, { name: 'InvalidRequest', status: 400 });
  t.same((await allVersions(bucket)).rows, [], 'nothing was written');
});

import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  ListObjectsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField, xmlFields } from '../gateway/raw-s3.js';

const { cluster, s3, bucket } = await clusterWithBucket(t);
const KEYS = ['a b+c%d/é', 'a/1', 'a/2', 'b/x/1', 'b/y', 'c', 'c/', 'd\u{1F600}', 'd\uFFFD', 'z'];
await Promise.all(KEYS.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
const byteOrder = [...KEYS].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

const list = (query: Record<string, string>) => rawS3(cluster.endpoint, { method: 'GET', bucket, query });

t.test('keys list in UTF-8 byte order (U+FFFD before U+1F600)', async (t) => {
  const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same(all.Contents?.map((c) => c.Key), byteOrder);
  t.ok(byteOrder.indexOf('d\uFFFD') < byteOrder.indexOf('d\u{1F600}'));
});

t.test('encoding-type=url encodes Key, Prefix, Delimiter, StartAfter and CommonPrefixes and echoes EncodingType (v2)', async (t) => {
  const response = await list({ 'list-type': '2', 'encoding-type': 'url', prefix: 'a', delimiter: '/', 'start-after': 'a b' });
  t.equal(response.status, 200);
  t.equal(xmlField(response.body, 'EncodingType'), 'url');
  t.same(xmlFields(response.body, 'Prefix'), ['a', 'a%20b%2Bc%25d/', 'a/'], 'the request prefix, then the common prefixes, encoded');
  t.equal(xmlField(response.body, 'Delimiter'), '/');
  t.equal(xmlField(response.body, 'StartAfter'), 'a%20b');
  const keys = await list({ 'list-type': '2', 'encoding-type': 'url', prefix: 'a b' });
  t.same(xmlFields(keys.body, 'Key'), ['a%20b%2Bc%25d/%C3%A9'], 'space as %20, + and % escaped, UTF-8 percent-encoded, / kept');
  t.equal(xmlField(keys.body, 'Prefix'), 'a%20b');
  const plain = await list({ 'list-type': '2', prefix: 'a b' });
  t.same(xmlFields(plain.body, 'Key'), ['a b+c%d/é'], 'without encoding-type keys are sent as they are');
  t.equal(xmlField(plain.body, 'EncodingType'), undefined, 'and EncodingType is not echoed');
  const bad = await list({ 'list-type': '2', 'encoding-type': 'base64' });
  t.equal(bad.status, 400);
  t.equal(xmlField(bad.body, 'Code'), 'InvalidArgument');
});

t.test('encoding-type=url in v1 encodes Marker and NextMarker', async (t) => {
  const response = await list({ 'encoding-type': 'url', marker: 'a b', delimiter: '/', 'max-keys': '1' });
  t.equal(xmlField(response.body, 'Marker'), 'a%20b');
  t.equal(xmlField(response.body, 'IsTruncated'), 'true');
  t.equal(xmlField(response.body, 'NextMarker'), 'a%20b%2Bc%25d/');
  t.same(xmlFields(response.body, 'Prefix').slice(1), ['a%20b%2Bc%25d/'], 'the common prefix is encoded');
});

t.test('empty prefix= and delimiter= mean absent (s3torchconnector sends them)', async (t) => {
  const response = await list({ 'list-type': '2', prefix: '', delimiter: '' });
  t.same(xmlFields(response.body, 'Key'), byteOrder, 'every key, none rolled up');
  t.equal(xmlField(response.body, 'Delimiter'), undefined);
  t.match(response.body, /<Prefix><\/Prefix>|<Prefix\/>/, 'an empty Prefix element, as S3 sends');
  t.equal(xmlField(response.body, 'KeyCount'), String(KEYS.length));
});

t.test('v1 pages with marker and NextMarker (delimiter) or the last key (no delimiter)', async (t) => {
  const visited: string[] = [];
  let marker: string | undefined;
  for (let page = 0; page < 20; page += 1) {
    const result = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', MaxKeys: 2, Marker: marker }));
    visited.push(...(result.Contents ?? []).map((c) => c.Key ?? ''), ...(result.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
    if (result.IsTruncated !== true) break;
    t.ok(result.NextMarker, 'NextMarker with a delimiter');
    marker = result.NextMarker;
  }
  t.same(visited.sort(), ['a b+c%d/', 'a/', 'b/', 'c', 'c/', 'd\u{1F600}', 'd\uFFFD', 'z'].sort(), 'each key or prefix exactly once');
  const noDelimiter = await s3.send(new ListObjectsCommand({ Bucket: bucket, MaxKeys: 3 }));
  t.equal(noDelimiter.NextMarker, undefined, 'no NextMarker without a delimiter');
  const next = await s3.send(new ListObjectsCommand({ Bucket: bucket, MaxKeys: 3, Marker: noDelimiter.Contents?.at(-1)?.Key }));
  t.same(next.Contents?.map((c) => c.Key), byteOrder.slice(3, 6));
  t.equal(noDelimiter.Contents?.[0]?.Owner?.ID, 'test-access-key', 'v1 always lists the owner');
});

t.test('a marker or start-after inside a common prefix does not repeat that prefix', async (t) => {
  const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', StartAfter: 'a/' }));
  t.notOk(v2.CommonPrefixes?.some((p) => p.Prefix === 'a/'), 'start-after a/ skips the a/ prefix');
  t.same(v2.CommonPrefixes?.map((p) => p.Prefix), ['b/', 'c/']);
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', Marker: 'b/x/1' }));
  t.same(v1.CommonPrefixes?.map((p) => p.Prefix), ['c/'], 'a marker under b/ resumes after all of b/');
});

t.test('v2 pages with continuation tokens; MaxKeys counts keys and prefixes; fetch-owner adds Owner', async (t) => {
  const visited: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const result = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 3, ContinuationToken: token, StartAfter: 'a' }));
    t.ok((result.KeyCount ?? 0) <= 3);
    visited.push(...(result.Contents ?? []).map((c) => c.Key ?? ''), ...(result.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
    token = result.IsTruncated === true ? result.NextContinuationToken : undefined;
    pages += 1;
  } while (token !== undefined);
  t.equal(pages, 3);
  t.same(visited.sort(), ['a b+c%d/', 'a/', 'b/', 'c', 'c/', 'd\u{1F600}', 'd\uFFFD', 'z'].sort());
  const withOwner = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1, FetchOwner: true }));
  t.equal(withOwner.Contents?.[0]?.Owner?.ID, 'test-access-key');
  const withoutOwner = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
  t.equal(withoutOwner.Contents?.[0]?.Owner, undefined, 'v2 omits the owner by default');
  const badToken = await list({ 'list-type': '2', 'continuation-token': 'garbage' });
  t.equal(xmlField(badToken.body, 'Code'), 'InvalidArgument');
  const badMax = await list({ 'list-type': '2', 'max-keys': '-1' });
  t.equal(xmlField(badMax.body, 'Code'), 'InvalidArgument');
});

t.test('ListObjectVersions on an unversioned bucket: one null version per key, latest, no delete markers', async (t) => {
  const scratch = bucketName('versions');
  await s3.send(new CreateBucketCommand({ Bucket: scratch }));
  for (const Key of ['k1', 'k2', 'dir/k3', 'gone']) await s3.send(new PutObjectCommand({ Bucket: scratch, Key, Body: Key }));
  await s3.send(new PutObjectCommand({ Bucket: scratch, Key: 'k1', Body: 'overwritten' }));
  await s3.send(new DeleteObjectCommand({ Bucket: scratch, Key: 'gone' }));
  const all = await s3.send(new ListObjectVersionsCommand({ Bucket: scratch }));
  t.same(all.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]), [['dir/k3', 'null', true], ['k1', 'null', true], ['k2', 'null', true]]);
  t.equal(all.Versions?.[1]?.Size, 'overwritten'.length, 'only the current bytes');
  t.equal(all.DeleteMarkers, undefined, 'a delete on an unversioned bucket leaves no marker to list');
  const paged = await s3.send(new ListObjectVersionsCommand({ Bucket: scratch, MaxKeys: 1, Delimiter: '/' }));
  t.same(paged.CommonPrefixes?.map((p) => p.Prefix), ['dir/']);
  t.equal(paged.IsTruncated, true);
  t.equal(paged.NextKeyMarker, 'dir/');
  const rest = await s3.send(new ListObjectVersionsCommand({ Bucket: scratch, Delimiter: '/', KeyMarker: paged.NextKeyMarker }));
  t.same(rest.Versions?.map((v) => v.Key), ['k1', 'k2'], 'the next page resumes after the prefix');
  const afterK1 = await s3.send(new ListObjectVersionsCommand({ Bucket: scratch, KeyMarker: 'k1', VersionIdMarker: 'null' }));
  t.same(afterK1.Versions?.map((v) => v.Key), ['k2']);
  t.same(await sdkError(s3.send(new ListObjectVersionsCommand({ Bucket: scratch, VersionIdMarker: 'null' }))), { name: 'InvalidArgument', status: 400 });
  const encoded = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { versions: '', prefix: 'a b', 'encoding-type': 'url' } });
  t.same(xmlFields(encoded.body, 'Key'), ['a%20b%2Bc%25d/%C3%A9']);
  t.equal(xmlField(encoded.body, 'VersionId'), 'null');
});

t.test('GetBucketVersioning answers an empty configuration; a missing bucket is NoSuchBucket', async (t) => {
  const got = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  t.equal(got.Status, undefined);
  const raw = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { versioning: '' } });
  t.match(raw.body, /<VersioningConfiguration xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">\s*<\/VersioningConfiguration>|<VersioningConfiguration xmlns="[^"]+"\/>/);
  t.same(await sdkError(s3.send(new GetBucketVersioningCommand({ Bucket: 'no-such-bucket-zz' }))), { name: 'NoSuchBucket', status: 404 });
  t.same(await sdkError(s3.send(new ListObjectVersionsCommand({ Bucket: 'no-such-bucket-zz' }))), { name: 'NoSuchBucket', status: 404 });
});

import { t } from 'tap';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { request } from 'undici';
import { rawS3, signRaw, xmlField, xmlFields } from '../gateway/raw-s3.js';

// Listing edges checked against the S3 API reference and the behaviour other S3 stores had to match.
const { cluster, s3 } = await clusterWithBucket(t);

async function bucketWith(label: string, keys: readonly string[]): Promise<string> {
  const bucket = bucketName(label);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
  return bucket;
}

t.test('a marker below the prefix in UTF-8 order lists only keys under the prefix (U+E000 sorts before U+10000)', async (t) => {
  // In UTF-16 code units U+E000 sorts after U+10000's surrogates; in UTF-8 bytes (S3's order) before.
  const bucket = await bucketWith('utf8-marker', ['\uF000', '\u{10000}a']);
  const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '\u{10000}', StartAfter: '\uE000' }));
  t.same(v2.Contents?.map((c) => c.Key), ['\u{10000}a'], 'ListObjectsV2 with start-after');
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: '\u{10000}', Marker: '\uE000' }));
  t.same(v1.Contents?.map((c) => c.Key), ['\u{10000}a'], 'ListObjects with marker');
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: '\u{10000}', KeyMarker: '\uE000' }));
  t.same(versions.Versions?.map((v) => v.Key), ['\u{10000}a'], 'ListObjectVersions with key-marker');
});

t.test('keys holding characters XML 1.0 cannot carry list without encoding-type as character references, as S3 sends them', async (t) => {
  const keys = ['ctl\u0001char', 'cr\rlf\r\nkey', 'nonchar\uFFFE'];
  const bucket = await bucketWith('xml-refs', keys);
  await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'ctl\u0001upload' }));
  const byteOrder = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  // The SDK sends no encoding-type: it reads the page's character references back.
  const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same(v2.Contents?.map((c) => c.Key), byteOrder, 'ListObjectsV2: every key as written, a CR kept');
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'ctl\u0001' }));
  t.same(v1.Contents?.map((c) => c.Key), ['ctl\u0001char'], 'ListObjects, with the prefix echoed');
  t.equal(v1.Prefix, 'ctl\u0001');
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  t.same(versions.Versions?.map((v) => v.Key), byteOrder, 'ListObjectVersions');
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  t.same(uploads.Uploads?.map((u) => u.Key), ['ctl\u0001upload'], 'ListMultipartUploads');
  const raw = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { 'list-type': '2' } });
  t.equal(raw.status, 200);
  t.match(raw.body, '<Key>ctl&#x1;char</Key>', 'a control character as a hexadecimal character reference');
  t.match(raw.body, '<Key>cr&#xD;lf&#xD;\nkey</Key>', 'a CR as a reference, so that XML line-end handling keeps it');
  t.notOk(/[\u0001\r\uFFFE]/.test(raw.body), 'no raw character XML 1.0 forbids or rewrites');
});

t.test('a continuation token naming no position a key can have is 400 InvalidArgument, not a node failure', async (t) => {
  const bucket = await bucketWith('forged-token', ['a', 'b']);
  // Tokens are base64url JSON [after, afterIsPrefix]: forge ones a client could send.
  const forge = (after: string): string => Buffer.from(JSON.stringify([after, 0]), 'utf8').toString('base64url');
  for (const [label, token] of [
    ['longer than any key (6000 bytes that each travel as %25)', forge('%'.repeat(6000))],
    ['just past the longest key', forge('k'.repeat(1025))],
    ['a lone surrogate, which no UTF-8 key holds', forge('\uD800')],
    ['not JSON', 'garbage'],
    ['JSON of another shape', Buffer.from('{"after":"a"}').toString('base64url')],
  ] as const) {
    const response = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { 'list-type': '2', 'continuation-token': token } });
    t.equal(response.status, 400, label);
    t.equal(xmlField(response.body, 'Code'), 'InvalidArgument', label);
    t.equal(xmlField(response.body, 'ArgumentName'), 'continuation-token', label);
  }
  const longest = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { 'list-type': '2', 'continuation-token': forge('a'.repeat(1024)) } });
  t.equal(longest.status, 200, 'a position as long as the longest key is a position');
  t.equal(xmlField(longest.body, 'KeyCount'), '1');
});

t.test('max-keys, max-uploads, max-parts and part-number-marker past 2147483647 are 400 InvalidArgument', async (t) => {
  const bucket = await bucketWith('int-range', ['a']);
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
  const uploadId = upload.UploadId ?? '';
  const cases: [string, Record<string, string>, string | undefined][] = [
    ['max-keys', { 'list-type': '2' }, undefined],
    ['max-keys', {}, undefined],
    ['max-keys', { versions: '' }, undefined],
    ['max-uploads', { uploads: '' }, undefined],
    ['max-parts', { uploadId }, 'mp'],
    ['part-number-marker', { uploadId }, 'mp'],
  ];
  for (const [name, query, key] of cases) {
    const label = `${name} with ${Object.keys(query).join(',') || 'list v1'}`;
    const over = await rawS3(cluster.endpoint, { method: 'GET', bucket, ...(key === undefined ? {} : { key }), query: { ...query, [name]: '2147483648' } });
    t.equal(over.status, 400, label);
    t.equal(xmlField(over.body, 'Code'), 'InvalidArgument', label);
    t.equal(xmlField(over.body, 'ArgumentName'), name, label);
    const largest = await rawS3(cluster.endpoint, { method: 'GET', bucket, ...(key === undefined ? {} : { key }), query: { ...query, [name]: '2147483647' } });
    t.equal(largest.status, 200, `${label}: the largest integer is accepted`);
  }
});

t.test('GetObjectAttributes x-amz-max-parts and x-amz-part-number-marker past 2147483647 are 400 InvalidArgument', async (t) => {
  const bucket = await bucketWith('attr-int-range', ['a']);
  for (const name of ['x-amz-max-parts', 'x-amz-part-number-marker']) {
    const attributes = (value: string) =>
      rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'a', query: { attributes: '' }, headers: { 'x-amz-object-attributes': 'ObjectParts', [name]: value } });
    for (const value of ['2147483648', '9999999999']) {
      const over = await attributes(value);
      t.equal(over.status, 400, `${name}: ${value}`);
      t.equal(xmlField(over.body, 'Code'), 'InvalidArgument', `${name}: ${value}`);
      t.equal(xmlField(over.body, 'ArgumentName'), name, `${name}: ${value}`);
    }
    t.equal((await attributes('2147483647')).status, 200, `${name}: the largest integer is accepted`);
  }
});

t.test('a prefix or marker longer than any key lists as S3 orders keys, not as a failure of the nodes', async (t) => {
  const keys = [`a${'\u00E9'.repeat(511)}`, `a${'\u00E9'.repeat(511)}z`, 'b'];
  const bucket = await bucketWith('long-marker', keys);
  // Signed as the SDK encodes the query, sent with `!` as itself (RFC 3986 allows it in a query), as
  // some clients do: the gateway takes 6000 of them within its header limit.
  const list = async (query: Record<string, string>): Promise<{ status: number; body: string }> => {
    const signed = await signRaw(cluster.endpoint, { method: 'GET', bucket, query });
    const response = await request(signed.url.replaceAll('%21', '!'), { method: 'GET', headers: signed.headers });
    return { status: response.statusCode, body: await response.body.text() };
  };
  const low = '!'.repeat(6000);
  const v2 = await list({ 'list-type': '2', 'start-after': low });
  t.equal(v2.status, 200, 'ListObjectsV2 with a start-after below every key');
  t.same(xmlFields(v2.body, 'Key').length, 3, 'every key follows it');
  const v1 = await list({ marker: low, delimiter: '/' });
  t.equal(v1.status, 200, 'ListObjects with such a marker');
  t.same(xmlFields(v1.body, 'Key').length, 3);
  const versions = await list({ versions: '', 'key-marker': low });
  t.equal(versions.status, 200, 'ListObjectVersions with such a key-marker');
  t.same(xmlFields(versions.body, 'Key').length, 3);
  const prefixed = await list({ 'list-type': '2', prefix: '!'.repeat(5400) });
  t.equal(prefixed.status, 200, 'a prefix longer than any key');
  t.equal(xmlField(prefixed.body, 'KeyCount'), '0', 'matches no key');
  // Cut at 1,024 bytes inside a two-byte character: every key starting with the bytes before the cut sorts below the marker.
  const inside = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: `a${'\u00E9'.repeat(600)}` }));
  t.same(inside.Contents?.map((c) => c.Key), ['b'], 'keys below a long marker stay below it');
  const exact = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: `a${'\u00E9'.repeat(511)}yy` }));
  t.same(exact.Contents?.map((c) => c.Key), [keys[1], 'b'], 'a marker cut at a character boundary keeps its order');
});

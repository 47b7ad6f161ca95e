import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { NodeClient, type ObjectRecord } from '../../src/rpc/index.js';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';
import { controlsAsReferences } from '../helpers/xml-references.js';

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024 });
const nodeClients = cluster.nodes.map(
  (node, i) => new NodeClient({ nodeId: `node-${i}`, address: `127.0.0.1:${node.address.port}`, clusterSecret: 'test-cluster-secret' }),
);
t.teardown(async () => {
  await Promise.all(nodeClients.map((client) => client.close()));
  await cluster.close();
});
const s3 = cluster.client();
const bucket = bucketName();
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

async function tagsOf(key: string): Promise<Record<string, string>> {
  const got = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  return Object.fromEntries((got.TagSet ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

/** Every node's committed record of a key: what a rewrite would change (version id) and what a tag change must not. */
async function recordsOf(key: string): Promise<ObjectRecord[]> {
  const statuses = await Promise.all(nodeClients.map((client) => client.objectStatus(bucket, key)));
  return statuses.flatMap((status) => (status === null ? [] : [status.record]));
}

t.test('x-amz-tagging on PutObject stores tags; GET and HEAD report x-amz-tagging-count', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tagged', Body: 'x', Tagging: 'project=tessera&team=storage%20ops&empty=' }));
  t.same(await tagsOf('tagged'), { project: 'tessera', team: 'storage ops', empty: '' });
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tagged' }))).TagCount, 3);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tagged' }));
  await collect(got.Body as AsyncIterable<Uint8Array>);
  t.equal(got.TagCount, 3);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'untagged', Body: 'x' }));
  t.same(await tagsOf('untagged'), {}, 'no tags is an empty TagSet');
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'untagged' }))).TagCount, undefined, 'no tag count without tags');
});

t.test('PutObjectTagging changes tags in place: same version on every node, same ETag and data', async (t) => {
  const body = seededBytes(300_000, 5);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'in-place', Body: body, Tagging: 'a=1' }));
  const before = await recordsOf('in-place');
  const headBefore = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'in-place' }));
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'in-place', Tagging: { TagSet: [{ Key: 'b', Value: '2' }, { Key: 'c', Value: 'x y' }] } }));
  t.same(await tagsOf('in-place'), { b: '2', c: 'x y' }, 'the new set replaces the old one');
  const after = await recordsOf('in-place');
  t.equal(after.length, before.length, 'every node still holds the object');
  t.same(after.map((r) => r.versionId), before.map((r) => r.versionId), 'no new version was written: the data was not rewritten');
  t.ok(after.every((r) => r.tags?.['b'] === '2'), 'every node holds the new tags');
  const headAfter = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'in-place' }));
  t.equal(headAfter.ETag, put.ETag);
  t.equal(headAfter.LastModified?.getTime(), headBefore.LastModified?.getTime(), 'Last-Modified unchanged, as in S3');
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'in-place' }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), 'data intact');
  await s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'in-place' }));
  t.same(await tagsOf('in-place'), {});
  t.same((await recordsOf('in-place')).map((r) => r.versionId), before.map((r) => r.versionId), 'delete of tags rewrote nothing either');
});

t.test('an older tag revision replayed on the nodes never replaces a newer one', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'revisions', Body: 'r', Tagging: 'v=1' }));
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'revisions', Tagging: { TagSet: [{ Key: 'v', Value: '2' }] } }));
  // Replay an older revision on every node: nodes keep the newest, so the answer cannot go back.
  const versionId = (await recordsOf('revisions'))[0]?.versionId ?? '';
  const replayed = { bucket, key: 'revisions', versionId, tags: { v: 'old' }, tagsRevision: '000000000000000000000000' };
  await Promise.all(nodeClients.map((client) => client.updateTags(replayed).catch(() => undefined)));
  t.same(await tagsOf('revisions'), { v: '2' }, 'an older revision never wins');
});

t.test('tags set at CreateMultipartUpload reach the completed object; CopyObject copies or replaces them', async (t) => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu', Tagging: 'from=upload' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mpu', UploadId, PartNumber: 1, Body: 'p' }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mpu', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  t.same(await tagsOf('mpu'), { from: 'upload' });
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-tags', CopySource: `${bucket}/mpu` }));
  t.same(await tagsOf('copy-tags'), { from: 'upload' }, 'the COPY directive (default) copies tags');
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-replaced', CopySource: `${bucket}/mpu`, TaggingDirective: 'REPLACE', Tagging: 'fresh=yes' }));
  t.same(await tagsOf('copy-replaced'), { fresh: 'yes' }, 'REPLACE takes x-amz-tagging');
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-cleared', CopySource: `${bucket}/mpu`, TaggingDirective: 'REPLACE' }));
  t.same(await tagsOf('copy-cleared'), {}, 'REPLACE without x-amz-tagging clears them');
});

t.test('invalid tags are refused and nothing is stored', async (t) => {
  const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-tags', Body: 'x', Tagging: eleven }))), { name: 'InvalidTag', status: 400 }, 'eleven tags in x-amz-tagging');
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-tags', Body: 'x', Tagging: 'a=1&a=2' }))), { name: 'InvalidTag', status: 400 });
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-tags', Body: 'x', Tagging: `${'k'.repeat(129)}=v` }))), { name: 'InvalidTag', status: 400 });
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-tags', Body: 'x', Tagging: `k=${'v'.repeat(257)}` }))), { name: 'InvalidTag', status: 400 });
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-tags', Body: 'x', Tagging: 'k=a%23b' }))), { name: 'InvalidTag', status: 400 }, '# is not allowed');
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-tags', Body: 'x', Tagging: 'aws:reserved=1' }))), { name: 'InvalidTag', status: 400 });
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad-tags' }))), { name: 'NotFound', status: 404 }, 'no object was created');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keeps-tags', Body: 'x', Tagging: 'keep=me' }));
  const tooMany = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
  t.same(await sdkError(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'keeps-tags', Tagging: { TagSet: tooMany } }))), { name: 'InvalidTag', status: 400 }, 'eleven tags in a Tagging document');
  const malformed = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'keeps-tags', query: { tagging: '' }, body: '<Tagging><NoTagSet/></Tagging>' });
  t.equal(xmlField(malformed.body, 'Code'), 'MalformedXML');
  t.same(await tagsOf('keeps-tags'), { keep: 'me' }, 'refused tag changes left the old tags');
});

t.test('a tag value sent with a control character as a reference is InvalidTag, not stored without the character', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ref-tags', Body: 'x', Tagging: 'keep=me' }));
  // S3's tag characters are letters, digits, spaces and + - = . _ : / @: no control character.
  const echoing = controlsAsReferences(cluster.client());
  const tagging = { TagSet: [{ Key: 'k', Value: 'a\u0001b' }] };
  t.same(await sdkError(echoing.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'ref-tags', Tagging: tagging }))), { name: 'InvalidTag', status: 400 }, 'sent as &#x1;');
  t.same(await sdkError(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'ref-tags', Tagging: tagging }))), { name: 'InvalidTag', status: 400 }, 'sent raw');
  t.same(await tagsOf('ref-tags'), { keep: 'me' }, 'the old tags stay');
  const nbsp = '<Tagging><TagSet><Tag><Key>k</Key><Value>a&#xA0;b</Value></Tag></TagSet></Tagging>';
  t.equal((await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'ref-tags', query: { tagging: '' }, body: nbsp })).status, 200);
  t.same(await tagsOf('ref-tags'), { k: 'a\u00A0b' }, 'a reference to a space S3 allows in tags is decoded');
});

t.test('a tag named __proto__ or constructor is stored and answered like any other, by PutObjectTagging and by x-amz-tagging', async (t) => {
  const tagSet = [
    { Key: '__proto__', Value: 'p' },
    { Key: 'constructor', Value: 'c' },
  ];
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'proto-tags', Body: 'x' }));
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'proto-tags', Tagging: { TagSet: tagSet } }));
  const got = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'proto-tags' }));
  t.same(got.TagSet, tagSet, 'both tags come back');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'proto-header', Body: 'x', Tagging: '__proto__=p&constructor=c' }));
  t.same((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'proto-header' }))).TagSet, tagSet, 'from the header too');
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'proto-header' }))).TagCount, 2, 'and count as two');
});

t.test('tagging a missing key is NoSuchKey; a missing bucket NoSuchBucket', async (t) => {
  t.same(await sdkError(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'absent' }))), { name: 'NoSuchKey', status: 404 });
  t.same(await sdkError(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'absent', Tagging: { TagSet: [] } }))), { name: 'NoSuchKey', status: 404 });
  t.same(await sdkError(s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'absent' }))), { name: 'NoSuchKey', status: 404 });
  t.same(await sdkError(s3.send(new GetObjectTaggingCommand({ Bucket: 'no-such-bucket-here', Key: 'k' }))), { name: 'NoSuchBucket', status: 404 });
  t.same(await sdkError(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tagged', VersionId: 'not-null' }))), { name: 'NoSuchVersion', status: 404 });
  const nullVersion = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tagged', VersionId: 'null' }));
  t.equal(nullVersion.TagSet?.length, 3, 'versionId=null names the current object');
});

t.test('the GetObjectTagging document is S3\'s', async (t) => {
  const response = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'keeps-tags', query: { tagging: '' } });
  t.equal(response.status, 200);
  t.match(response.body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Tagging xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><TagSet><Tag><Key>keep<\/Key><Value>me<\/Value><\/Tag><\/TagSet><\/Tagging>$/);
  const empty = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'untagged', query: { tagging: '' } });
  t.match(empty.body, /<TagSet\s*(\/>|><\/TagSet>)/, 'an empty TagSet element');
});

t.test('bucket tagging: NoSuchTagSet until set, then the set, then gone again', async (t) => {
  t.same(await sdkError(s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))), { name: 'NoSuchTagSet', status: 404 });
  await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'cost-center', Value: '42' }] } }));
  const got = await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
  t.same(got.TagSet, [{ Key: 'cost-center', Value: '42' }]);
  t.same(await sdkError(s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'x', Value: 'a' }, { Key: 'x', Value: 'b' }] } }))), {
    name: 'InvalidTag',
    status: 400,
  });
  t.same((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, [{ Key: 'cost-center', Value: '42' }], 'a refused set changed nothing');
  await s3.send(new DeleteBucketTaggingCommand({ Bucket: bucket }));
  t.same(await sdkError(s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))), { name: 'NoSuchTagSet', status: 404 });
});

t.test('tags come back in key order, as S3 keeps them, whatever order x-amz-tagging or the document gave', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ordered', Body: 'x', Tagging: 'foo=bar&bar=' }));
  const fromHeader = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'ordered' }));
  t.same(fromHeader.TagSet, [{ Key: 'bar', Value: '' }, { Key: 'foo', Value: 'bar' }], 'bar before foo');
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'ordered', Tagging: { TagSet: [{ Key: 'b', Value: '1' }, { Key: '10', Value: '2' }, { Key: '2', Value: '3' }, { Key: 'A', Value: '4' }] } }));
  const fromDocument = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'ordered' }));
  t.same(fromDocument.TagSet?.map((tag) => tag.Key), ['10', '2', 'A', 'b'], 'byte order, numeric-looking keys included');
});

import { createHash } from 'node:crypto';
import { t } from 'tap';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { computeChecksum } from '../../src/gateway/s3/checksums/index.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField, xmlFields } from '../gateway/raw-s3.js';
import { controlsAsReferences } from '../helpers/xml-references.js';

const { cluster, s3, bucket } = await clusterWithBucket(t);

async function putAll(keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
}

async function listed(prefix: string): Promise<string[]> {
  return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((c) => c.Key ?? '');
}

function deleteDocument(keys: readonly string[], quiet = false): string {
  const objects = keys.map((key) => `<Object><Key>${key.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Key></Object>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${quiet ? '<Quiet>true</Quiet>' : ''}${objects}</Delete>`;
}

const md5 = (text: string) => createHash('md5').update(text).digest('base64');

t.test('1,000 keys in one request: every key reported Deleted, existing or not', async (t) => {
  const existing = Array.from({ length: 30 }, (_, i) => `thousand/${i}`);
  await putAll(existing);
  const keys = [...existing, ...Array.from({ length: 970 }, (_, i) => `thousand/absent-${i}`)];
  const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  t.equal(result.Deleted?.length, 1000);
  t.equal(result.Errors, undefined);
  t.same(await listed('thousand/'), []);
});

t.test('1,001 keys are MalformedXML and delete nothing', async (t) => {
  await putAll(['over/kept']);
  const keys = ['over/kept', ...Array.from({ length: 1000 }, (_, i) => `over/${i}`)];
  t.same(await sdkError(s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }))), { name: 'MalformedXML', status: 400 });
  t.same(await listed('over/'), ['over/kept']);
});

t.test('Quiet mode reports only errors', async (t) => {
  await putAll(['quiet/a', 'quiet/b']);
  const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: [{ Key: 'quiet/a' }, { Key: 'quiet/b' }] } }));
  t.equal(result.Deleted, undefined);
  t.equal(result.Errors, undefined);
  t.same(await listed('quiet/'), []);
  const long = 'quiet/' + 'k'.repeat(1100);
  await putAll(['quiet/c']);
  const body = deleteDocument(['quiet/c', long], true);
  const response = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body, headers: { 'content-md5': md5(body) } });
  t.equal(response.status, 200);
  t.same(xmlFields(response.body, 'Code'), ['KeyTooLongError'], 'a bad key fails alone, and quiet mode still reports it');
  t.equal(xmlFields(response.body, 'Deleted').length, 0);
  t.same(await listed('quiet/'), []);
});

t.test('Content-MD5 or an x-amz-checksum-* header is required and verified', async (t) => {
  await putAll(['digest/a']);
  const body = deleteDocument(['digest/a']);
  const unsigned = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  const none = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body, headers: unsigned });
  t.equal(none.status, 400);
  t.equal(xmlField(none.body, 'Code'), 'InvalidRequest', 'neither Content-MD5 nor a checksum');
  const wrongMd5 = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body, headers: { ...unsigned, 'content-md5': md5('other') } });
  t.equal(xmlField(wrongMd5.body, 'Code'), 'BadDigest');
  const malformedMd5 = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body, headers: { ...unsigned, 'content-md5': 'not-base64' } });
  t.equal(xmlField(malformedMd5.body, 'Code'), 'InvalidDigest');
  const wrongCrc = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body, headers: { ...unsigned, 'x-amz-checksum-crc32': computeChecksum('CRC32', Buffer.from('x')) } });
  t.equal(xmlField(wrongCrc.body, 'Code'), 'BadDigest');
  t.same(await listed('digest/'), ['digest/a'], 'refused requests deleted nothing');
  const byChecksum = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body, headers: { ...unsigned, 'x-amz-checksum-sha256': computeChecksum('SHA256', Buffer.from(body)) } });
  t.equal(byChecksum.status, 200);
  t.same(xmlFields(byChecksum.body, 'Key'), ['digest/a']);
  await putAll(['digest/b']);
  const second = deleteDocument(['digest/b']);
  const byMd5 = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body: second, headers: { ...unsigned, 'content-md5': md5(second) } });
  t.equal(byMd5.status, 200);
  t.same(await listed('digest/'), []);
});

t.test('VersionId null deletes the key; any other version id fails that key alone', async (t) => {
  await putAll(['versioned/a', 'versioned/b']);
  const result = await s3.send(
    new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'versioned/a', VersionId: 'null' }, { Key: 'versioned/b', VersionId: 'someOtherVersion' }] } }),
  );
  t.same(result.Deleted?.map((d) => [d.Key, d.VersionId]), [['versioned/a', 'null']]);
  t.same(result.Errors?.map((e) => [e.Key, e.Code]), [['versioned/b', 'NoSuchVersion']]);
  t.same(await listed('versioned/'), ['versioned/b'], 'the failed key is still there');
});

t.test('malformed documents and a missing bucket', async (t) => {
  const junk = '<Delete><Object><Nope/></Object></Delete>';
  const response = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body: junk, headers: { 'content-md5': md5(junk) } });
  t.equal(xmlField(response.body, 'Code'), 'MalformedXML');
  t.same(await sdkError(s3.send(new DeleteObjectsCommand({ Bucket: 'no-such-bucket-zz', Delete: { Objects: [{ Key: 'k' }] } }))), { name: 'NoSuchBucket', status: 404 });
});

t.test('keys sent as character references of a control character and a CR delete those keys, not their neighbours', async (t) => {
  // `ab` is what dropping the reference in `a&#x1;b` names; `c\nd` what a CR read as a line end names.
  const named = ['refs/a\u0001b', 'refs/c\rd'];
  const neighbours = ['refs/ab', 'refs/c\nd'];
  await putAll([...named, ...neighbours]);
  const echoing = controlsAsReferences(cluster.client());
  const result = await echoing.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: named.map((Key) => ({ Key })) } }));
  t.same(result.Deleted?.map((d) => d.Key).sort(), named, 'each key reported as sent');
  t.equal(result.Errors, undefined);
  t.same(await listed('refs/'), neighbours, 'the neighbours are untouched');
  // As the SDK writes them itself: the control raw, the CR as &#x0D;.
  await putAll(named);
  await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: named.map((Key) => ({ Key })) } }));
  t.same(await listed('refs/'), neighbours);
});

t.test('a reference to a character no key can hold is MalformedXML and deletes nothing', async (t) => {
  await putAll(['badref/ab', 'badref/a&#0;b']);
  for (const reference of ['&#0;', '&#x0;', '&#xD800;', '&#56320;', '&#x110000;', '&#99999999999;', '&nbsp;', '&undeclared;']) {
    const body = deleteDocument(['badref/ab']).replace('badref/ab', `badref/a${reference}b`);
    const response = await rawS3(cluster.endpoint, { method: 'POST', bucket, query: { delete: '' }, body, headers: { 'content-md5': md5(body) } });
    t.equal(response.status, 400, reference);
    t.equal(xmlField(response.body, 'Code'), 'MalformedXML', reference);
  }
  t.same(await listed('badref/'), ['badref/a&#0;b', 'badref/ab'], 'neither the neighbour nor the key spelled as the reference is deleted');
});

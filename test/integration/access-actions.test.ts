import { t } from 'tap';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, userClients } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

/**
 * The S3 actions a request performs beyond its operation's own, as policies and ACLs decide them (S3
 * API reference, the "Permissions" of GetObject, DeleteObject and PutObject; S3 User Guide, the ACL
 * permission table). A request that names a version performs the `...Version...` action:
 * s3:GetObject does not read an old version, s3:DeleteObject does not delete one for good, and an
 * ACL's WRITE on a bucket deletes versions only for the bucket's owner. A write that sets an ACL or
 * tags also performs s3:PutObjectAcl or s3:PutObjectTagging.
 */
const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const user = await userClients(t, cluster);
const alice = await user('alice-versions');
const bob = await user('bob-versions');

/** A versioned bucket of alice's holding `key` in two versions; the old one's id. */
async function twoVersions(bucket: string, key: string): Promise<string> {
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const { VersionId = '' } = await alice.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'old secret' }));
  await alice.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'current' }));
  return VersionId;
}

async function versionsOf(bucket: string): Promise<number> {
  return ((await alice.client.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions ?? []).length;
}

t.test('a policy that allows GetObject and DeleteObject but denies their version actions keeps old versions unread and undeleted', async (t) => {
  const bucket = bucketName('ver-policy');
  const old = await twoVersions(bucket, 'k');
  const arn = `arn:aws:s3:::${bucket}/*`;
  const Policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob-versions' }, Action: ['s3:GetObject', 's3:DeleteObject', 's3:PutObject'], Resource: arn },
      { Effect: 'Deny', Principal: '*', Action: ['s3:GetObjectVersion', 's3:DeleteObjectVersion'], Resource: arn },
    ],
  });
  await alice.client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy }));
  const current = await bob.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(await current.Body?.transformToString(), 'current', 'GetObject reads the current version');
  t.equal((await sdkError(bob.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: old })))).name, 'AccessDenied', 'GetObject naming a version needs s3:GetObjectVersion');
  const copy = bob.client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copied', CopySource: `${bucket}/k?versionId=${old}` }));
  t.equal((await sdkError(copy)).name, 'AccessDenied', 'so does a copy from a named version');
  t.equal((await sdkError(bob.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: old })))).name, 'AccessDenied', 'DeleteObject naming a version needs s3:DeleteObjectVersion');
  t.equal(await versionsOf(bucket), 2, 'both versions are still there');
  await bob.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.pass('a DeleteObject without a version (a delete marker) is s3:DeleteObject');
});

t.test('WRITE on a bucket deletes objects but not versions for good, except for the bucket owner', async (t) => {
  const bucket = bucketName('ver-acl');
  const old = await twoVersions(bucket, 'k');
  await alice.client.send(new PutBucketAclCommand({ Bucket: bucket, GrantFullControl: `id="${alice.id}"`, GrantWrite: `id="${bob.id}"` }));
  t.equal((await sdkError(bob.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: old })))).name, 'AccessDenied', 'a WRITE grantee may not destroy a version');
  t.equal(await versionsOf(bucket), 2);
  await bob.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'from-bob', Body: 'b' }));
  t.pass('the grantee still writes');
  await alice.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: old }));
  t.equal(await versionsOf(bucket), 2, 'the owner deletes the old version (the grantee\'s object is the other one left)');
});

t.test('READ on an object (public-read) reads it, not its tags', async (t) => {
  const bucket = bucketName('tag-acl');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'o', Body: 'public', ACL: 'public-read' }));
  await alice.client.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'o', Tagging: { TagSet: [{ Key: 'owner', Value: 'finance' }] } }));
  t.equal((await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'o', anonymous: true })).status, 200, 'anyone reads the object');
  const tags = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'o', query: { tagging: '' }, anonymous: true });
  t.equal(tags.status, 403);
  t.equal(xmlField(tags.body, 'Code'), 'AccessDenied', 'its tags are the owner\'s');
});

t.test('a write whose ACL or tags a policy denies is refused, and nothing is written', async (t) => {
  const bucket = bucketName('write-extras');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const Policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob-versions' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*` },
      { Effect: 'Deny', Principal: '*', Action: ['s3:PutObjectAcl', 's3:PutObjectTagging'], Resource: `arn:aws:s3:::${bucket}/*` },
    ],
  });
  await alice.client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy }));
  const withAcl = bob.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl', Body: 'x', ACL: 'public-read' }));
  t.equal((await sdkError(withAcl)).name, 'AccessDenied', 'PutObject with x-amz-acl needs s3:PutObjectAcl');
  const withTags = bob.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags', Body: 'x', Tagging: 'team=red' }));
  t.equal((await sdkError(withTags)).name, 'AccessDenied', 'PutObject with x-amz-tagging needs s3:PutObjectTagging');
  t.equal((await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'acl', anonymous: true })).status, 403, 'no public object was written');
  await bob.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'x' }));
  t.pass('a plain PutObject is s3:PutObject alone');
});

t.test('a policy that decides by the object\'s own tags is applied to the object read, whatever else allows it', async (t) => {
  const bucket = bucketName('existing-tag');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const put = async (Key: string, Tagging?: string): Promise<void> => {
    await alice.client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key, ...(Tagging === undefined ? {} : { Tagging }) }));
  };
  await put('secret', 'class=secret');
  await put('public', 'class=public');
  await put('untagged');
  const allowBob = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob-versions' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` };
  const read = async (key: string): Promise<string> => {
    const error = await sdkError(bob.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    return error.name === 'no error' ? 'read' : error.name;
  };
  const setPolicy = (deny: Record<string, unknown>): Promise<unknown> =>
    alice.client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [allowBob, { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, ...deny }] }) }));

  await setPolicy({ Condition: { StringEquals: { 's3:ExistingObjectTag/class': 'secret' } } });
  t.equal(await read('secret'), 'AccessDenied', 'a Deny of objects tagged secret holds beside an Allow');
  t.equal(await read('untagged'), 'read', 'an object without the tag is read');

  await setPolicy({ Condition: { StringNotEquals: { 's3:ExistingObjectTag/class': 'public' } } });
  t.equal(await read('public'), 'read', 'a Deny of everything not tagged public lets objects tagged public be read');
  t.equal(await read('secret'), 'AccessDenied');
  t.equal(await read('untagged'), 'AccessDenied', 'and refuses one without the tag');
});

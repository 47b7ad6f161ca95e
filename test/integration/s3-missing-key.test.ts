import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { plainRequest } from '../helpers/clients.js';
import { startCluster, userClients } from '../helpers/cluster.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * A GET or HEAD of a key that does not exist tells that it does not exist (404 NoSuchKey) only to a
 * requester who may list the bucket (s3:ListBucket, by ACL READ or a policy); to anyone else it is
 * 403 AccessDenied, as in S3, whatever else they may read.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const newUser = await userClients(t, cluster);
const user = async (name: string): Promise<S3Client> => (await newUser(name)).client;

const alice = await user('alice');
const bob = await user('bob');
const missing = { name: 'NoSuchKey', status: 404 };
const denied = { name: 'AccessDenied', status: 403 };
/** HEAD answers have no body, so only their status says anything. */
const headMissing = 404;
const headDenied = 403;

const get = (client: S3Client, bucket: string, key: string) => sdkError(client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
const head = async (client: S3Client, bucket: string, key: string) => (await sdkError(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).status;
const anonymous = async (bucket: string, key: string, method = 'GET') => (await plainRequest(`${cluster.endpoint}/${bucket}/${key}`, { method })).status;
const setPolicy = (bucket: string, ...statements: Record<string, unknown>[]) =>
  alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));

t.test('the owner and the administrator are told NoSuchKey; another user and anonymous get AccessDenied', async (t) => {
  const bucket = bucketName('miss');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  t.same(await get(alice, bucket, 'nope'), missing, 'owner GET');
  t.equal(await head(alice, bucket, 'nope'), headMissing, 'owner HEAD');
  t.same(await get(cluster.client(), bucket, 'nope'), missing, 'administrator GET');
  t.same(await get(bob, bucket, 'nope'), denied, 'another user GET');
  t.equal(await head(bob, bucket, 'nope'), headDenied, 'another user HEAD');
  t.equal(await anonymous(bucket, 'nope'), 403, 'anonymous GET');
  t.equal(await anonymous(bucket, 'nope', 'HEAD'), 403, 'anonymous HEAD');
});

t.test('public objects in a private bucket: readable, but a miss is AccessDenied until the bucket may be listed', async (t) => {
  const bucket = bucketName('miss');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'site/index.html', Body: 'hi', ACL: 'public-read' }));
  t.equal(await anonymous(bucket, 'site/index.html'), 200, 'the public object reads');
  t.equal(await anonymous(bucket, 'site/missing.html'), 403, 'a missing page is AccessDenied');
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
  t.equal(await anonymous(bucket, 'site/missing.html'), 404, 'READ on the bucket (ListBucket) turns it into NoSuchKey');
  t.equal(await anonymous(bucket, 'site/missing.html', 'HEAD'), 404);
});

t.test('bucket policies: s3:GetObject alone hides misses, s3:ListBucket reveals them, a Deny on it hides them again', async (t) => {
  const bucket = bucketName('miss');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/a', Body: 'a' }));
  const bobArn = { AWS: 'arn:aws:iam::tessera:user/bob' };
  const read = { Effect: 'Allow', Principal: bobArn, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` };
  await setPolicy(bucket, read);
  t.equal(await (await bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/a' }))).Body?.transformToString(), 'a', 'bob reads what exists');
  t.same(await get(bob, bucket, 'data/b'), denied, 'GetObject without ListBucket: a miss is AccessDenied');
  await setPolicy(bucket, read, { Effect: 'Allow', Principal: bobArn, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` });
  t.same(await get(bob, bucket, 'data/b'), missing, 'with ListBucket: NoSuchKey');
  t.equal(await head(bob, bucket, 'data/b'), headMissing);
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'authenticated-read' }));
  await setPolicy(bucket, read, { Effect: 'Deny', Principal: bobArn, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` });
  t.same(await get(bob, bucket, 'data/b'), denied, 'an explicit Deny on ListBucket beats the ACL that would allow it');
});

t.test('a key whose latest version is a delete marker: NoSuchKey with the marker to a lister, AccessDenied to others', async (t) => {
  const bucket = bucketName('miss');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'gone', Body: 'x' }));
  await alice.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'gone' }));
  await setPolicy(bucket, { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` });
  const owner = await plainRequest(`${cluster.endpoint}/${bucket}/gone`).catch(() => undefined);
  t.equal(owner?.status, 403, 'anonymous: AccessDenied');
  t.equal(owner?.headers['x-amz-delete-marker'], undefined, 'and no word of the marker');
  t.same(await get(bob, bucket, 'gone'), denied, 'bob, who may read but not list');
  const answer = await alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'gone' })).catch((err: { $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string> } }) => err);
  t.equal((answer as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 404, 'the owner is told NoSuchKey');
  t.equal((answer as { $response?: { headers?: Record<string, string> } }).$response?.headers?.['x-amz-delete-marker'], 'true', 'with the marker');
});

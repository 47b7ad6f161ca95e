import { t } from 'tap';
import {
  CreateBucketCommand,
  GetBucketPolicyStatusCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { addUser, localS3Client, startCluster, userClients, writeGatewayConfig } from '../helpers/cluster.js';
import { sdkError } from '../gateway/raw-s3.js';

// A condition that every caller meets does not make a policy private: BlockPublicPolicy refuses
// it, IsPublic reports it, and RestrictPublicBuckets closes it to anonymous requests.
const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const alice = localS3Client(cluster.endpoint, await addUser(await writeGatewayConfig(cluster), 'alice'), { maxAttempts: 1 });
t.teardown(() => alice.destroy());
const { client: bob } = await (await userClients(t, cluster))('bob');

function policy(bucket: string, condition: Record<string, unknown>): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: condition }],
  });
}
const anyAgent = { StringLike: { 'aws:UserAgent': '*' } };
const loopbackOnly = { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } };

async function anonymousGet(path: string): Promise<number> {
  const response = await fetch(`${cluster.endpoint}${path}`, { headers: { 'user-agent': 'curl/8.5.0' } });
  await response.arrayBuffer();
  return response.status;
}

async function bucketWithObject(prefix: string): Promise<string> {
  const bucket = bucketName(prefix);
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));
  return bucket;
}

t.test('BlockPublicPolicy refuses an Allow to everyone conditioned only on aws:UserAgent', async (t) => {
  const bucket = await bucketWithObject('blockua');
  await alice.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: { BlockPublicPolicy: true } }));
  t.same(await sdkError(alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(bucket, anyAgent) }))), { name: 'AccessDenied', status: 403 }, 'refused');
  t.equal(await anonymousGet(`/${bucket}/k`), 403, 'nothing was stored');
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(bucket, loopbackOnly) }));
  t.pass('the same grant pinned to fixed source ranges is accepted');
});

t.test('GetBucketPolicyStatus reports such a policy public, and a source-pinned one not', async (t) => {
  const bucket = await bucketWithObject('statusua');
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(bucket, anyAgent) }));
  t.equal((await alice.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))).PolicyStatus?.IsPublic, true, 'open to any user agent');
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(bucket, loopbackOnly) }));
  t.equal((await alice.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))).PolicyStatus?.IsPublic, false, 'open to loopback only');
});

t.test('GetBucketPolicyStatus is NoSuchBucketPolicy without a policy, and AccessDenied to a user no policy grants it', async (t) => {
  const bucket = await bucketWithObject('statusauth');
  t.same(await sdkError(alice.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))), { name: 'NoSuchBucketPolicy', status: 404 }, 'no policy, as S3 answers');
  t.same(await sdkError(bob.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))), { name: 'AccessDenied', status: 403 }, 'bob owns nothing here');
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(bucket, anyAgent) }));
  t.same(await sdkError(bob.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))), { name: 'AccessDenied', status: 403 }, 'a public GetObject grant is no grant of the status');
  const grant = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:GetBucketPolicyStatus', Resource: `arn:aws:s3:::${bucket}` }],
  });
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: grant }));
  t.equal((await bob.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))).PolicyStatus?.IsPublic, false, 'granted the action, bob reads it: one named user is not public');
});

t.test('RestrictPublicBuckets closes such a policy to anonymous requests', async (t) => {
  const bucket = await bucketWithObject('restrictua');
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(bucket, anyAgent) }));
  t.equal(await anonymousGet(`/${bucket}/k`), 200, 'without the block the policy lets anyone read');
  await alice.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: { RestrictPublicBuckets: true } }));
  t.equal(await anonymousGet(`/${bucket}/k`), 403, 'with it, an anonymous GET is refused');
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(bucket, loopbackOnly) }));
  t.equal(await anonymousGet(`/${bucket}/k`), 200, 'a non-public policy stays in effect as written');
});

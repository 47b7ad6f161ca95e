import { t } from 'tap';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectTaggingCommand,
  GetObjectAclCommand,
  GetObjectAttributesCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  GetObjectTaggingCommand,
  PutBucketPolicyCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, userClients } from '../helpers/cluster.js';
import { customerKey } from '../helpers/sse.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * Someone who may not read an object must not learn whether its key exists. Its sub-resources and a
 * copy naming it as the source answer alike for a missing and a present key (403 AccessDenied) until
 * the caller may list the bucket (s3:ListBucket): then a missing key is 404, as S3 answers GET and
 * HEAD. A copy source's SSE-C state is not told before READ on it is established.
 */

const cluster = await startCluster({ nodeHealing: false, gatewayOverrides: { sseCustomerKeysOverHttp: true } });
t.teardown(() => cluster.close());
const newUser = await userClients(t, cluster);
const alice = (await newUser('alice')).client;
const bob = (await newUser('bob')).client;

const denied = { name: 'AccessDenied', status: 403 };
const missing = { name: 'NoSuchKey', status: 404 };
const sealing = customerKey();
const sealedWith = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: sealing.keyBase64, SSECustomerKeyMD5: sealing.md5Base64 };

/** A bucket of alice's with Object Lock (so retention and legal hold apply), holding `present` and the SSE-C object `sealed`. */
async function aliceBucket(prefix: string): Promise<string> {
  const bucket = bucketName(prefix);
  await alice.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'present', Body: 'private bytes', Tagging: 'k=v' }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'sealed', Body: 'sealed bytes', ...sealedWith }));
  return bucket;
}

/** Lets bob list `bucket` (s3:ListBucket) and nothing else. */
async function letBobList(bucket: string): Promise<void> {
  const statement = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` };
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [statement] }) }));
}

/** Every object sub-resource request, by name, for `key` of `bucket`. */
function subresourceCalls(client: S3Client, bucket: string, key: string): [string, () => Promise<unknown>][] {
  const target = { Bucket: bucket, Key: key };
  const day = new Date(Date.now() + 86_400_000);
  return [
    ['GetObjectTagging', () => client.send(new GetObjectTaggingCommand(target))],
    ['PutObjectTagging', () => client.send(new PutObjectTaggingCommand({ ...target, Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }))],
    ['DeleteObjectTagging', () => client.send(new DeleteObjectTaggingCommand(target))],
    ['GetObjectAcl', () => client.send(new GetObjectAclCommand(target))],
    ['PutObjectAcl', () => client.send(new PutObjectAclCommand({ ...target, ACL: 'public-read' }))],
    ['GetObjectAttributes', () => client.send(new GetObjectAttributesCommand({ ...target, ObjectAttributes: ['ETag', 'ObjectSize'] }))],
    ['GetObjectRetention', () => client.send(new GetObjectRetentionCommand(target))],
    ['PutObjectRetention', () => client.send(new PutObjectRetentionCommand({ ...target, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: day } }))],
    ['GetObjectLegalHold', () => client.send(new GetObjectLegalHoldCommand(target))],
    ['PutObjectLegalHold', () => client.send(new PutObjectLegalHoldCommand({ ...target, LegalHold: { Status: 'ON' } }))],
  ];
}

const hidden = await aliceBucket('probe');
const listed = await aliceBucket('probe-listed');
await letBobList(listed);
const bobsBucket = bucketName('bobs');
await bob.send(new CreateBucketCommand({ Bucket: bobsBucket }));

t.test('without READ or ListBucket, every object sub-resource answers 403 AccessDenied for a missing key as for a present one', async (t) => {
  const present = subresourceCalls(bob, hidden, 'present');
  const absent = subresourceCalls(bob, hidden, 'absent');
  for (const [i, [name, call]] of present.entries()) {
    t.same(await sdkError(call()), denied, `${name} of a present key`);
    t.same(await sdkError(absent[i]![1]()), denied, `${name} of a missing key: the same answer`);
  }
});

t.test('with s3:ListBucket but not READ, a missing key is 404 NoSuchKey and a present one still 403', async (t) => {
  const present = subresourceCalls(bob, listed, 'present');
  const absent = subresourceCalls(bob, listed, 'absent');
  for (const [i, [name, call]] of present.entries()) {
    t.same(await sdkError(call()), denied, `${name} of a present key`);
    t.same(await sdkError(absent[i]![1]()), missing, `${name} of a missing key`);
  }
});

t.test('the owner is still told NoSuchKey by every sub-resource', async (t) => {
  for (const [name, call] of subresourceCalls(alice, hidden, 'absent')) t.same(await sdkError(call()), missing, name);
});

t.test('a copy source that may not be read answers 403 whether it is missing, present, or SSE-C encrypted, with or without its key', async (t) => {
  const copy = (key: string, sourceKey?: Record<string, string>) =>
    sdkError(bob.send(new CopyObjectCommand({ Bucket: bobsBucket, Key: 'stolen', CopySource: `${hidden}/${key}`, ...sourceKey })));
  const otherKey = customerKey();
  const withSourceKey = { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: otherKey.keyBase64, CopySourceSSECustomerKeyMD5: otherKey.md5Base64 };
  for (const key of ['present', 'absent', 'sealed']) {
    t.same(await copy(key), denied, `CopyObject from ${key}, no source key`);
    t.same(await copy(key, withSourceKey), denied, `CopyObject from ${key}, some source key`);
  }
});

t.test('UploadPartCopy from a source that may not be read answers alike for missing, present and SSE-C sources', async (t) => {
  const upload = await bob.send(new CreateMultipartUploadCommand({ Bucket: bobsBucket, Key: 'assembled' }));
  for (const key of ['present', 'absent', 'sealed']) {
    const answer = await sdkError(bob.send(new UploadPartCopyCommand({ Bucket: bobsBucket, Key: 'assembled', UploadId: upload.UploadId, PartNumber: 1, CopySource: `${hidden}/${key}` })));
    t.same(answer, denied, `UploadPartCopy from ${key}`);
  }
});

t.test('a copy source in a bucket bob may list: a missing key is 404 NoSuchKey, a present or sealed one 403', async (t) => {
  const copy = (key: string) => sdkError(bob.send(new CopyObjectCommand({ Bucket: bobsBucket, Key: 'copied', CopySource: `${listed}/${key}` })));
  t.same(await copy('absent'), missing);
  t.same(await copy('present'), denied);
  t.same(await copy('sealed'), denied, 'READ is checked before the SSE-C key is asked for');
});

t.test('the owner copying its own sources still gets NoSuchKey and the SSE-C refusal', async (t) => {
  const mine = bucketName('alices');
  await alice.send(new CreateBucketCommand({ Bucket: mine }));
  const copy = (key: string) => sdkError(alice.send(new CopyObjectCommand({ Bucket: mine, Key: 'copied', CopySource: `${hidden}/${key}` })));
  t.same(await copy('absent'), missing);
  t.same(await copy('sealed'), { name: 'InvalidRequest', status: 400 }, 'an SSE-C source without its key');
  t.same(await copy('present'), { name: 'no error', status: undefined });
});

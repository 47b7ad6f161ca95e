import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetPublicAccessBlockCommand,
  PutPublicAccessBlockCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { runUserCli } from '../../src/bin/user-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { localS3Client, startCluster, writeGatewayConfig } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';
import { customerKey, masterKeyFile } from '../helpers/sse.js';

// A master key and SSE-C over plain HTTP, for the encryption condition keys.
const keys = await masterKeyFile();
t.teardown(() => keys.remove());
const cluster = await startCluster({ nodeHealing: false, gatewayOverrides: { sseMasterKeyFile: keys.path, sseCustomerKeysOverHttp: true } });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

async function admin(noun: 'user' | 'policy', ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runUserCli(noun, [...args, '--config', configFile], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

const clients: S3Client[] = [];
t.teardown(() => clients.forEach((c) => c.destroy()));
async function user(name: string): Promise<S3Client> {
  const { out } = await admin('user', 'add', name);
  const accessKeyId = /^access key: (\S+)$/m.exec(out)?.[1] ?? '';
  const secretAccessKey = /^secret key: (\S+)$/m.exec(out)?.[1] ?? '';
  const client = localS3Client(cluster.endpoint, { accessKeyId, secretAccessKey }, { maxAttempts: 1 });
  clients.push(client);
  return client;
}

/** Polls `probe` until it holds: a gateway follows user and policy changes within seconds. */
async function eventually(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

const alice = await user('alice');
const bob = await user('bob');
const denied = { name: 'AccessDenied', status: 403 };

async function anonymous(path: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(`${cluster.endpoint}${path}`, init);
  await response.arrayBuffer();
  return response.status;
}

function policy(...statements: Record<string, unknown>[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

t.test('a bucket policy opens a prefix to anonymous readers; explicit Deny beats an ACL grant', async (t) => {
  const bucket = bucketName('policy');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const key of ['public/a', 'private/b', 'secret/c']) await alice.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  await alice.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: policy(
        { Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/public/*` },
        { Sid: 'NoSecrets', Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/secret/*` },
      ),
    }),
  );
  t.equal(await anonymous(`/${bucket}/public/a`), 200, 'anonymous reads under public/');
  t.equal(await anonymous(`/${bucket}/private/b`), 403, 'but nothing else');
  t.equal(await anonymous(`/${bucket}`), 403, 'and cannot list');
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'authenticated-read' }));
  t.equal((await bob.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 3, 'the ACL lets bob list');
  t.same(await sdkError(bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret/c' }))), denied, 'the Deny wins over everything');
  t.equal(await (await alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret/c' }))).Body?.transformToString(), 'secret/c', 'it names bob only');
  const got = await alice.send(new GetBucketPolicyCommand({ Bucket: bucket }));
  t.equal(JSON.parse(got.Policy ?? '{}').Statement[0].Sid, 'PublicRead', 'GetBucketPolicy returns the document');
  t.equal((await alice.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))).PolicyStatus?.IsPublic, true);
  t.same(await sdkError(bob.send(new GetBucketPolicyCommand({ Bucket: bucket }))), denied, 'only the owner reads the policy');
  t.same(await sdkError(bob.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy({ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/*` }) }))), denied);
  await alice.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
  t.equal(await anonymous(`/${bucket}/public/a`), 403, 'deleted, the policy opens nothing');
  t.same(await sdkError(alice.send(new GetBucketPolicyCommand({ Bucket: bucket }))), { name: 'NoSuchBucketPolicy', status: 404 });
});

t.test('conditions: aws:SourceIp, aws:SecureTransport, s3:prefix, s3:x-amz-acl, NotPrincipal', async (t) => {
  const bucket = bucketName('cond');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'shared/x', Body: 'x' }));
  const put = (statements: Record<string, unknown>[]) => alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(...statements) }));
  await put([{ Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } }]);
  t.equal(await anonymous(`/${bucket}?list-type=2`), 200, 'from loopback');
  await put([{ Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }]);
  t.equal(await anonymous(`/${bucket}?list-type=2`), 403, 'not from elsewhere');
  await put([{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': 'shared/*' } } }]);
  t.equal((await bob.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'shared/' }))).KeyCount, 1, 's3:prefix matches');
  t.same(await sdkError(bob.send(new ListObjectsV2Command({ Bucket: bucket }))), denied, 'a listing without the prefix is not allowed');
  await put([{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } }]);
  t.same(await sdkError(alice.send(new ListObjectsV2Command({ Bucket: bucket }))), denied, 'plain HTTP is refused, even to the owner');
  t.equal((await cluster.client().send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 1, 'the administrator is not bound by bucket policies');
  await cluster.client().send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
  await put([
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*` },
    { Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { StringEquals: { 's3:x-amz-acl': 'public-read' } } },
  ]);
  await bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'from-bob', Body: 'b' }));
  t.pass('an Allow lets bob write without any ACL');
  t.same(await sdkError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'open', Body: 'b', ACL: 'public-read' }))), denied, 's3:x-amz-acl denies public objects');
  await put([{ Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::tessera:user/alice' }, Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${bucket}/*` }, { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/*` }]);
  const result = await bob.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'shared/x' }] } }));
  t.equal(result.Errors?.[0]?.Code, 'AccessDenied', 'DeleteObjects answers the Deny per key');
  t.equal(await (await bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'shared/x' }))).Body?.transformToString(), 'x', 'nothing was deleted');
});

t.test('encryption conditions: the usual require-SSE and deny-SSE-C policies allow and deny as in AWS', async (t) => {
  const bucket = bucketName('enc');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  const objects = `arn:aws:s3:::${bucket}/*`;
  const bobMayPut = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:PutObject', Resource: objects };
  // AWS's example: deny an upload whose encryption header is missing or not the one required.
  await alice.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: policy(
        bobMayPut,
        { Sid: 'DenyIncorrectEncryptionHeader', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: objects, Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'AES256' } } },
        { Sid: 'DenyUnEncryptedObjectUploads', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: objects, Condition: { Null: { 's3:x-amz-server-side-encryption': 'true' } } },
      ),
    }),
  );
  await bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'sealed', Body: 's', ServerSideEncryption: 'AES256' }));
  t.pass('an upload asking for AES256 is allowed');
  t.same(await sdkError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'p' }))), denied, 'one without the header is denied');
  // AWS's example: deny SSE-C uploads.
  await alice.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: policy(bobMayPut, { Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: objects, Condition: { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'false' } } }),
    }),
  );
  const key = customerKey();
  t.same(
    await sdkError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: 'c', SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 }))),
    denied,
    'an SSE-C upload is denied',
  );
  await bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'p' }));
  t.pass('a plain one is allowed');
});

t.test('malformed policies are MalformedPolicy naming the fault, and change nothing', async (t) => {
  const bucket = bucketName('malformed');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  const good = policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` });
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: good }));
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"Statement": [', /valid JSON/],
    ['no Statement', '{"Version": "2012-10-17"}', /Statement/],
    ['bad Effect', policy({ Effect: 'Maybe', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }), /effect/i],
    ['no Principal', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }), /Principal/],
    ['bad action', policy({ Effect: 'Allow', Principal: '*', Action: 'ec2:RunInstances', Resource: `arn:aws:s3:::${bucket}/*` }), /action/],
    ['another bucket', policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::elsewhere/*' }), /resource/],
    ['bad operator', policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { StringSortOf: { 's3:prefix': 'a' } } }), /Condition/],
    ['unknown field', policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, Colour: 'red' }), /Colour/],
  ];
  for (const [what, body, message] of cases) {
    const response = await rawS3(cluster.endpoint, { method: 'PUT', bucket, query: { policy: '' }, body });
    t.equal(response.status, 400, what);
    t.equal(xmlField(response.body.toString(), 'Code'), 'MalformedPolicy', what);
    t.match(xmlField(response.body.toString(), 'Message'), message, what);
  }
  t.equal((await alice.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy, good, 'the stored policy is unchanged');
});

t.test('user policies: built-in readonly opens reads, a stored Deny closes writes everywhere', async (t) => {
  const bucket = bucketName('userpol');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'dataset/part-0', Body: 'rows' }));
  const trainer = await user('trainer');
  t.same(await sdkError(trainer.send(new GetObjectCommand({ Bucket: bucket, Key: 'dataset/part-0' }))), denied);
  t.equal((await admin('policy', 'attach', 'trainer', 'readonly')).code, 0);
  t.ok(
    await eventually(async () => (await sdkError(trainer.send(new GetObjectCommand({ Bucket: bucket, Key: 'dataset/part-0' })))).name === 'no error'),
    'readonly lets the trainer read any bucket',
  );
  t.same(await sdkError(trainer.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x' }))), denied, 'but not write');
  const file = join(cluster.dataDir, 'no-writes.json');
  await writeFile(file, policy({ Effect: 'Deny', Action: ['s3:PutObject', 's3:DeleteObject', 's3:CreateBucket'], Resource: '*' }));
  t.equal((await admin('policy', 'set', 'no-writes', file)).code, 0);
  t.equal((await admin('policy', 'attach', 'trainer', 'no-writes')).code, 0);
  t.ok(await eventually(async () => (await sdkError(trainer.send(new CreateBucketCommand({ Bucket: bucketName('own') }))))?.name === 'AccessDenied'), 'the Deny stops it creating buckets');
  const listed = await admin('policy', 'list');
  t.match(listed.out, /^no-writes\tstored\ttrainer$/m);
  t.match(listed.out, /^readonly\tbuilt in\ttrainer$/m);
  await writeFile(file, '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}');
  const refused = await admin('policy', 'set', 'bad', file);
  t.equal(refused.code, 1, 'a user policy names no Principal');
  t.match(refused.err, /Principal/);
  t.equal((await admin('policy', 'detach', 'trainer', 'readonly')).code, 0);
  t.ok(await eventually(async () => (await sdkError(trainer.send(new GetObjectCommand({ Bucket: bucket, Key: 'dataset/part-0' }))))?.name === 'AccessDenied'), 'detached, reads stop');
});

t.test('PublicAccessBlock: all four switches enforced', async (t) => {
  const bucket = bucketName('pab');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  t.same(await sdkError(alice.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))), { name: 'NoSuchPublicAccessBlockConfiguration', status: 404 });
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'open', Body: 'o', ACL: 'public-read' }));
  t.equal(await anonymous(`/${bucket}/open`), 200);
  const set = (config: Record<string, boolean>) => alice.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: config }));
  await set({ BlockPublicAcls: true });
  t.same((await alice.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration, {
    BlockPublicAcls: true,
    IgnorePublicAcls: false,
    BlockPublicPolicy: false,
    RestrictPublicBuckets: false,
  });
  t.same(await sdkError(alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'more', Body: 'm', ACL: 'public-read' }))), denied, 'BlockPublicAcls refuses public ACLs on writes');
  t.same(await sdkError(alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'authenticated-read' }))), denied, 'and on PutBucketAcl');
  t.equal(await anonymous(`/${bucket}/open`), 200, 'existing public ACLs still work');
  await set({ IgnorePublicAcls: true });
  t.equal(await anonymous(`/${bucket}/open`), 403, 'IgnorePublicAcls switches them off');
  const open = policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` });
  await set({ BlockPublicPolicy: true });
  t.same(await sdkError(alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: open }))), denied, 'BlockPublicPolicy refuses a public policy');
  await set({ RestrictPublicBuckets: true });
  await alice.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: open }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'private', Body: 'p' }));
  t.equal(await anonymous(`/${bucket}/private`), 403, 'RestrictPublicBuckets: the public policy opens nothing to anonymous requests');
  t.equal(await (await bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'private' }))).Body?.transformToString(), 'p', 'signed users still get what it allows');
  await alice.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
  t.equal(await anonymous(`/${bucket}/private`), 200, 'without the block the policy is public again');
});

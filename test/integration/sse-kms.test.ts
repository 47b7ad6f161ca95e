import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type GetObjectCommandInput,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { masterKeyLine } from '../../src/gateway/index.js';
import { collect, md5Hex } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { customerKey, filesContaining, masterKeyFile } from '../helpers/sse.js';
import { rawS3, sdkError } from '../gateway/raw-s3.js';
import { NodeClient, type ObjectRecord } from '../../src/rpc/index.js';

/**
 * SSE-KMS with the built-in key service, through the real gateway and the JS SDK: keys made, rotated,
 * disabled and enabled with `tessera admin kms key`, every header S3 takes for it, the default key,
 * bucket default encryption with a KMS key, multipart uploads, copies between every pair of SSE-C,
 * SSE-S3 and SSE-KMS, and the bytes on disk.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const keys = await masterKeyFile();
t.teardown(() => keys.remove());
const { cluster, s3, bucket } = await clusterWithBucket(t, {
  blockSizeBytes: 64 * KiB,
  gatewayOverrides: { sseMasterKeyFile: keys.path, sseCustomerKeysOverHttp: true },
});
const configPath = join(cluster.dataDir, 'gateway.json');
await writeFile(configPath, JSON.stringify({ nodes: cluster.config.nodes, clusterSecret: cluster.config.clusterSecret, credentials: cluster.config.credentials, sseMasterKeyFile: keys.path }));

async function kms(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCli(['kms', 'key', ...args, '--config', configPath], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

/** Polls `probe` until it holds: a gateway follows key changes within seconds. */
async function eventually(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function read(input: GetObjectCommandInput): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand(input));
  return collect(out.Body as AsyncIterable<Uint8Array>);
}

const nodes = cluster.nodes.map((node, i) => new NodeClient({ nodeId: `node-${i}`, address: `127.0.0.1:${node.address.port}`, clusterSecret: cluster.config.clusterSecret }));
t.teardown(() => Promise.all(nodes.map((c) => c.close())));
/** The key's current record as the nodes hold it. */
async function recordOf(key: string): Promise<ObjectRecord | undefined> {
  return (await Promise.all(nodes.map((c) => c.objectStatus(bucket, key)))).find((s) => s !== null)?.record;
}

const arnOf = (name: string): string => `arn:aws:kms:us-east-1:000000000000:key/${name}`;
const created = await kms('create', 'app');
t.equal(created.code, 0, `kms key create: ${created.err}`);
t.equal(created.out.trim(), arnOf('app'), 'create prints the key ARN');

t.test('aws:kms with a key name, alias or ARN seals under that key; the key ARN is echoed on PUT, GET and HEAD', async (t) => {
  for (const keyId of ['app', 'alias/app', arnOf('app'), 'arn:aws:kms:us-east-1:111122223333:alias/app']) {
    const body = randomBytes(100 * KiB + 3);
    const name = `named-${keyId.length}`;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: name, Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyId }));
    t.equal(put.ServerSideEncryption, 'aws:kms', `PUT echoes aws:kms (${keyId})`);
    t.equal(put.SSEKMSKeyId, arnOf('app'), 'PUT echoes the key ARN');
    t.not(put.ETag, `"${md5Hex(body)}"`, 'an SSE-KMS ETag is not the plaintext MD5, as in S3');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: name }));
    t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), 'GET reads it back without any key header');
    t.equal(got.ServerSideEncryption, 'aws:kms');
    t.equal(got.SSEKMSKeyId, arnOf('app'));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: name }));
    t.equal(head.SSEKMSKeyId, arnOf('app'), 'HEAD echoes the key ARN');
    t.equal(head.ContentLength, body.length);
  }
});

t.test('aws:kms without a key id uses the default key aws/s3, made on first use', async (t) => {
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'default-key', Body: 'x', ServerSideEncryption: 'aws:kms' }));
  t.equal(put.SSEKMSKeyId, arnOf('aws/s3'));
  t.equal((await read({ Bucket: bucket, Key: 'default-key' })).toString(), 'x');
  const list = await kms('list', '--json');
  const rows = JSON.parse(list.out) as { name: string; state: string; versions: number }[];
  t.same(rows.map((r) => r.name), ['app', 'aws/s3'], 'kms key list shows the default key beside the created one');
  t.notMatch(list.out, /sealedRoot|masterKeyId/, 'no key material is listed');
  const again = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'default-key-2', Body: 'y', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/aws/s3' }));
  t.equal(again.SSEKMSKeyId, arnOf('aws/s3'), 'alias/aws/s3 names the default key');
});

t.test('the encryption context is echoed on the write, bound into the seal, and not asked for on GET', async (t) => {
  const context = Buffer.from(JSON.stringify({ team: 'data', purpose: 'test' })).toString('base64');
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ctx', Body: 'with context', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'app', SSEKMSEncryptionContext: context }));
  t.same(JSON.parse(Buffer.from(put.SSEKMSEncryptionContext ?? '', 'base64').toString()), { purpose: 'test', team: 'data' }, 'PUT echoes the context');
  t.equal((await read({ Bucket: bucket, Key: 'ctx' })).toString(), 'with context', 'GET needs no context: S3 keeps it with the object');
  for (const bad of ['not base64!', Buffer.from('[1,2]').toString('base64'), Buffer.from('{"a":1}').toString('base64'), Buffer.from('{"aws:x":"y"}').toString('base64')]) {
    const answer = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'ctx-bad', headers: { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-context': bad }, body: 'b' });
    t.equal(answer.status, 400, `context ${bad} refused`);
    t.match(answer.body, /<Code>InvalidArgument<\/Code>/);
  }
  t.equal((await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ctx-bad' })))).status, 404, 'a refused write stores nothing');
  // A record whose context was changed on the nodes no longer opens: the context is part of the seal.
  const field = (await recordOf('ctx'))?.encryption;
  t.equal(field?.kind, 'SSE-KMS');
  if (field === undefined) return;
  for (const node of nodes) {
    const status = await node.objectStatus(bucket, 'ctx');
    if (status !== null) await node.reseal({ bucket, key: 'ctx', versionId: status.record.versionId, encryption: { ...field, kmsContext: '{"team":"other"}' } });
  }
  const tampered = await sdkError(read({ Bucket: bucket, Key: 'ctx' }));
  t.equal(tampered.status, 500, 'an altered context does not open the data key');
});

t.test('unknown keys, other regions, a key id without aws:kms and aws:kms with SSE-C are refused as S3 refuses them', async (t) => {
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'no-key', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'missing' }))), { name: 'KMS.NotFoundException', status: 400 });
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'no-key', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'arn:aws:kms:eu-west-1:000000000000:key/app' }))), { name: 'KMS.NotFoundException', status: 400 }, 'another region');
  t.same(await sdkError(s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'no-key', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'missing' }))), { name: 'KMS.NotFoundException', status: 400 });
  const keyOnly = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'no-key', headers: { 'x-amz-server-side-encryption-aws-kms-key-id': 'app' }, body: 'x' });
  t.equal(keyOnly.status, 400);
  t.match(keyOnly.body, /<Code>InvalidArgument<\/Code>/);
  const c = customerKey();
  const both = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'no-key', Body: 'x', ServerSideEncryption: 'aws:kms', SSECustomerAlgorithm: 'AES256', SSECustomerKey: c.keyBase64, SSECustomerKeyMD5: c.md5Base64 })).then(
    () => 'stored',
    (err: { name: string }) => err.name,
  );
  t.equal(both, 'InvalidArgument');
  t.equal((await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'no-key' })))).status, 404, 'nothing was stored');
});

t.test('multipart uploads under a KMS key: parts sealed with the upload key, the key echoed on completion', async (t) => {
  const body = randomBytes(6 * MiB);
  const { UploadId, SSEKMSKeyId, BucketKeyEnabled } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'app', BucketKeyEnabled: true }));
  t.equal(SSEKMSKeyId, arnOf('app'));
  t.equal(BucketKeyEnabled, true, 'BucketKeyEnabled echoed');
  const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: body.subarray(0, 5 * MiB) }));
  t.equal(p1.SSEKMSKeyId, arnOf('app'), 'UploadPart echoes the key');
  const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 2, Body: body.subarray(5 * MiB) }));
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag as string }, { PartNumber: 2, ETag: p2.ETag as string }] } }));
  t.equal(done.ServerSideEncryption, 'aws:kms');
  t.equal(done.SSEKMSKeyId, arnOf('app'), 'CompleteMultipartUpload echoes the key');
  t.equal(done.BucketKeyEnabled, true);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', Range: `bytes=${5 * MiB - 10}-${5 * MiB + 10}` }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body.subarray(5 * MiB - 10, 5 * MiB + 11)), 'a range across the part edge reads back');
  t.equal(got.BucketKeyEnabled, true, 'GET echoes BucketKeyEnabled');
  t.ok((await read({ Bucket: bucket, Key: 'mp' })).equals(body));
});

t.test('copies between every pair of SSE-C, SSE-S3 and SSE-KMS, CopyObject and UploadPartCopy', async (t) => {
  const c = customerKey();
  const writeOf = {
    'SSE-C': { SSECustomerAlgorithm: 'AES256', SSECustomerKey: c.keyBase64, SSECustomerKeyMD5: c.md5Base64 },
    'SSE-S3': { ServerSideEncryption: 'AES256' as const },
    'SSE-KMS': { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: 'app' },
  };
  const sourceOf = { 'SSE-C': { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: c.keyBase64, CopySourceSSECustomerKeyMD5: c.md5Base64 }, 'SSE-S3': {}, 'SSE-KMS': {} };
  const readOf = { 'SSE-C': writeOf['SSE-C'], 'SSE-S3': {}, 'SSE-KMS': {} };
  const kinds = ['SSE-C', 'SSE-S3', 'SSE-KMS'] as const;
  for (const from of kinds) {
    const body = randomBytes(200 * KiB + 7);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src-${from}`, Body: body, ...writeOf[from] }));
    for (const to of kinds) {
      const copy = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: `copy-${from}-${to}`, CopySource: `${bucket}/src-${from}`, ...sourceOf[from], ...writeOf[to] }));
      if (to === 'SSE-KMS') t.equal(copy.SSEKMSKeyId, arnOf('app'), `CopyObject ${from} -> ${to} echoes the key`);
      else t.equal(copy.SSEKMSKeyId, undefined, `CopyObject ${from} -> ${to} names no KMS key`);
      t.ok((await read({ Bucket: bucket, Key: `copy-${from}-${to}`, ...readOf[to] })).equals(body), `${from} -> ${to} reads back`);
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `upc-${from}-${to}`, ...writeOf[to] }));
      const part = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: `upc-${from}-${to}`, UploadId, PartNumber: 1, CopySource: `${bucket}/src-${from}`, ...sourceOf[from], ...readOf[to] }));
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: `upc-${from}-${to}`, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag as string }] }, ...readOf[to] }));
      t.ok((await read({ Bucket: bucket, Key: `upc-${from}-${to}`, ...readOf[to] })).equals(body), `UploadPartCopy ${from} -> ${to} reads back`);
    }
  }
});

t.test('bucket default encryption with a KMS key and BucketKeyEnabled applies to writes without SSE headers', async (t) => {
  const other = `${bucket}-kms`;
  await s3.send(new CreateBucketCommand({ Bucket: other }));
  await s3.send(new PutBucketEncryptionCommand({
    Bucket: other,
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf('app') }, BucketKeyEnabled: true }] },
  }));
  const config = await s3.send(new GetBucketEncryptionCommand({ Bucket: other }));
  const rule = config.ServerSideEncryptionConfiguration?.Rules?.[0];
  t.equal(rule?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'aws:kms');
  t.equal(rule?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID, arnOf('app'));
  t.equal(rule?.BucketKeyEnabled, true);
  const put = await s3.send(new PutObjectCommand({ Bucket: other, Key: 'plain-request', Body: 'defaulted' }));
  t.equal(put.ServerSideEncryption, 'aws:kms');
  t.equal(put.SSEKMSKeyId, arnOf('app'));
  t.equal(put.BucketKeyEnabled, true, 'the bucket default echoes BucketKeyEnabled');
  const s3put = await s3.send(new PutObjectCommand({ Bucket: other, Key: 'asked-s3', Body: 'x', ServerSideEncryption: 'AES256' }));
  t.equal(s3put.ServerSideEncryption, 'AES256', 'a write naming its own encryption keeps it');
  const missing = `${bucket}-kms2`;
  await s3.send(new CreateBucketCommand({ Bucket: missing }));
  await s3.send(new PutBucketEncryptionCommand({ Bucket: missing, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'nokey' } }] } }));
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: missing, Key: 'x', Body: 'x' }))), { name: 'KMS.NotFoundException', status: 400 }, 'a default naming a missing key refuses writes');
});

t.test('rotation: new writes use the newest version, objects of older versions stay readable', async (t) => {
  await kms('create', 'rot');
  const before = randomBytes(70 * KiB);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'rot-1', Body: before, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'rot' }));
  const rotated = await kms('rotate', 'rot', '--json');
  t.equal(rotated.code, 0, rotated.err);
  t.equal((JSON.parse(rotated.out) as { versions: number }).versions, 2);
  const versionOf = async (key: string): Promise<number | undefined> => (await recordOf(key))?.encryption?.kmsKeyVersion;
  t.ok(
    await eventually(async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'rot-2', Body: 'after', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'rot' }));
      return (await versionOf('rot-2')) === 2;
    }),
    'once the gateway sees the rotation, writes are sealed by version 2',
  );
  t.equal(await versionOf('rot-1'), 1, 'the older object stays sealed by version 1');
  t.ok((await read({ Bucket: bucket, Key: 'rot-1' })).equals(before), 'and reads back');
  t.equal((await read({ Bucket: bucket, Key: 'rot-2' })).toString(), 'after');
});

t.test('a disabled key refuses writes and reads with KMS.DisabledException until enabled again', async (t) => {
  await kms('create', 'off');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'off-1', Body: 'sealed', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'off' }));
  t.equal((await kms('disable', 'off')).code, 0);
  const disabled = { name: 'KMS.DisabledException', status: 400 };
  t.ok(await eventually(async () => (await sdkError(read({ Bucket: bucket, Key: 'off-1' }))).name === disabled.name), 'a read is refused once the gateway sees it');
  t.same(await sdkError(read({ Bucket: bucket, Key: 'off-1' })), disabled);
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'off-2', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'off' }))), disabled, 'a write is refused');
  t.same(await sdkError(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'off-copy', CopySource: `${bucket}/off-1`, ServerSideEncryption: 'AES256' }))), disabled, 'a copy from it is refused');
  t.equal((await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'off-2' })))).status, 404, 'the refused write stored nothing');
  t.equal((await kms('enable', 'off')).code, 0);
  t.ok(await eventually(async () => (await sdkError(read({ Bucket: bucket, Key: 'off-1' }))).name === 'no error'), 'enabled again, it reads');
});

t.test('the bytes on disk are not the plaintext', async (t) => {
  const marker = randomBytes(32);
  const body = Buffer.alloc(300 * KiB);
  for (let at = 0; at + marker.length <= body.length; at += 4 * KiB) marker.copy(body, at);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'disk', Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'app' }));
  t.same(await filesContaining(cluster.dataDir, marker), [], 'no file under the nodes holds the plaintext');
  t.ok((await read({ Bucket: bucket, Key: 'disk' })).equals(body));
});

t.test('master-key rotation re-seals the KMS keys: their objects read after the old master key is dropped', async (t) => {
  const body = randomBytes(90 * KiB);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'master-rot', Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'app' }));
  const newLine = masterKeyLine(randomBytes(32));
  await writeFile(keys.path, newLine + (await readFile(keys.path, 'utf8')), { mode: 0o600 });
  t.ok(await cluster.gateway.reloadMasterKeys(), 'the gateway reloads the master key file');
  let out = '';
  const code = await runAdminCli(['kms', 'rotate', '--config', configPath], {}, { stdout: (s) => void (out += s), stderr: () => undefined });
  t.equal(code, 0);
  t.match(out, /[1-9]\d* KMS keys re-sealed/, 'the KMS keys are re-sealed under the new master key');
  await writeFile(keys.path, newLine, { mode: 0o600 });
  t.ok(await cluster.gateway.reloadMasterKeys(), 'the old master key is dropped');
  t.ok(await eventually(async () => (await sdkError(read({ Bucket: bucket, Key: 'master-rot' }))).name === 'no error'), 'once the gateway sees the re-sealed keys, the object reads');
  t.ok((await read({ Bucket: bucket, Key: 'master-rot' })).equals(body));
});

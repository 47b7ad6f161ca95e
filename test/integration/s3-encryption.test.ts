import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListPartsCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { customerKey, customerKeyHeaders, filesContaining, masterKeyFile } from '../helpers/sse.js';
import { computeChecksum } from '../../src/gateway/s3/checksums/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const keys = await masterKeyFile();
t.teardown(() => keys.remove());
const { cluster, s3, bucket } = await clusterWithBucket(t, {
  blockSizeBytes: 64 * KiB,
  gatewayOverrides: { sseMasterKeyFile: keys.path, sseCustomerKeysOverHttp: true },
});

/** Plaintext with a random marker every 4 KiB: any copy of it on disk is found by the marker. */
function markedBody(sizeBytes: number, marker: Buffer): Buffer {
  const body = randomBytes(sizeBytes);
  for (let at = 0; at + marker.length <= sizeBytes; at += 4 * KiB) marker.copy(body, at);
  return body;
}

async function getBytes(client: S3Client, input: ConstructorParameters<typeof GetObjectCommand>[0]): Promise<{ body: Buffer; out: GetObjectCommandOutput }> {
  const out = await client.send(new GetObjectCommand(input));
  return { body: await collect(out.Body as AsyncIterable<Uint8Array>), out };
}

t.test('SSE-S3: PUT, GET, HEAD and ranges at package edges read back, AES256 echoed, ETag the plaintext MD5', async (t) => {
  for (const size of [1, KiB, 64 * KiB, MiB + 17]) {
    const body = seededBytes(size, size);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `s3-${size}`, Body: body, ServerSideEncryption: 'AES256' }));
    t.equal(put.ServerSideEncryption, 'AES256', `PUT echoes AES256 (${size})`);
    t.equal(put.ETag, `"${md5Hex(body)}"`);
    const { body: got, out } = await getBytes(s3, { Bucket: bucket, Key: `s3-${size}` });
    t.ok(got.equals(body), `${size} bytes read back`);
    t.equal(out.ServerSideEncryption, 'AES256');
    t.equal(out.ContentLength, size, 'the plaintext length');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `s3-${size}` }));
    t.equal(head.ServerSideEncryption, 'AES256');
    t.equal(head.ContentLength, size);
  }
  const body = seededBytes(MiB + 17, MiB + 17);
  for (const [start, end] of [[0, 0], [64 * KiB - 1, 64 * KiB], [64 * KiB, 128 * KiB - 1], [300_000, 700_000], [MiB, MiB + 16], [5, MiB + 16]] as const) {
    const { body: got, out } = await getBytes(s3, { Bucket: bucket, Key: `s3-${MiB + 17}`, Range: `bytes=${start}-${end}` });
    t.ok(got.equals(body.subarray(start, end + 1)), `range ${start}-${end}`);
    t.equal(out.ContentRange, `bytes ${start}-${end}/${MiB + 17}`);
  }
});

t.test('SSE-C: the key is needed to read; missing, wrong and malformed keys get S3 errors', async (t) => {
  const key = customerKey();
  const body = seededBytes(300 * KiB, 3);
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 };
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: body, ...sse }));
  t.equal(put.SSECustomerAlgorithm, 'AES256');
  t.equal(put.SSECustomerKeyMD5, key.md5Base64);
  t.not(put.ETag, `"${md5Hex(body)}"`, 'an SSE-C ETag is not the plaintext MD5');
  t.match(put.ETag, /^"[0-9a-f]{32}"$/, 'but still 32 hex digits');
  const { body: got, out } = await getBytes(s3, { Bucket: bucket, Key: 'c', ...sse });
  t.ok(got.equals(body));
  t.equal(out.SSECustomerKeyMD5, key.md5Base64);
  const ranged = await getBytes(s3, { Bucket: bucket, Key: 'c', Range: 'bytes=65530-131080', ...sse });
  t.ok(ranged.body.equals(body.subarray(65530, 131081)), 'a range across two packages');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'c', ...sse }));
  t.equal(head.ContentLength, body.length);
  t.equal(head.SSECustomerAlgorithm, 'AES256');

  const noKey = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c' })));
  t.equal(noKey.name, 'InvalidRequest', 'GET without the key');
  const other = customerKey();
  const wrong = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', SSECustomerAlgorithm: 'AES256', SSECustomerKey: other.keyBase64, SSECustomerKeyMD5: other.md5Base64 })));
  t.equal(wrong.status, 403, 'GET with another key');
  t.equal(wrong.name, 'AccessDenied');
  const headNoKey = await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'c' })));
  t.equal(headNoKey.status, 400, 'HEAD without the key');

  const badMd5 = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'c', headers: { ...customerKeyHeaders(key), 'x-amz-server-side-encryption-customer-key-md5': other.md5Base64 } });
  t.equal(badMd5.status, 400);
  t.equal(xmlField(badMd5.body, 'Code'), 'InvalidArgument', 'a key MD5 that does not match the key');
  const short = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'short', headers: customerKeyHeaders({ ...key, keyBase64: randomBytes(16).toString('base64') }), body: Buffer.from('x') });
  t.equal(xmlField(short.body, 'Code'), 'InvalidArgument', 'a 128-bit key');
  const algorithm = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'alg', headers: { ...customerKeyHeaders(key), 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }, body: Buffer.from('x') });
  t.equal(xmlField(algorithm.body, 'Code'), 'InvalidEncryptionAlgorithmError');
  const both = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'both', headers: { ...customerKeyHeaders(key), 'x-amz-server-side-encryption': 'AES256' }, body: Buffer.from('x') });
  t.equal(xmlField(both.body, 'Code'), 'InvalidArgument', 'SSE-C and SSE-S3 together');
  const kms = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'kms', headers: { 'x-amz-server-side-encryption': 'aws:kms:dsse' }, body: Buffer.from('x') });
  t.equal(kms.status, 501, 'dual-layer aws:kms:dsse is not available');
  for (const refused of ['short', 'alg', 'both', 'kms']) {
    const missing = await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: refused });
    t.equal(missing.status, 404, `a refused PUT (${refused}) stored nothing`);
  }
  const plainWithKey = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'plain' }));
  t.ok(plainWithKey.ETag);
  const keyOnPlain = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'plain', ...sse })));
  t.equal(keyOnPlain.name, 'InvalidRequest', 'a key offered for an object that has none');
});

t.test('shard files and LevelDB values on every node hold neither the plaintext nor the SSE-C key', async (t) => {
  const marker = randomBytes(24);
  const key = customerKey();
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 };
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret-small', Body: markedBody(20 * KiB, marker), ...sse }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret-large', Body: markedBody(2 * MiB, marker), ...sse }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret-s3', Body: markedBody(MiB, marker), ServerSideEncryption: 'AES256' }));
  t.same(await filesContaining(cluster.dataDir, marker), [], 'no file holds the plaintext');
  t.same(await filesContaining(cluster.dataDir, key.key), [], 'no file holds the key');
  t.same(await filesContaining(cluster.dataDir, Buffer.from(key.keyBase64)), [], 'no file holds the key in base64');
  // The check can see plaintext where there is some: the same body written unencrypted is found.
  const control = randomBytes(24);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'control', Body: markedBody(MiB, control) }));
  t.not((await filesContaining(cluster.dataDir, control)).length, 0, 'an unencrypted body is found on disk');
  // And in LevelDB, where small shards live inline: the scan reads its files too.
  const inlineControl = randomBytes(24);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inline-control', Body: markedBody(20 * KiB, inlineControl) }));
  const inlineFound = await filesContaining(cluster.dataDir, inlineControl);
  t.ok(inlineFound.length > 0 && inlineFound.every((path) => !path.includes('/shards/')), `an unencrypted small body is found in LevelDB (${inlineFound.length} files)`);
});

t.test('bucket default encryption: Put/Get/Delete, and writes without headers are sealed with SSE-S3', async (t) => {
  const missing = await sdkError(s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })));
  t.equal(missing.name, 'ServerSideEncryptionConfigurationNotFoundError');
  await s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  const got = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
  t.equal(got.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
  const marker = randomBytes(24);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'by-default', Body: markedBody(200 * KiB, marker) }));
  t.equal(put.ServerSideEncryption, 'AES256', 'a write without headers is encrypted');
  t.same(await filesContaining(cluster.dataDir, marker), []);
  const kms = await sdkError(s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms:dsse' } }] } })));
  t.equal(kms.status, 501, 'aws:kms:dsse is refused');
  t.equal((await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))).ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256', 'and changes nothing');
  await s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }));
  t.equal((await sdkError(s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })))).name, 'ServerSideEncryptionConfigurationNotFoundError');
  const plain = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'after-default', Body: 'x' }));
  t.equal(plain.ServerSideEncryption, undefined, 'writes are plain again');
  const { body } = await getBytes(s3, { Bucket: bucket, Key: 'by-default' });
  t.equal(body.length, 200 * KiB, 'what the default sealed still reads');
});

type Kind = 'plain' | 'SSE-S3' | 'SSE-C';

/** The SDK fields that write (or, for SSE-C, read) an object of this kind. */
function writeFields(kind: Kind, key: ReturnType<typeof customerKey>): Record<string, string> {
  if (kind === 'SSE-S3') return { ServerSideEncryption: 'AES256' };
  if (kind === 'SSE-C') return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 };
  return {};
}

function readFields(kind: Kind, key: ReturnType<typeof customerKey>): Record<string, string> {
  return kind === 'SSE-C' ? writeFields(kind, key) : {};
}

function copySourceFields(kind: Kind, key: ReturnType<typeof customerKey>): Record<string, string> {
  if (kind !== 'SSE-C') return {};
  return { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: key.keyBase64, CopySourceSSECustomerKeyMD5: key.md5Base64 };
}

const KINDS: readonly Kind[] = ['plain', 'SSE-S3', 'SSE-C'];

t.test('multipart (8 MiB, two parts): every part sealed with the upload key, GETs and ranges across part and package edges', async (t) => {
  for (const kind of ['SSE-S3', 'SSE-C'] as const) {
    const key = customerKey();
    const objectKey = `mp-${kind}`;
    const body = seededBytes(8 * MiB, 8);
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: objectKey, ...writeFields(kind, key) }));
    if (kind === 'SSE-S3') t.equal(created.ServerSideEncryption, 'AES256', 'CreateMultipartUpload echoes AES256');
    const uploadId = created.UploadId as string;
    if (kind === 'SSE-C') {
      const noKey = await sdkError(s3.send(new UploadPartCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId, PartNumber: 1, Body: body.subarray(0, 5 * MiB) })));
      t.equal(noKey.name, 'InvalidRequest', 'a part of an SSE-C upload without the key');
      const other = customerKey();
      const wrong = await sdkError(s3.send(new UploadPartCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId, PartNumber: 1, Body: body.subarray(0, 5 * MiB), ...writeFields('SSE-C', other) })));
      t.equal(wrong.status, 403, 'a part with another key');
    }
    const parts = [];
    for (const [n, from, to] of [[1, 0, 5 * MiB], [2, 5 * MiB, 8 * MiB]] as const) {
      const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId, PartNumber: n, Body: body.subarray(from, to), ...readFields(kind, key) }));
      if (kind === 'SSE-S3') t.equal(part.ServerSideEncryption, 'AES256');
      else t.equal(part.SSECustomerKeyMD5, key.md5Base64);
      parts.push({ PartNumber: n, ETag: part.ETag as string });
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    t.match(done.ETag, /^"[0-9a-f]{32}-2"$/);
    if (kind === 'SSE-S3') t.equal(done.ServerSideEncryption, 'AES256');
    const whole = await getBytes(s3, { Bucket: bucket, Key: objectKey, ...readFields(kind, key) });
    t.ok(whole.body.equals(body), `${kind}: the whole object reads back`);
    t.equal(whole.out.ContentLength, 8 * MiB);
    for (const [start, end] of [[5 * MiB - 1, 5 * MiB], [5 * MiB - 100_000, 5 * MiB + 100_000], [5 * MiB + 64 * KiB - 1, 5 * MiB + 64 * KiB], [8 * MiB - 1, 8 * MiB - 1]] as const) {
      const ranged = await getBytes(s3, { Bucket: bucket, Key: objectKey, Range: `bytes=${start}-${end}`, ...readFields(kind, key) });
      t.ok(ranged.body.equals(body.subarray(start, end + 1)), `${kind}: range ${start}-${end}`);
    }
    if (kind === 'SSE-C') {
      const noKey = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey })));
      t.equal(noKey.name, 'InvalidRequest', 'the completed object needs the key');
    }
  }
});

t.test('CopyObject between every pair of plain, SSE-S3 and SSE-C source and target', async (t) => {
  const body = seededBytes(300 * KiB + 5, 9);
  const sourceKey = customerKey();
  const targetKey = customerKey();
  for (const from of KINDS) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `copy-src-${from}`, Body: body, ...writeFields(from, sourceKey) }));
    for (const to of KINDS) {
      const name = `copy-${from}-to-${to}`;
      const copied = await s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: name, CopySource: `${bucket}/copy-src-${from}`, ...copySourceFields(from, sourceKey), ...writeFields(to, targetKey) }),
      );
      if (to === 'SSE-S3') t.equal(copied.ServerSideEncryption, 'AES256', `${name}: AES256 echoed`);
      if (to === 'SSE-C') t.equal(copied.SSECustomerKeyMD5, targetKey.md5Base64, `${name}: key MD5 echoed`);
      if (to !== 'SSE-C') t.equal(copied.CopyObjectResult?.ETag, `"${md5Hex(body)}"`, `${name}: MD5 ETag`);
      const got = await getBytes(s3, { Bucket: bucket, Key: name, ...readFields(to, targetKey) });
      t.ok(got.body.equals(body), `${name}: reads back`);
      const head = await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: name, ...(to === 'SSE-C' ? {} : writeFields('SSE-C', targetKey)) })));
      t.equal(head.status, 400, `${name}: the target's key rules hold`);
    }
  }
  const missingSourceKey = await sdkError(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'never', CopySource: `${bucket}/copy-src-SSE-C` })));
  t.equal(missingSourceKey.name, 'InvalidRequest', 'an SSE-C source without its key');
  const wrongSourceKey = await sdkError(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'never', CopySource: `${bucket}/copy-src-SSE-C`, ...copySourceFields('SSE-C', targetKey) })));
  t.equal(wrongSourceKey.status, 403, 'an SSE-C source with another key');
  t.equal((await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'never' })).status, 404, 'refused copies wrote nothing');
  const inPlace = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-src-plain', CopySource: `${bucket}/copy-src-plain`, ServerSideEncryption: 'AES256' }));
  t.equal(inPlace.ServerSideEncryption, 'AES256', 'a copy onto itself that changes only the encryption is allowed');
});

t.test('UploadPartCopy from an SSE-C source into an SSE-S3 upload', async (t) => {
  const key = customerKey();
  const body = seededBytes(6 * MiB, 6);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'upc-src', Body: body, ...writeFields('SSE-C', key) }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'upc', ServerSideEncryption: 'AES256' }));
  const first = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'upc', UploadId, PartNumber: 1, CopySource: `${bucket}/upc-src`, CopySourceRange: `bytes=0-${5 * MiB - 1}`, ...copySourceFields('SSE-C', key) }));
  const second = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'upc', UploadId, PartNumber: 2, CopySource: `${bucket}/upc-src`, CopySourceRange: `bytes=${5 * MiB}-${6 * MiB - 1}`, ...copySourceFields('SSE-C', key) }));
  t.equal(first.ServerSideEncryption, 'AES256');
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'upc', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: first.CopyPartResult?.ETag as string }, { PartNumber: 2, ETag: second.CopyPartResult?.ETag as string }] } }));
  const got = await getBytes(s3, { Bucket: bucket, Key: 'upc' });
  t.ok(got.body.equals(body));
  t.equal(got.out.ServerSideEncryption, 'AES256');
});

t.test('a gateway left at the defaults refuses SSE-C over plain HTTP, and SSE-S3 without a master key', async (t) => {
  const strict = await clusterWithBucket(t, { nodeCount: 3, dataShards: 2, parityShards: 1 });
  const key = customerKey();
  const refused = await sdkError(strict.s3.send(new PutObjectCommand({ Bucket: strict.bucket, Key: 'k', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 })));
  t.same(refused, { name: 'InvalidRequest', status: 400 }, 'SSE-C over HTTP');
  const noMaster = await sdkError(strict.s3.send(new PutObjectCommand({ Bucket: strict.bucket, Key: 'k', Body: 'x', ServerSideEncryption: 'AES256' })));
  t.same(noMaster, { name: 'NotImplemented', status: 501 }, 'SSE-S3 without a master key file');
  const defaultRefused = await sdkError(strict.s3.send(new PutBucketEncryptionCommand({ Bucket: strict.bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } })));
  t.equal(defaultRefused.status, 501, 'a bucket default no write could honour is refused');
  t.equal((await rawS3(strict.cluster.endpoint, { method: 'HEAD', bucket: strict.bucket, key: 'k' })).status, 404, 'nothing was stored');
});

t.test('through the store a GET never returns wrong bytes: another object\'s key and nonce fail cleanly', async (t) => {
  const a = seededBytes(200 * KiB, 21);
  const b = seededBytes(200 * KiB, 22);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper-a', Body: a, ServerSideEncryption: 'AES256' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper-b', Body: b, ServerSideEncryption: 'AES256' }));
  const clients = cluster.nodes.map((node, i) => new NodeClient({ nodeId: `node-${i}`, address: `127.0.0.1:${node.address.port}`, clusterSecret: cluster.config.clusterSecret }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  const statusA = (await Promise.all(clients.map((c) => c.objectStatus(bucket, 'tamper-a')))).find((s) => s !== null);
  const encryptionA = statusA?.record.encryption;
  t.ok(encryptionA, 'object a is encrypted');
  if (encryptionA === undefined) return;
  // Every node's record of b now names a's data key and nonce: b's packages cannot open under them.
  for (const client of clients) {
    const status = await client.objectStatus(bucket, 'tamper-b');
    if (status !== null) await client.reseal({ bucket, key: 'tamper-b', versionId: status.record.versionId, encryption: encryptionA });
  }
  const got = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'tamper-b' });
  t.equal(got.status, 500, 'the GET fails before any byte is sent');
  t.equal(xmlField(got.body, 'Code'), 'InternalError');
  const ranged = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'tamper-b', headers: { range: 'bytes=100000-100010' } });
  t.equal(ranged.status, 500, 'so does a range');
  t.ok((await getBytes(s3, { Bucket: bucket, Key: 'tamper-a' })).body.equals(a), 'object a is unharmed');
});

t.test('x-amz-checksum values stay those of the plaintext', async (t) => {
  const body = seededBytes(150 * KiB, 31);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'checksummed', Body: body, ChecksumAlgorithm: 'CRC32', ServerSideEncryption: 'AES256' }));
  const expected = computeChecksum('CRC32', body);
  t.equal(put.ChecksumCRC32, expected, 'PUT answers the plaintext CRC32');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'checksummed', ChecksumMode: 'ENABLED' }));
  t.equal(head.ChecksumCRC32, expected, 'HEAD gives the plaintext CRC32');
  t.equal(head.ETag, `"${md5Hex(body)}"`);
});

t.test('with two nodes down, encrypted objects (whole and multipart) read back through parity', async (t) => {
  await cluster.stopNode(0);
  await cluster.stopNode(3);
  const whole = await getBytes(s3, { Bucket: bucket, Key: `s3-${MiB + 17}` });
  t.ok(whole.body.equals(seededBytes(MiB + 17, MiB + 17)), 'SSE-S3 1 MiB object reconstructed and decrypted');
  const ranged = await getBytes(s3, { Bucket: bucket, Key: `s3-${MiB + 17}`, Range: 'bytes=65530-65600' });
  t.ok(ranged.body.equals(seededBytes(MiB + 17, MiB + 17).subarray(65530, 65601)), 'and a range across a package edge');
  const multipart = await getBytes(s3, { Bucket: bucket, Key: 'mp-SSE-S3' });
  t.ok(multipart.body.equals(seededBytes(8 * MiB, 8)), 'the 8 MiB multipart object');
});

t.test('SSE-C checksums are of the plaintext: GetObjectAttributes, ListParts and CompleteMultipartUpload show them only with the key', async (t) => {
  const key = customerKey();
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 };
  const other = customerKey();
  const wrongKey = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: other.keyBase64, SSECustomerKeyMD5: other.md5Base64 };
  const guessable = Buffer.from('a body someone might guess');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c-sum', Body: guessable, ChecksumAlgorithm: 'SHA256', ...sse }));
  const attributes = (extra: Record<string, string>) =>
    s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'c-sum', ObjectAttributes: ['Checksum', 'ObjectSize'], ...extra }));
  t.same(await sdkError(attributes({})), { name: 'InvalidRequest', status: 400 }, 'GetObjectAttributes without the key');
  t.same(await sdkError(attributes(wrongKey)), { name: 'AccessDenied', status: 403 }, 'GetObjectAttributes with another key');
  t.equal((await attributes(sse)).Checksum?.ChecksumSHA256, computeChecksum('SHA256', guessable), 'with the key: the plaintext checksum');

  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'c-mp', ChecksumAlgorithm: 'SHA256', ...sse }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'c-mp', UploadId: upload.UploadId, PartNumber: 1, Body: guessable, ChecksumAlgorithm: 'SHA256', ...sse }));
  const listParts = (extra: Record<string, string>) => s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'c-mp', UploadId: upload.UploadId, ...extra }));
  t.same(await sdkError(listParts({})), { name: 'InvalidRequest', status: 400 }, 'ListParts without the key');
  t.same(await sdkError(listParts(wrongKey)), { name: 'AccessDenied', status: 403 }, 'ListParts with another key');
  t.equal((await listParts(sse)).Parts?.[0]?.ChecksumSHA256, computeChecksum('SHA256', guessable), 'ListParts with the key');
  const complete = (extra: Record<string, string>) =>
    s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'c-mp',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumSHA256: part.ChecksumSHA256 }] },
        ...extra,
      }),
    );
  t.same(await sdkError(complete({})), { name: 'InvalidRequest', status: 400 }, 'CompleteMultipartUpload without the key');
  t.ok((await listParts(sse)).Parts?.length === 1, 'the refused completion left the upload open');
  t.ok((await complete(sse)).ChecksumSHA256, 'with the key the completion answers its checksum');
  t.ok((await complete(sse)).ChecksumSHA256, 'and so does a retry of it');
  t.same(await sdkError(complete({})), { name: 'InvalidRequest', status: 400 }, 'a retry without the key is refused too');
});

t.test('a KMS key id or context without x-amz-server-side-encryption: aws:kms is 400 InvalidArgument and stores nothing', async (t) => {
  const cases: [string, Record<string, string>][] = [
    ['key id alone', { 'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:111122223333:key/1234' }],
    ['key id with AES256', { 'x-amz-server-side-encryption': 'AES256', 'x-amz-server-side-encryption-aws-kms-key-id': 'k' }],
    ['context alone', { 'x-amz-server-side-encryption-context': Buffer.from('{"a":"b"}').toString('base64') }],
  ];
  for (const [name, headers] of cases) {
    const response = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'kms-id', headers, body: Buffer.from('x') });
    t.equal(response.status, 400, name);
    t.equal(xmlField(response.body, 'Code'), 'InvalidArgument', name);
  }
  t.equal((await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'kms-id' })).status, 404, 'nothing was stored');
});

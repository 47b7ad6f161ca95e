import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { compareVersionIds, silentLogger } from '../../../src/common/index.js';
import { ReplicationSource, ReplicationSourceError, readMasterKeyFile, type SourceVersion } from '../../../src/gateway/index.js';
import { bucketName, collect, seededBytes } from '../../helpers/bytes.js';
import { startCluster } from '../../helpers/cluster.js';
import { customerKey, masterKeyFile } from '../../helpers/sse.js';
import { rawS3 } from '../raw-s3.js';

/**
 * A storage node's view of one version, without an S3 server: against a real gateway and six real
 * nodes (4+2), versions written with the AWS SDK are read back through ReplicationSource as the
 * replicator sees them (metadata as GET answers it, tags, lock, part layout, decrypted bytes by part),
 * and what is gone or unreachable is told apart.
 */

const KiB = 1024;
const MIN_PART_BYTES = 64 * KiB;
const keys = await masterKeyFile();
t.teardown(() => keys.remove());
const cluster = await startCluster({
  blockSizeBytes: 16 * KiB,
  nodeHealing: false,
  gatewayOverrides: { sseMasterKeyFile: keys.path, sseCustomerKeysOverHttp: true, minPartSizeBytes: MIN_PART_BYTES, metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 },
});
t.teardown(() => cluster.close());
const s3 = cluster.client();

const common = {
  ring: cluster.gateway.ring,
  clusterSecret: cluster.config.clusterSecret,
  erasure: cluster.config.erasure,
  logger: silentLogger(),
  metadataTimeoutMs: 10_000,
  stallTimeoutMs: 10_000,
};
const source = new ReplicationSource({ ...common, masterKeys: await readMasterKeyFile(keys.path) });
t.teardown(() => source.close());
const keyless = new ReplicationSource(common);
t.teardown(() => keyless.close());

async function versionedBucket(options: { lock?: boolean } = {}): Promise<string> {
  const bucket = bucketName('repl');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(options.lock === true ? { ObjectLockEnabledForBucket: true } : {}) }));
  if (options.lock !== true) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

async function read(found: SourceVersion, index: number): Promise<Buffer> {
  return collect(await found.openPart(index, AbortSignal.timeout(30_000)));
}

async function versionOf(from: ReplicationSource, bucket: string, key: string, versionId: string): Promise<SourceVersion | undefined> {
  return from.version(bucket, key, versionId, AbortSignal.timeout(30_000));
}

/** `value`, which the test needs to go on. */
function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected: ${what}`);
  return value;
}

async function refusal(work: Promise<unknown>): Promise<{ code: string; retryable: boolean } | string> {
  try {
    await work;
    return 'no error';
  } catch (err) {
    return err instanceof ReplicationSourceError ? { code: err.code, retryable: err.retryable } : String(err);
  }
}

t.test('a single-part version: its bytes, the metadata headers GET answers, its tags and its lock', async (t) => {
  const bucket = await versionedBucket({ lock: true });
  const body = seededBytes(100 * KiB + 3, 1);
  const retainUntil = new Date(Date.now() + 86_400_000);
  retainUntil.setMilliseconds(0);
  const put = await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: 'photos/one.bin',
      Body: body,
      ContentType: 'image/x-test',
      CacheControl: 'max-age=60',
      ContentDisposition: 'attachment; filename="one.bin"',
      ContentLanguage: 'fr',
      Expires: new Date('2030-01-02T03:04:05Z'),
      // S3's way to send a value outside US-ASCII: an RFC 2047 word, stored decoded.
      Metadata: { color: 'blue', note: '=?UTF-8?B?Y2Fmw6k=?=' },
      Tagging: 'team=storage&tier=gold',
      ObjectLockMode: 'GOVERNANCE',
      ObjectLockRetainUntilDate: retainUntil,
      ObjectLockLegalHoldStatus: 'ON',
    }),
  );
  const versionId = put.VersionId ?? '';
  const found = present(await versionOf(source, bucket, 'photos/one.bin', versionId), 'the version is found');
  t.equal(found.versionId, versionId, 'the version id is the one the write answered');
  t.equal(found.deleteMarker, false);
  t.equal(found.sizeBytes, body.length);
  t.equal(found.etag, put.ETag, 'the quoted ETag the write answered');
  t.equal(found.partSizes, undefined, 'a single-part object has no part sizes');
  t.equal(found.encryption, undefined);
  t.same(found.tags, { team: 'storage', tier: 'gold' });
  t.same(found.retention, { mode: 'GOVERNANCE', retainUntilMs: retainUntil.getTime() });
  t.equal(found.legalHold, true);
  t.ok((await read(found, 0)).equals(body), 'part 0 is the whole body');

  const get = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'photos/one.bin', query: { versionId } });
  t.equal(get.status, 200);
  t.ok(Math.abs(found.lastModifiedMs - Date.parse(String(get.headers['last-modified']))) < 1000, 'the Last-Modified GET answers');
  for (const name of ['content-type', 'cache-control', 'content-disposition', 'content-language', 'expires', 'x-amz-meta-color', 'x-amz-meta-note']) {
    t.equal(found.headers[name], get.headers[name], `${name} as GET answers it`);
  }
  t.equal(found.headers['x-amz-meta-note'], '=?UTF-8?B?Y2Fmw6k=?=', 'a value outside US-ASCII in its encoded word');
  t.same(Object.keys(found.headers).sort(), ['cache-control', 'content-disposition', 'content-language', 'content-type', 'expires', 'x-amz-meta-color', 'x-amz-meta-note']);

  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'photos/one.bin', VersionId: versionId, Tagging: { TagSet: [{ Key: 'team', Value: 'archive' }] } }));
  t.same((await versionOf(source, bucket, 'photos/one.bin', versionId))?.tags, { team: 'archive' }, 'the tags the version holds now');
  t.same(await refusal(found.openPart(1, AbortSignal.timeout(30_000))), { code: 'NoSuchPart', retryable: false }, 'a single-part object has only part 0');
});

t.test('a multipart version: its part sizes, and its parts read one by one make up the object', async (t) => {
  const bucket = await versionedBucket();
  const sizes = [MIN_PART_BYTES + 5, MIN_PART_BYTES, 1234];
  const parts = sizes.map((size, i) => seededBytes(size, 10 + i));
  const key = 'big/multi.bin';
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/x-multi', Metadata: { origin: 'parts' } }));
  const etags: string[] = [];
  for (const [i, part] of parts.entries()) {
    etags.push((await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId, PartNumber: i + 1, Body: part }))).ETag ?? '');
  }
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
  );
  const found = present(await versionOf(source, bucket, key, done.VersionId ?? ''), 'the version is found');
  t.same(found.partSizes, sizes, 'the sizes of the parts, in order');
  t.equal(found.etag, done.ETag, 'the multipart ETag');
  t.equal(found.headers['content-type'], 'application/x-multi');
  t.equal(found.headers['x-amz-meta-origin'], 'parts');
  const read0 = await read(found, 0);
  const read1 = await read(found, 1);
  const read2 = await read(found, 2);
  t.ok(read0.equals(parts[0] ?? Buffer.alloc(0)) && read1.equals(parts[1] ?? Buffer.alloc(0)) && read2.equals(parts[2] ?? Buffer.alloc(0)), 'each part is the bytes uploaded as it');
  t.ok(Buffer.concat([read0, read1, read2]).equals(Buffer.concat(parts)), 'the parts concatenate to the object');
  t.same(await refusal(found.openPart(3, AbortSignal.timeout(30_000))), { code: 'NoSuchPart', retryable: false });
});

t.test('an SSE-S3 version reads decrypted with the master keys, and fails clearly and for good without them', async (t) => {
  const bucket = await versionedBucket();
  const body = seededBytes(70 * KiB + 11, 2);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: body, ServerSideEncryption: 'AES256' }));
  const found = present(await versionOf(source, bucket, 'secret', put.VersionId ?? ''), 'the version is found');
  t.equal(found.encryption, 'SSE-S3');
  t.equal(found.sizeBytes, body.length, 'the plaintext size');
  t.ok((await read(found, 0)).equals(body), 'the plaintext');

  const sizes = [MIN_PART_BYTES, 999];
  const parts = sizes.map((size, i) => seededBytes(size, 20 + i));
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'secret-multi', ServerSideEncryption: 'AES256' }));
  const etags: string[] = [];
  for (const [i, part] of parts.entries()) {
    etags.push((await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'secret-multi', UploadId: upload.UploadId, PartNumber: i + 1, Body: part }))).ETag ?? '');
  }
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'secret-multi', UploadId: upload.UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
  );
  const multi = present(await versionOf(source, bucket, 'secret-multi', done.VersionId ?? ''), 'the multipart version is found');
  t.equal(multi.encryption, 'SSE-S3');
  t.ok((await read(multi, 1)).equals(parts[1] ?? Buffer.alloc(0)), 'a part of an encrypted multipart object, decrypted');

  const withoutKeys = present(await versionOf(keyless, bucket, 'secret', put.VersionId ?? ''), 'the version is found without keys');
  t.equal(withoutKeys.etag, found.etag, 'its metadata reads without keys');
  t.same(await refusal(withoutKeys.openPart(0, AbortSignal.timeout(30_000))), { code: 'MasterKeyMissing', retryable: false }, 'its body does not');
});

t.test('an SSE-C version is named so and its body is refused for good', async (t) => {
  const bucket = await versionedBucket();
  const key = customerKey();
  const put = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: 'customer', Body: 'only with the key', SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.md5Base64 }),
  );
  const found = await versionOf(source, bucket, 'customer', put.VersionId ?? '');
  t.equal(found?.encryption, 'SSE-C');
  t.same(await refusal(found?.openPart(0, AbortSignal.timeout(30_000)) ?? Promise.resolve()), { code: 'CustomerKeyRequired', retryable: false });
});

t.test('a delete marker is read as one, with no body', async (t) => {
  const bucket = await versionedBucket();
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'gone', Body: 'before' }));
  const deleted = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'gone' }));
  t.equal(deleted.DeleteMarker, true);
  const found = present(await versionOf(source, bucket, 'gone', deleted.VersionId ?? ''), 'the marker is found');
  t.equal(found.deleteMarker, true);
  t.equal(found.versionId, deleted.VersionId);
  t.equal(found.sizeBytes, 0);
  t.same(found.headers, {});
  t.same(await refusal(found.openPart(0, AbortSignal.timeout(30_000))), { code: 'NoSuchPart', retryable: false });
});

t.test("a null version is read by its internal id, not by S3's `null`, until a later write replaces it", async (t) => {
  const bucket = bucketName('repl');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'first' }));
  t.equal(put.VersionId, undefined, 'an unversioned bucket shows no version id');
  const internal = await internalVersionId(bucket, 'plain');
  const found = await versionOf(source, bucket, 'plain', internal);
  t.equal(found?.versionId, internal, 'the internal id, not `null`');
  t.equal(found === undefined ? '' : (await read(found, 0)).toString(), 'first');
  t.same(await refusal(versionOf(source, bucket, 'plain', 'null')), { code: 'InvalidVersionId', retryable: false }, '`null` names no one version');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'second' }));
  t.equal(await versionOf(source, bucket, 'plain', internal), undefined, 'the replaced null version no longer exists');
});

t.test('a version deleted by its id is undefined; the others stay', async (t) => {
  const bucket = await versionedBucket();
  const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'one' }));
  const second = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'two' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: first.VersionId }));
  t.equal(await versionOf(source, bucket, 'k', first.VersionId ?? ''), undefined, 'the deleted version');
  const kept = await versionOf(source, bucket, 'k', second.VersionId ?? '');
  t.equal(kept === undefined ? '' : (await read(kept, 0)).toString(), 'two', 'the version kept');
  t.equal(await versionOf(source, bucket, 'never-written', second.VersionId ?? ''), undefined, 'a key that never had it');
});

// Last: it stops nodes of the shared cluster.
t.test('with too few nodes answering, a lookup fails as retryable, not as a missing version', async (t) => {
  const bucket = await versionedBucket();
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'kept' }));
  // A read quorum of 4+2 is 3 nodes: with 4 stopped, 2 answer.
  for (const index of [0, 1, 2, 3]) await cluster.stopNode(index);
  t.same(await refusal(versionOf(source, bucket, 'k', put.VersionId ?? '')), { code: 'SourceUnavailable', retryable: true });
});

/** The internal id of a key's current version, as its nodes hold it (the newest any holds: a write reaches a quorum first). */
async function internalVersionId(bucket: string, key: string): Promise<string> {
  const ids: string[] = [];
  for (const node of cluster.nodes) {
    const stored = await node.parts.store.objectStatus(bucket, key);
    if (stored !== undefined) ids.push(stored.record.versionId);
  }
  ids.sort(compareVersionIds);
  return ids.at(-1) ?? '';
}

import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { formatVersionId } from '../../../src/common/index.js';
import { RemoteError, RemoteS3, replicateTags, replicateVersion, type SourceVersion } from '../../../src/gateway/index.js';
import { bucketName, collect, seededBytes } from '../../helpers/bytes.js';
import { startCluster, TEST_CREDENTIALS } from '../../helpers/cluster.js';
import { masterKeyFile } from '../../helpers/sse.js';

/**
 * Copying one version to a remote S3 store, on one real Tessera that is both source and destination
 * (different buckets): source versions are written with an SDK and read back through the gateway,
 * part by part, as the cluster's own source will hand them over; the copies are checked with an SDK.
 */

const keys = await masterKeyFile();
t.teardown(() => keys.remove());
const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { sseMasterKeyFile: keys.path } });
t.teardown(() => cluster.close());
const s3 = cluster.client();

const MiB = 1024 * 1024;
const DAY_MS = 86_400_000;

async function newBucket(options: { versioned?: boolean; locked?: boolean } = {}): Promise<string> {
  const bucket = bucketName('repl');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(options.locked === true ? { ObjectLockEnabledForBucket: true } : {}) }));
  if (options.versioned === true) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

function remoteOf(t: { teardown(fn: () => unknown): void }, bucket: string): RemoteS3 {
  const remote = new RemoteS3({ endpoint: cluster.endpoint, bucket, region: 'us-east-1', ...TEST_CREDENTIALS });
  t.teardown(() => remote.close());
  return remote;
}

/** Bytes `from`..`from + sizeBytes` of a stored version, streamed from the gateway. */
async function storedRange(bucket: string, key: string, from: number, sizeBytes: number, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${from}-${from + sizeBytes - 1}` }), { abortSignal: signal });
  return got.Body as AsyncIterable<Uint8Array>;
}

/**
 * A stored version as a SourceVersion: its headers, metadata and tags as the gateway answers them,
 * each part read back by its byte range. `extra` adds what the test sets by hand (lock, encryption).
 */
async function sourceOf(bucket: string, key: string, partSizes: number[] | undefined, extra: Partial<SourceVersion> = {}): Promise<SourceVersion> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  const headers: Record<string, string> = {};
  if (head.ContentType !== undefined) headers['Content-Type'] = head.ContentType;
  if (head.CacheControl !== undefined) headers['Cache-Control'] = head.CacheControl;
  if (head.ContentDisposition !== undefined) headers['Content-Disposition'] = head.ContentDisposition;
  if (head.ContentEncoding !== undefined) headers['Content-Encoding'] = head.ContentEncoding;
  for (const [name, value] of Object.entries(head.Metadata ?? {})) headers[`x-amz-meta-${name}`] = value;
  const offsets = (partSizes ?? [head.ContentLength ?? 0]).map((_, index, sizes) => sizes.slice(0, index).reduce((sum, size) => sum + size, 0));
  return {
    bucket,
    key,
    // The internal id a source names: an unversioned bucket's version shows `null`, so one is made here.
    versionId: head.VersionId === undefined || head.VersionId === 'null' ? formatVersionId(Date.now(), 0, 'c0ffee02') : head.VersionId,
    deleteMarker: false,
    sizeBytes: head.ContentLength ?? 0,
    etag: head.ETag ?? '',
    lastModifiedMs: head.LastModified?.getTime() ?? 0,
    headers,
    tags: Object.fromEntries((tagging.TagSet ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
    ...(partSizes === undefined ? {} : { partSizes }),
    openPart: (index, signal) => storedRange(bucket, key, offsets[index] ?? 0, partSizes?.[index] ?? head.ContentLength ?? 0, signal),
    ...extra,
  };
}

async function bytesOf(bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

async function tagsOf(bucket: string, key: string, versionId?: string): Promise<Record<string, string>> {
  const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }));
  return Object.fromEntries((tagging.TagSet ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

async function replicaFailure(work: Promise<unknown>): Promise<RemoteError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof RemoteError) return err;
    throw err;
  }
  throw new Error('expected a RemoteError, the copy succeeded');
}

async function keysIn(bucket: string): Promise<string[]> {
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  return [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].map((version) => version.Key ?? '');
}

t.test('a single-part version arrives with its bytes, ETag, headers, metadata, tags, lock and SSE-S3', async (t) => {
  const source = await newBucket();
  const destination = await newBucket({ locked: true });
  const bytes = seededBytes(200 * 1024 + 3, 1);
  await s3.send(
    new PutObjectCommand({
      Bucket: source,
      Key: 'docs/report.txt',
      Body: bytes,
      ContentType: 'text/plain',
      CacheControl: 'no-cache',
      ContentDisposition: 'attachment; filename="report.txt"',
      ContentEncoding: 'gzip',
      Metadata: { author: 'ada' },
      Tagging: 'class=secret&team=a%20b',
      ServerSideEncryption: 'AES256',
    }),
  );
  const retainUntilMs = Date.now() + DAY_MS;
  const version = await sourceOf(source, 'docs/report.txt', undefined, { retention: { mode: 'GOVERNANCE', retainUntilMs }, legalHold: true, encryption: 'SSE-S3' });

  const written = await replicateVersion(version, remoteOf(t, destination), { signal: AbortSignal.timeout(30_000) });
  t.equal(written.kind, 'put', 'one PutObject');
  t.equal(written.etag, version.etag, "the copy's ETag is the source's");
  t.ok((await bytesOf(destination, 'docs/report.txt')).equals(bytes), 'the copy holds the same bytes');
  const head = await s3.send(new HeadObjectCommand({ Bucket: destination, Key: 'docs/report.txt' }));
  t.equal(head.ContentType, 'text/plain');
  t.equal(head.CacheControl, 'no-cache');
  t.equal(head.ContentDisposition, 'attachment; filename="report.txt"');
  t.equal(head.ContentEncoding, 'gzip', 'the stored Content-Encoding arrives without the transfer framing');
  t.same(head.Metadata, { author: 'ada' });
  t.equal(head.ServerSideEncryption, 'AES256', 'the destination encrypts the copy with its own keys');
  t.equal(head.ObjectLockMode, 'GOVERNANCE');
  t.equal(Math.floor((head.ObjectLockRetainUntilDate?.getTime() ?? 0) / 1000), Math.floor(retainUntilMs / 1000), 'the retention date arrives');
  t.equal(head.ObjectLockLegalHoldStatus, 'ON');
  t.same(await tagsOf(destination, 'docs/report.txt'), { class: 'secret', team: 'a b' }, 'the tags arrive');
});

t.test('a retention already past is not sent: the copy is written without it', async (t) => {
  const source = await newBucket();
  const destination = await newBucket({ locked: true });
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'old', Body: seededBytes(1000, 2) }));
  const version = await sourceOf(source, 'old', undefined, { retention: { mode: 'COMPLIANCE', retainUntilMs: Date.now() - DAY_MS } });
  await replicateVersion(version, remoteOf(t, destination), { signal: AbortSignal.timeout(30_000) });
  const head = await s3.send(new HeadObjectCommand({ Bucket: destination, Key: 'old' }));
  t.equal(head.ObjectLockMode, undefined, 'no retention on the copy');
  t.equal(head.ETag, version.etag);
});

t.test("a multipart version is copied by the source's parts, so the copy has the source's ETag, lock and all", async (t) => {
  const source = await newBucket();
  const destination = await newBucket({ locked: true });
  const parts = [seededBytes(5 * MiB, 3), seededBytes(5 * MiB, 4), seededBytes(123_457, 5)];
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: source, Key: 'big', ContentType: 'application/x-big', Metadata: { parts: '3' } }));
  const etags: string[] = [];
  for (const [index, part] of parts.entries()) {
    const answer = await s3.send(new UploadPartCommand({ Bucket: source, Key: 'big', UploadId: upload.UploadId, PartNumber: index + 1, Body: part }));
    etags.push(answer.ETag ?? '');
  }
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: source,
      Key: 'big',
      UploadId: upload.UploadId,
      MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
    }),
  );
  // A locking upload: the destination wants each part covered by a checksum, which every streamed body carries.
  const version = await sourceOf(source, 'big', parts.map((part) => part.length), { legalHold: true });
  t.match(version.etag, /-3"$/, 'the source is a three-part object');

  const written = await replicateVersion(version, remoteOf(t, destination), { signal: AbortSignal.timeout(60_000) });
  t.equal(written.kind, 'multipart');
  t.equal(written.etag, version.etag, "the copy's multipart ETag is the source's");
  const head = await s3.send(new HeadObjectCommand({ Bucket: destination, Key: 'big' }));
  t.equal(head.ETag, version.etag);
  t.equal(head.ContentType, 'application/x-big');
  t.same(head.Metadata, { parts: '3' }, 'the upload carries the headers');
  t.equal(head.ObjectLockLegalHoldStatus, 'ON', 'and the lock');
  t.ok((await bytesOf(destination, 'big')).equals(Buffer.concat(parts)), 'the copy holds the same bytes');
});

t.test('a source part that cannot be read aborts the upload: retryable, nothing left behind', async (t) => {
  const source = await newBucket();
  const destination = await newBucket();
  const parts = [seededBytes(5 * MiB, 6), seededBytes(1000, 7)];
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'flaky', Body: Buffer.concat(parts) }));
  const real = await sourceOf(source, 'flaky', parts.map((part) => part.length));
  const version: SourceVersion = {
    ...real,
    openPart: async (index, signal) => {
      if (index === 1) throw new Error('read quorum lost');
      return real.openPart(index, signal);
    },
  };
  const failure = await replicaFailure(replicateVersion(version, remoteOf(t, destination), { signal: AbortSignal.timeout(60_000) }));
  t.match(failure, { code: 'SourceReadFailed', retryable: true });
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: destination }));
  t.same(uploads.Uploads ?? [], [], 'the upload was aborted');
  t.same(await keysIn(destination), [], 'no object was written');
});

t.test('a refusal by the destination is permanent: lock headers to a bucket without Object Lock', async (t) => {
  const source = await newBucket();
  const destination = await newBucket();
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'locked', Body: seededBytes(100, 8) }));
  const version = await sourceOf(source, 'locked', undefined, { legalHold: true });
  const failure = await replicaFailure(replicateVersion(version, remoteOf(t, destination), { signal: AbortSignal.timeout(30_000) }));
  t.match(failure, { status: 400, retryable: false });
  t.same(await keysIn(destination), []);
});

t.test('a delete marker is copied as a DeleteObject of the key', async (t) => {
  const source = await newBucket({ versioned: true });
  const destination = await newBucket({ versioned: true });
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'gone', Body: seededBytes(100, 9) }));
  const remote = remoteOf(t, destination);
  await replicateVersion(await sourceOf(source, 'gone', undefined), remote, { signal: AbortSignal.timeout(30_000) });
  const marker: SourceVersion = {
    bucket: source,
    key: 'gone',
    versionId: formatVersionId(Date.now(), 0, 'c0ffee00'),
    deleteMarker: true,
    sizeBytes: 0,
    etag: '',
    lastModifiedMs: Date.now(),
    headers: {},
    tags: {},
    openPart: () => Promise.reject(new Error('a delete marker has no body')),
  };
  const written = await replicateVersion(marker, remote, { signal: AbortSignal.timeout(30_000) });
  t.equal(written.kind, 'delete-marker');
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: destination, Prefix: 'gone' }));
  t.same((versions.DeleteMarkers ?? []).map((m) => [m.Key, m.IsLatest, m.VersionId]), [['gone', true, written.versionId]], 'the destination holds a delete marker on top');
  t.equal((versions.Versions ?? []).length, 1, 'the copied version stays beneath it');
});

t.test('an SSE-C version fails for good before anything is sent', async (t) => {
  const source = await newBucket();
  const destination = await newBucket();
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'customer', Body: seededBytes(100, 10) }));
  let opened = false;
  const version: SourceVersion = {
    ...(await sourceOf(source, 'customer', undefined)),
    encryption: 'SSE-C',
    openPart: () => {
      opened = true;
      return Promise.reject(new Error('no customer key'));
    },
  };
  const failure = await replicaFailure(replicateVersion(version, remoteOf(t, destination), { signal: AbortSignal.timeout(30_000) }));
  t.match(failure, { code: 'CustomerKeyEncrypted', retryable: false });
  t.equal(opened, false, 'the source was not read');
  t.same(await keysIn(destination), []);
});

t.test('tag changes are sent as PutObjectTagging and DeleteObjectTagging of the version', async (t) => {
  const source = await newBucket({ versioned: true });
  const destination = await newBucket({ versioned: true });
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'tagged', Body: seededBytes(100, 11), Tagging: 'a=1' }));
  const remote = remoteOf(t, destination);
  const written = await replicateVersion(await sourceOf(source, 'tagged', undefined), remote, { signal: AbortSignal.timeout(30_000) });
  const versionId = written.versionId as string;
  t.same(await tagsOf(destination, 'tagged', versionId), { a: '1' });

  await replicateTags({ key: 'tagged', versionId, tags: { a: '2', b: 'x y' } }, remote, { signal: AbortSignal.timeout(30_000) });
  t.same(await tagsOf(destination, 'tagged', versionId), { a: '2', b: 'x y' }, 'a new tag set replaces the old');
  await replicateTags({ key: 'tagged', versionId, tags: {} }, remote, { signal: AbortSignal.timeout(30_000) });
  t.same(await tagsOf(destination, 'tagged', versionId), {}, 'an empty set removes the tags');
});

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { t } from 'tap';
import {
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import { formatVersionId, silentLogger } from '../../../src/common/index.js';
import { Gateway, RemoteError, RemoteS3, type RemoteS3Target } from '../../../src/gateway/index.js';
import { bucketName, collect, md5Hex, seededBytes } from '../../helpers/bytes.js';
import { startCluster, TEST_CREDENTIALS } from '../../helpers/cluster.js';

/**
 * The replication client against a real Tessera (a gateway and six nodes on loopback): every operation
 * signed with the gateway's own SigV4 code and accepted, bodies streamed with their exact lengths, and
 * failures told apart into those worth another try (no answer, a stall) and those that are not.
 */

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024 });
t.teardown(() => cluster.close());
const s3 = cluster.client();

const MiB = 1024 * 1024;

async function newBucket(options: { versioned?: boolean } = {}): Promise<string> {
  const bucket = bucketName('repl');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  if (options.versioned === true) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

function targetOf(bucket: string, credentials: { accessKeyId: string; secretAccessKey: string } = TEST_CREDENTIALS, endpoint = cluster.endpoint): RemoteS3Target {
  return { endpoint, bucket, region: 'us-east-1', accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
}

function remoteOf(t: { teardown(fn: () => unknown): void }, target: RemoteS3Target, options: ConstructorParameters<typeof RemoteS3>[1] = {}): RemoteS3 {
  const remote = new RemoteS3(target, options);
  t.teardown(() => remote.close());
  return remote;
}

/** `bytes` as a stream of chunks of `chunkBytes`. */
async function* chunksOf(bytes: Buffer, chunkBytes = 16 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) yield bytes.subarray(offset, offset + chunkBytes);
}

function body(bytes: Buffer): { chunks: AsyncIterable<Uint8Array>; sizeBytes: number } {
  return { chunks: chunksOf(bytes), sizeBytes: bytes.length };
}

/** The RemoteError `work` fails with (the test fails if it succeeds or fails otherwise). */
async function remoteFailure(work: Promise<unknown>): Promise<RemoteError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof RemoteError) return err;
    throw err;
  }
  throw new Error('expected a RemoteError, the call succeeded');
}

async function noObject(bucket: string, key: string): Promise<boolean> {
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return (versions.Versions ?? []).length === 0 && (versions.DeleteMarkers ?? []).length === 0;
}

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

t.test('a streamed PutObject is signed as Tessera checks it, and its headers arrive with it', async (t) => {
  const bucket = await newBucket();
  const remote = remoteOf(t, targetOf(bucket));
  const key = 'dir/a b+c%ü~=&.txt';
  const bytes = seededBytes(300 * 1024 + 7, 1);
  const written = await remote.putObject(key, body(bytes), {
    signal: AbortSignal.timeout(30_000),
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'cache-control': 'max-age=60',
      'x-amz-meta-colour': '  two  spaces ',
      'x-amz-tagging': 'team=blue%20green&empty=',
      'x-tessera-replica': 'true',
      'x-tessera-replica-version-id': formatVersionId(Date.now(), 0, 'c0ffee00'),
    },
  });
  t.equal(written.etag, `"${md5Hex(bytes)}"`, 'the answer carries the ETag of the bytes sent');

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(bytes), 'the stored bytes are the bytes streamed');
  t.equal(got.ContentType, 'text/plain; charset=utf-8');
  t.equal(got.CacheControl, 'max-age=60');
  t.equal(got.Metadata?.['colour'], 'two  spaces', 'metadata arrives, inner spaces and all, though its signature folds them');
  const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  t.same(Object.fromEntries((tags.TagSet ?? []).map((tag) => [tag.Key, tag.Value])), { team: 'blue green', empty: '' }, 'x-amz-tagging arrives');

  const head = await remote.headObject(key, { signal: AbortSignal.timeout(30_000) });
  t.equal(head?.etag, written.etag, 'HeadObject answers the same ETag');
  t.equal(head?.sizeBytes, bytes.length);
  t.equal(head?.headers['x-amz-meta-colour'], 'two  spaces');
  t.equal(await remote.headObject('no/such/key', { signal: AbortSignal.timeout(30_000) }), undefined, 'HeadObject of a missing key is undefined');
});

t.test('a multipart upload by parts completes with the ETag of the same parts uploaded by an SDK', async (t) => {
  const bucket = await newBucket();
  const remote = remoteOf(t, targetOf(bucket));
  const parts = [seededBytes(5 * MiB, 2), seededBytes(MiB + 13, 3)];
  const call = { signal: AbortSignal.timeout(60_000) };
  const uploadId = await remote.createMultipartUpload('big', { ...call, headers: { 'x-amz-meta-origin': 'remote', 'x-tessera-replica': 'true' } });
  const etags: string[] = [];
  for (const [index, part] of parts.entries()) etags.push(await remote.uploadPart('big', uploadId, index + 1, body(part), call));
  t.same(etags, parts.map((part) => `"${md5Hex(part)}"`), 'each part answers the MD5 of its bytes');
  const done = await remote.completeMultipartUpload('big', uploadId, etags.map((etag, index) => ({ partNumber: index + 1, etag })), call);
  const expected = md5Hex(Buffer.concat(parts.map((part) => Buffer.from(md5Hex(part), 'hex'))));
  t.equal(done.etag, `"${expected}-2"`, "the ETag is S3's multipart ETag of these parts");

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big' }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(Buffer.concat(parts)));
  t.equal(got.Metadata?.['origin'], 'remote', "CreateMultipartUpload's headers reach the object");

  const aborted = await remote.createMultipartUpload('dropped', call);
  await remote.uploadPart('dropped', aborted, 1, body(seededBytes(1000, 4)), call);
  await remote.abortMultipartUpload('dropped', aborted, call);
  await remote.abortMultipartUpload('dropped', aborted, call);
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  t.same((uploads.Uploads ?? []).map((upload) => upload.Key), [], 'an aborted upload is gone, and aborting it again is no error');
});

t.test('DeleteObject, tagging and HeadObject name one version by its id', async (t) => {
  const bucket = await newBucket({ versioned: true });
  const remote = remoteOf(t, targetOf(bucket));
  const call = { signal: AbortSignal.timeout(30_000) };
  const first = await remote.putObject('k', body(seededBytes(100, 5)), call);
  const second = await remote.putObject('k', body(seededBytes(200, 6)), call);
  t.ok(first.versionId !== undefined && second.versionId !== undefined && first.versionId !== second.versionId, 'each write answers its own version id');

  await remote.putObjectTagging('k', { state: 'old' }, { ...call, versionId: first.versionId as string, headers: { 'x-tessera-replica': 'true' } });
  const tagged = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k', VersionId: first.versionId as string }));
  t.same(tagged.TagSet, [{ Key: 'state', Value: 'old' }], 'the named version is tagged');
  const current = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }));
  t.same(current.TagSet ?? [], [], 'the current version is not');
  await remote.deleteObjectTagging('k', { ...call, versionId: first.versionId as string });
  const untagged = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k', VersionId: first.versionId as string }));
  t.same(untagged.TagSet ?? [], [], 'DeleteObjectTagging empties it');

  t.equal((await remote.headObject('k', { ...call, versionId: first.versionId as string }))?.sizeBytes, 100, 'HeadObject of the older version');
  const removed = await remote.deleteObject('k', { ...call, versionId: first.versionId as string });
  t.equal(removed.versionId, first.versionId, 'DeleteObject of a version answers its id');
  t.equal(await remote.headObject('k', { ...call, versionId: first.versionId as string }), undefined, 'that version is gone');

  // A marker's own id: a Tessera destination answers an id it already holds without writing anything.
  const markerId = formatVersionId(Date.now(), 0, 'c0ffee01');
  const marker = await remote.deleteObject('k', { ...call, headers: { 'x-tessera-replica': 'true', 'x-tessera-replica-version-id': markerId } });
  t.equal(marker.deleteMarker, true, 'DeleteObject of the key writes a delete marker');
  t.equal(await remote.headObject('k', call), undefined, 'the key reads as missing');
  t.equal((await remote.headObject('k', { ...call, versionId: second.versionId as string }))?.sizeBytes, 200, 'the older version stays');
});

t.test('a wrong secret or an unknown key fails for good, and the secret appears nowhere', async (t) => {
  const bucket = await newBucket();
  const secret = 'not-the-secret-0123456789';
  const remote = remoteOf(t, targetOf(bucket, { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: secret }));
  const failure = await remoteFailure(remote.putObject('k', body(seededBytes(100, 7)), { signal: AbortSignal.timeout(30_000) }));
  t.equal(failure.status, 403);
  t.equal(failure.code, 'SignatureDoesNotMatch');
  t.equal(failure.retryable, false, 'a refused signature is not worth another try');
  t.notOk(`${failure.message} ${JSON.stringify(failure)} ${JSON.stringify(remote)}`.includes(secret), 'neither the error nor the client shows the secret');

  const stranger = remoteOf(t, targetOf(bucket, { accessKeyId: 'no-such-key', secretAccessKey: secret }));
  const unknown = await remoteFailure(stranger.deleteObject('k', { signal: AbortSignal.timeout(30_000) }));
  t.match(unknown, { status: 403, code: 'InvalidAccessKeyId', retryable: false });
  const headed = await remoteFailure(stranger.headObject('k', { signal: AbortSignal.timeout(30_000) }));
  t.match(headed, { status: 403, retryable: false }, 'a HEAD refused without a body is as permanent');
  t.ok(await noObject(bucket, 'k'), 'nothing was written');

  const missing = await remoteFailure(remoteOf(t, targetOf(bucketName('missing'))).putObject('k', body(seededBytes(10, 8)), { signal: AbortSignal.timeout(30_000) }));
  t.match(missing, { status: 404, code: 'NoSuchBucket', retryable: false });
});

t.test('a stopped endpoint and a stalled one are worth another try', async (t) => {
  const stopped = new Gateway({ config: cluster.config, logger: silentLogger() });
  await stopped.start();
  const port = stopped.address.port;
  await stopped.close();
  const toStopped = remoteOf(t, targetOf('bucket', TEST_CREDENTIALS, `http://127.0.0.1:${port}`));
  const refused = await remoteFailure(toStopped.putObject('k', body(seededBytes(100, 9)), { signal: AbortSignal.timeout(30_000) }));
  t.match(refused, { status: 0, code: 'NetworkError', retryable: true });

  // A store that takes the request and never answers.
  const silent = createServer(() => undefined);
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const silentPort = await listening(silent);
  const toSilent = remoteOf(t, targetOf('bucket', TEST_CREDENTIALS, `http://127.0.0.1:${silentPort}`), { timeoutMs: 300 });
  const stalled = await remoteFailure(toSilent.headObject('k', { signal: AbortSignal.timeout(30_000) }));
  t.match(stalled, { status: 0, code: 'Timeout', retryable: true }, 'no answer within the timeout');
});

t.test('an error answer is read only up to its bound, and statuses decide what is retryable', async (t) => {
  const padding = 'x'.repeat(4 * MiB);
  const answers: Record<string, [number, string]> = {
    '/b/huge': [400, `<Error><Code>InvalidArgument</Code><Message>${padding}</Message></Error>`],
    '/b/slow': [503, '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'],
    '/b/throttled': [429, ''],
    '/b/late': [200, '<?xml version="1.0"?><Error><Code>InternalError</Code><Message>late</Message></Error>'],
  };
  const store = createServer((req, res) => {
    const [status, text] = answers[(req.url ?? '').split('?')[0] ?? ''] ?? [500, ''];
    req.resume();
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(text);
  });
  t.teardown(() => {
    store.closeAllConnections();
    store.close();
  });
  const remote = remoteOf(t, targetOf('b', TEST_CREDENTIALS, `http://127.0.0.1:${await listening(store)}`));
  const call = { signal: AbortSignal.timeout(30_000) };
  const huge = await remoteFailure(remote.deleteObject('huge', call));
  t.match(huge, { status: 400, code: 'BadRequest', retryable: false }, 'a document cut at the bound is no document: the status names the error');
  t.ok(huge.message.length < 1024, 'the message holds none of the padding');
  t.match(await remoteFailure(remote.deleteObject('slow', call)), { status: 503, code: 'SlowDown', retryable: true });
  t.match(await remoteFailure(remote.deleteObject('throttled', call)), { status: 429, retryable: true });
  const late = await remoteFailure(remote.completeMultipartUpload('late', 'u', [{ partNumber: 1, etag: '"e"' }], call));
  t.match(late, { status: 200, code: 'InternalError', retryable: true }, 'a 200 carrying an error is that error');
});

t.test('a body cut off by an abort, or longer or shorter than declared, leaves no object', async (t) => {
  const bucket = await newBucket({ versioned: true });
  const remote = remoteOf(t, targetOf(bucket));

  const controller = new AbortController();
  let firstSent!: () => void;
  const firstChunkSent = new Promise<void>((resolve) => (firstSent = resolve));
  async function* stopping(): AsyncGenerator<Uint8Array> {
    yield seededBytes(64 * 1024, 10);
    firstSent();
    // A source follows the signal it was given.
    await once(controller.signal, 'abort').catch(() => undefined);
    throw new Error('source stopped');
  }
  const upload = remoteFailure(remote.putObject('aborted', { chunks: stopping(), sizeBytes: MiB }, { signal: controller.signal }));
  await firstChunkSent;
  controller.abort();
  t.match(await upload, { status: 0, code: 'Aborted', retryable: true });
  t.ok(await noObject(bucket, 'aborted'), 'an aborted upload stores nothing');

  async function* pieces(sizes: number[]): AsyncGenerator<Uint8Array> {
    for (const [index, sizeBytes] of sizes.entries()) yield seededBytes(sizeBytes, 20 + index);
  }
  const longer = await remoteFailure(remote.putObject('longer', { chunks: pieces([600, 900]), sizeBytes: 1000 }, { signal: AbortSignal.timeout(30_000) }));
  t.match(longer, { status: 0, code: 'BodyLengthMismatch', retryable: false });
  const shorter = await remoteFailure(remote.putObject('shorter', { chunks: pieces([300, 200]), sizeBytes: 1000 }, { signal: AbortSignal.timeout(30_000) }));
  t.match(shorter, { status: 0, code: 'BodyLengthMismatch', retryable: false });
  t.ok((await noObject(bucket, 'longer')) && (await noObject(bucket, 'shorter')), 'neither wrong length stores anything');

  const done = await remote.putObject('after', body(seededBytes(100, 30)), { signal: AbortSignal.timeout(30_000) });
  t.equal(done.etag, `"${md5Hex(seededBytes(100, 30))}"`, 'the client works on after its failed uploads');
});

import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { authenticate, createBodyDecoder, type AuthRequest, type AuthResult } from '../../src/gateway/auth/index.js';
import { ByteBudget } from '../../src/gateway/http/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { bucketOn, startCluster, TEST_CREDENTIALS, type TestCluster } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';
import { codeOf, credentials, DOC_ACCESS_KEY, DOC_DATE, DOC_NOW, DOC_SECRET, frameChunked, signingKey, type ChunkSigning } from '../gateway/auth/helpers.js';
import { signRaw } from '../gateway/raw-s3.js';

const KiB = 1024;
/** The gateway's byte budget in these tests: room for two signed chunks of CHUNK_BYTES, not three. */
const BUDGET_BYTES = 1024 * KiB;
const CHUNK_BYTES = 512 * KiB;
const OBJECT_BYTES = 2 * CHUNK_BYTES + 3 * KiB;

/** A signed aws-chunked PUT (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) as one request head and its framed body. */
async function signedChunkedPut(endpoint: string, bucket: string, key: string, data: Buffer): Promise<{ head: string; body: Buffer; firstChunkEnd: number }> {
  const placeholder = { key: Buffer.alloc(32), amzDate: '', scope: '', seed: '' };
  const framedBytes = frameChunked(data, { chunkSizes: [CHUNK_BYTES], signing: placeholder }).length;
  const signed = await signRaw(endpoint, {
    method: 'PUT',
    bucket,
    key,
    headers: {
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'content-length': String(framedBytes),
    },
  });
  const amzDate = signed.headers['x-amz-date'] ?? '';
  const seed = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization ?? '')?.[1] ?? '';
  const signing: ChunkSigning = {
    key: signingKey(TEST_CREDENTIALS.secretAccessKey, amzDate.slice(0, 8), 'us-east-1'),
    amzDate,
    scope: `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`,
    seed,
  };
  const body = frameChunked(data, { chunkSizes: [CHUNK_BYTES], signing });
  const head = `PUT ${signed.pathAndQuery} HTTP/1.1\r\n${Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  // The first chunk's header line, then its data: the chunk ends (unverified until then) at this offset.
  const firstChunkEnd = body.indexOf('\r\n') + 2 + CHUNK_BYTES;
  return { head, body, firstChunkEnd };
}

/** An upload on a raw connection, sent in two steps: `start` stops one byte short of the first chunk's end. */
interface RawUpload {
  socket: Socket;
  /** The status line of the answer, or '' when the connection closed without one. */
  answered: Promise<string>;
  start(): void;
  finish(): void;
}

async function rawUpload(cluster: TestCluster, bucket: string, key: string, data: Buffer): Promise<RawUpload> {
  const { head, body, firstChunkEnd } = await signedChunkedPut(cluster.endpoint, bucket, key, data);
  const url = new URL(cluster.endpoint);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  const answered = new Promise<string>((resolve) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1').split('\r\n')[0] ?? ''));
    socket.once('close', () => resolve(''));
  });
  return {
    socket,
    answered,
    start: () => void socket.write(Buffer.concat([Buffer.from(head), body.subarray(0, firstChunkEnd - 1)])),
    finish: () => void socket.write(body.subarray(firstChunkEnd - 1)),
  };
}

async function objectBytes(cluster: TestCluster, bucket: string, key: string): Promise<Buffer> {
  const got = await cluster.client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

// The three upload cases share one gateway with the small budget, each in a bucket of its own; each
// waits until the budget is given back before it ends or before it fills the budget again.
const budgeted = await startCluster({ nodeHealing: false, gatewayOverrides: { maxBufferedBodyBytes: BUDGET_BYTES } });
t.teardown(() => budgeted.close());

t.test('signed chunks awaiting their signature count against the byte budget: past its cap uploads wait, and all complete byte-identical', async (t) => {
  const { cluster, bucket } = await bucketOn(budgeted);
  const data = [1, 2, 3].map((seed) => seededBytes(OBJECT_BYTES, seed));
  const uploads = await Promise.all(data.map((bytes, i) => rawUpload(cluster, bucket, `held-${i}`, bytes)));
  t.teardown(() => uploads.forEach((upload) => upload.socket.destroy()));
  for (const upload of uploads) upload.start();
  // Two first chunks fill the budget; the third waits for room before it buffers anything.
  await until('two held chunks fill the budget', async () => cluster.gateway.requests.bufferedBodyBytes === BUDGET_BYTES, 15_000, 20);
  t.equal(cluster.gateway.requests.bufferedBodyBytes, BUDGET_BYTES, 'the chunks held for verification are counted');
  for (const upload of uploads) upload.finish();
  t.same(await Promise.all(uploads.map((upload) => upload.answered)), ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'], 'the waiting upload went on once room was given back');
  for (const [i, bytes] of data.entries()) t.ok((await objectBytes(cluster, bucket, `held-${i}`)).equals(bytes), `object ${i} is byte-identical`);
  await until('the budget is given back', async () => cluster.gateway.requests.bufferedBodyBytes === 0, 15_000, 20);
  t.ok(cluster.gateway.requests.bufferedBodyPeakBytes <= BUDGET_BYTES, `the budget never held more than its cap (${cluster.gateway.requests.bufferedBodyPeakBytes})`);
});

t.test('budget held by uploads their clients abandon comes back, mid-chunk and while waiting', async (t) => {
  const { cluster, bucket } = await bucketOn(budgeted);
  const uploads = await Promise.all([1, 2, 3].map((seed) => rawUpload(cluster, bucket, `gone-${seed}`, seededBytes(OBJECT_BYTES, seed))));
  t.teardown(() => uploads.forEach((upload) => upload.socket.destroy()));
  for (const upload of uploads) upload.start();
  await until('two held chunks fill the budget', async () => cluster.gateway.requests.bufferedBodyBytes === BUDGET_BYTES, 15_000, 20);
  for (const upload of uploads) upload.socket.destroy();
  await until('the budget is given back', async () => cluster.gateway.requests.bufferedBodyBytes === 0, 15_000, 20);
  // Nothing is left queued either: a full-size upload gets the whole budget at once.
  const after = seededBytes(OBJECT_BYTES, 9);
  const upload = await rawUpload(cluster, bucket, 'after', after);
  t.teardown(() => upload.socket.destroy());
  upload.start();
  upload.finish();
  t.equal(await upload.answered, 'HTTP/1.1 200 OK');
  t.ok((await objectBytes(cluster, bucket, 'after')).equals(after));
  t.ok(cluster.gateway.requests.bufferedBodyPeakBytes <= BUDGET_BYTES);
});

t.test('AWS SDK uploads (signed payload and streamed aws-chunked) still store their bytes exactly under a small budget', async (t) => {
  const { cluster, s3, bucket } = await bucketOn(budgeted);
  const whole = seededBytes(3 * BUDGET_BYTES + 17, 4);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'whole', Body: whole }));
  const streamed = seededBytes(3 * BUDGET_BYTES + 29, 5);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: Readable.from([streamed.subarray(0, 1000), streamed.subarray(1000)]), ContentLength: streamed.length }));
  t.ok((await objectBytes(cluster, bucket, 'whole')).equals(whole));
  t.ok((await objectBytes(cluster, bucket, 'streamed')).equals(streamed));
  await until('the budget is given back', async () => cluster.gateway.requests.bufferedBodyBytes === 0, 15_000, 20);
});

// The decoder on its own, against a budget the test holds: waiting, the deadline, and giving back.

const DOC_SCOPE = '20130524/us-east-1/s3/aws4_request';

function docAuth(): AuthResult {
  const request: AuthRequest = {
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    rawQuery: '',
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': DOC_DATE,
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-length': '66824',
      authorization: `AWS4-HMAC-SHA256 Credential=${DOC_ACCESS_KEY}/${DOC_SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`,
    },
  };
  return { ...authenticate(request, credentials, { nowMs: DOC_NOW }), decodedContentLength: undefined };
}

function signedBody(auth: AuthResult, data: Buffer, chunkBytes: number): Buffer {
  const signing: ChunkSigning = { key: signingKey(DOC_SECRET, '20130524', 'us-east-1'), amzDate: DOC_DATE, scope: DOC_SCOPE, seed: auth.signature };
  return frameChunked(data, { chunkSizes: [chunkBytes], signing });
}

/** Feeds `body` to a decoder bound to `budget`; its output and outcome once it ends or fails. */
function decodeWith(budget: ByteBudget, auth: AuthResult, body: Buffer): { done: Promise<{ output: Buffer; error: unknown }>; destroy: () => void } {
  const decoder = createBodyDecoder(auth, {}, { budget });
  const out: Buffer[] = [];
  decoder.on('data', (piece: Buffer) => out.push(piece));
  const done = new Promise<{ output: Buffer; error: unknown }>((resolve) => {
    decoder.on('end', () => resolve({ output: Buffer.concat(out), error: undefined }));
    decoder.on('error', (error) => resolve({ output: Buffer.concat(out), error }));
    decoder.on('close', () => resolve({ output: Buffer.concat(out), error: 'closed' }));
  });
  decoder.end(body);
  return { done, destroy: () => decoder.destroy() };
}

t.test('a decoder waits for budget held elsewhere and goes on once it is given back', async (t) => {
  const budget = new ByteBudget(64 * KiB, { maxWaitMs: 60_000 });
  const auth = docAuth();
  const data = seededBytes(100 * KiB, 6);
  budget.take(64 * KiB);
  const decoding = decodeWith(budget, auth, signedBody(auth, data, 32 * KiB));
  await until('the decoder waits in line', async () => budget.waiting === 1, 5_000, 5);
  budget.give(64 * KiB);
  const { output, error } = await decoding.done;
  t.equal(error, undefined);
  t.ok(output.equals(data));
  await until('the decoder gave back what it held', async () => budget.used === 0, 5_000, 5);
  t.ok(budget.peak <= 64 * KiB);
});

t.test('a decoder that cannot get budget before the deadline fails with SlowDown and holds nothing', async (t) => {
  const budget = new ByteBudget(64 * KiB, { maxWaitMs: 50 });
  const auth = docAuth();
  budget.take(48 * KiB);
  const { error } = await decodeWith(budget, auth, signedBody(auth, seededBytes(100 * KiB, 7), 32 * KiB)).done;
  t.equal(codeOf(error), 'SlowDown');
  t.equal(budget.used, 48 * KiB, 'only what the test took is held');
  t.equal(budget.waiting, 0);
});

t.test('a decoder destroyed while it waits leaves the line, and what is given back goes to no one', async (t) => {
  const budget = new ByteBudget(64 * KiB, { maxWaitMs: 60_000 });
  const auth = docAuth();
  budget.take(64 * KiB);
  const decoding = decodeWith(budget, auth, signedBody(auth, seededBytes(100 * KiB, 8), 32 * KiB));
  await until('the decoder waits in line', async () => budget.waiting === 1, 5_000, 5);
  decoding.destroy();
  await decoding.done;
  t.equal(budget.waiting, 0);
  budget.give(64 * KiB);
  t.equal(budget.used, 0);
});

t.test('a signed chunk larger than the whole budget is refused at its header, not left waiting', async (t) => {
  const budget = new ByteBudget(64 * KiB, { maxWaitMs: 60_000 });
  const auth = docAuth();
  const { error } = await decodeWith(budget, auth, signedBody(auth, seededBytes(100 * KiB, 9), 80 * KiB)).done;
  t.equal(codeOf(error), 'InvalidRequest');
  t.equal(budget.used, 0);
});

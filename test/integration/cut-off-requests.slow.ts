import { connect } from 'node:net';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { bucketName, seededBytes } from '../helpers/bytes.js';
import { localS3Client, statusOf, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { slowCluster } from '../helpers/slow-link.js';
import { until } from '../helpers/until.js';
import { completeXml, signRaw } from '../gateway/raw-s3.js';

/**
 * Requests whose client resets the connection once the whole request is sent, while the gateway is
 * still at work on it: what was committed is seen through, and what was not leaves nothing behind
 * that holds later requests back. The nodes answer through relays that delay every answer, so each
 * step of a request takes long enough for the reset to land between steps.
 */
const NODE_DELAY_MS = 150;
const { links, endpoint } = await slowCluster(t, 5_000);
const s3 = localS3Client(endpoint, TEST_CREDENTIALS, { maxAttempts: 1 });
t.teardown(() => s3.destroy());
const bucket = bucketName('cut');
await s3.send(new CreateBucketCommand({ Bucket: bucket }));
for (const link of links) link.delayMs = NODE_DELAY_MS;

/** Sends a signed request on its own connection and resets it `afterMs` after the last byte went out. */
async function sendAndReset(request: Parameters<typeof signRaw>[1], afterMs: number): Promise<void> {
  const { pathAndQuery, headers } = await signRaw(endpoint, request);
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body);
  const head = [`${request.method} ${pathAndQuery} HTTP/1.1`, ...Object.entries({ ...headers, 'content-length': String(body.length) }).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  const { port } = new URL(endpoint);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  await new Promise<void>((resolve) => socket.write(Buffer.concat([Buffer.from(head), body]), () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  socket.resetAndDestroy();
}

t.test('a small PUT cut off once sent holds back no conditional write of its key', async (t) => {
  for (let i = 0; i < 4; i += 1) {
    const key = `small-${i}`;
    await sendAndReset({ method: 'PUT', bucket, key, body: 'cut off' }, i * 20);
    // The conditional create either finds the cut-off PUT committed (412) or creates the key; it must not
    // wait out a lease that PUT left on the nodes (SlowDown after 20 s).
    const status = await statusOf(s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'conditional', IfNoneMatch: '*' })));
    t.ok(status === 200 || status === 412, `${key}: the conditional create answered ${status}`);
  }
});

t.test('a CompleteMultipartUpload cut off at any point leaves the object and the upload agreeing: both done, or neither', async (t) => {
  for (let i = 0; i < 8; i += 1) {
    const key = `completed-${i}`;
    const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = seededBytes(100, i);
    const { ETag = '' } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: part }));
    // Reset at points spread over the completion's steps (lease, lookups, manifest, closing marker).
    await sendAndReset({ method: 'POST', bucket, key, query: { uploadId: UploadId }, body: completeXml([{ PartNumber: 1, ETag }]) }, i * 2 * NODE_DELAY_MS);
    const state = async (): Promise<{ visible: boolean; listed: boolean }> => {
      const visible = (await statusOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))) === 200;
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
      return { visible, listed: (uploads.Uploads ?? []).some((u) => u.UploadId === UploadId) };
    };
    // Between its two commits a completion shows both for a moment; once it has stopped, one or the other.
    await until(`${key}: the object and the upload agree`, async () => {
      const { visible, listed } = await state();
      return visible !== listed;
    }, 30_000);
    t.pass(`${key}: ${JSON.stringify(await state())}`);
  }
});

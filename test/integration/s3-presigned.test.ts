import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { request } from 'undici';
import { collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { xmlField } from '../gateway/raw-s3.js';

const MiB = 1024 * 1024;
const { s3, bucket } = await clusterWithBucket(t);

/** A plain HTTP request, as a browser or curl would send a presigned URL: no SDK, no signing. */
async function plain(url: string, method: 'GET' | 'PUT', body?: Buffer): Promise<{ status: number; body: Buffer; etag: string | undefined }> {
  const response = await request(url, { method, body: body ?? null });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const etag = response.headers['etag'];
  return { status: response.statusCode, body: bytes, etag: typeof etag === 'string' ? etag : undefined };
}

async function read(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

t.test('a presigned GET URL reads the object with a plain HTTP request', async (t) => {
  const body = seededBytes(200_000, 1);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/pre signed+get.bin', Body: body }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'dir/pre signed+get.bin' }), { expiresIn: 3600 });
  const got = await plain(url, 'GET');
  t.equal(got.status, 200);
  t.ok(got.body.equals(body));
  const overridden = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'dir/pre signed+get.bin', ResponseContentDisposition: 'attachment' }));
  const response = await request(overridden);
  await response.body.arrayBuffer();
  t.equal(response.headers['content-disposition'], 'attachment', 'signed response-* overrides apply');
});

t.test('a presigned PUT URL stores the body sent with a plain HTTP request', async (t) => {
  const body = seededBytes(300_001, 2);
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'uploaded', ContentType: 'application/x-presigned' }), { expiresIn: 600 });
  const put = await request(url, { method: 'PUT', body, headers: { 'content-type': 'application/x-presigned' } });
  await put.body.text();
  t.equal(put.statusCode, 200);
  t.equal(put.headers['etag'], `"${md5Hex(body)}"`);
  t.ok((await read('uploaded')).equals(body));
});

t.test('presigned UploadPart URLs (MLflow\'s proxied multipart) upload parts with plain HTTP', async (t) => {
  const parts = [seededBytes(5 * MiB, 3), seededBytes(1234, 4)];
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'parts' }));
  const etags: string[] = [];
  for (const [i, body] of parts.entries()) {
    const url = await getSignedUrl(s3, new UploadPartCommand({ Bucket: bucket, Key: 'parts', UploadId, PartNumber: i + 1 }), { expiresIn: 600 });
    const uploaded = await plain(url, 'PUT', body);
    t.equal(uploaded.status, 200, `part ${i + 1}`);
    t.equal(uploaded.etag, `"${md5Hex(body)}"`);
    etags.push(uploaded.etag ?? '');
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'parts', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
  t.ok((await read('parts')).equals(Buffer.concat(parts)));
});

t.test('an expired or tampered presigned URL is 403 and changes nothing', async (t) => {
  const expired = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'uploaded' }), { expiresIn: 60, signingDate: new Date(Date.now() - 3_600_000) });
  const late = await plain(expired, 'PUT', Buffer.from('late'));
  t.equal(late.status, 403);
  t.equal(xmlField(late.body.toString(), 'Code'), 'AccessDenied');
  const url = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'uploaded' })));
  url.searchParams.set('X-Amz-Signature', '0'.repeat(64));
  const tampered = await plain(url.toString(), 'PUT', Buffer.from('tampered'));
  t.equal(tampered.status, 403);
  t.equal(xmlField(tampered.body.toString(), 'Code'), 'SignatureDoesNotMatch');
  const otherKey = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'uploaded' })));
  otherKey.pathname = otherKey.pathname.replace('uploaded', 'parts');
  t.equal((await plain(otherKey.toString(), 'GET')).status, 403, 'a URL signed for one key does not open another');
  t.equal((await read('uploaded')).length, 300_001, 'refused uploads stored nothing');
});

t.test('a presigned URL valid for the 7-day maximum works (longer ones: test/gateway/auth)', async (t) => {
  const week = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'uploaded' }), { expiresIn: 7 * 24 * 3600 });
  t.equal((await plain(week, 'GET')).status, 200);
});

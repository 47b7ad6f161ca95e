import { request as httpRequest } from 'node:http';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { bucketName, collect } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { rawS3, sdkError, signRaw, xmlField } from '../gateway/raw-s3.js';

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024 });
t.teardown(() => cluster.close());
const s3 = cluster.client();
const bucket = bucketName();
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

async function bodyOf(key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await collect(got.Body as AsyncIterable<Uint8Array>)).toString();
}

const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'conditional' }));
const etag = put.ETag ?? '';
const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cond' }));
const modified = head.LastModified ?? new Date();
const before = new Date(modified.getTime() - 60_000).toUTCString();
const after = new Date(modified.getTime() + 60_000).toUTCString();

t.test('GET and HEAD answer 412 for If-Match / If-Unmodified-Since and 304 for If-None-Match / If-Modified-Since', async (t) => {
  for (const method of ['GET', 'HEAD']) {
    const cases: [Record<string, string>, number][] = [
      [{ 'if-match': etag }, 200],
      [{ 'if-match': '"0123"' }, 412],
      [{ 'if-match': '*' }, 200],
      [{ 'if-none-match': etag }, 304],
      [{ 'if-none-match': '"0123"' }, 200],
      [{ 'if-modified-since': after }, 304],
      [{ 'if-modified-since': before }, 200],
      [{ 'if-unmodified-since': before }, 412],
      [{ 'if-unmodified-since': after }, 200],
      [{ 'if-modified-since': 'not a date' }, 200],
    ];
    for (const [headers, status] of cases) {
      const response = await rawS3(cluster.endpoint, { method, bucket, key: 'cond', headers });
      t.equal(response.status, status, `${method} ${JSON.stringify(headers)}`);
      if (status === 412 && method === 'GET') t.equal(xmlField(response.body, 'Code'), 'PreconditionFailed');
    }
  }
});

t.test('S3 precedence: If-Match true beats If-Unmodified-Since false; If-None-Match false beats If-Modified-Since true', async (t) => {
  const matchWins = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'cond', headers: { 'if-match': etag, 'if-unmodified-since': before } });
  t.equal(matchWins.status, 200, 'If-Match true with If-Unmodified-Since false is 200 with the data');
  t.equal(matchWins.body, 'conditional');
  const noneMatchWins = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'cond', headers: { 'if-none-match': etag, 'if-modified-since': before } });
  t.equal(noneMatchWins.status, 304, 'If-None-Match false with If-Modified-Since true is 304');
  const noneMatchTrue = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'cond', headers: { 'if-none-match': '"other"', 'if-modified-since': after } });
  t.equal(noneMatchTrue.status, 200, 'If-None-Match true overrides an If-Modified-Since that would be 304');
  const both = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'cond', headers: { 'if-match': '"other"', 'if-none-match': etag } });
  t.equal(both.status, 412, 'a failed If-Match is 412 even when If-None-Match would be 304');
});

t.test('a 304 carries the ETag and Last-Modified and no body', async (t) => {
  const response = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'cond', headers: { 'if-none-match': etag } });
  t.equal(response.status, 304);
  t.equal(response.headers['etag'], etag);
  t.equal(response.headers['last-modified'], modified.toUTCString());
  t.equal(response.body, '');
  t.ok(response.headers['x-amz-request-id'], 'request id on a 304');
});

t.test('a 304 also carries the Cache-Control and Expires a 200 would, as RFC 9110 asks of it', async (t) => {
  const expires = new Date(Date.UTC(2035, 0, 1)).toUTCString();
  const cached = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cached', Body: 'c', CacheControl: 'max-age=60', Expires: new Date(expires) }));
  for (const method of ['GET', 'HEAD']) {
    const response = await rawS3(cluster.endpoint, { method, bucket, key: 'cached', headers: { 'if-none-match': cached.ETag ?? '' } });
    t.equal(response.status, 304, method);
    t.equal(response.headers['cache-control'], 'max-age=60', `${method} Cache-Control`);
    t.equal(response.headers['expires'], expires, `${method} Expires`);
    t.equal(response.headers['x-amz-version-id'], undefined, 'no version id for an object written outside versioning');
  }
});

t.test('condition dates are HTTP-dates in their three forms, read as GMT; anything else is ignored', async (t) => {
  // Three spellings of one instant a minute after the object was written (so If-Modified-Since is 304).
  const later = new Date(modified.getTime() + 60_000);
  const weekday = later.toUTCString().slice(0, 3);
  const longDay = { Sun: 'Sunday', Mon: 'Monday', Tue: 'Tuesday', Wed: 'Wednesday', Thu: 'Thursday', Fri: 'Friday', Sat: 'Saturday' }[weekday] ?? '';
  const [, day = '', month = '', year = '', time = ''] = later.toUTCString().split(' ');
  const rfc850 = `${longDay}, ${day}-${month}-${year.slice(2)} ${time} GMT`;
  const asctime = `${weekday} ${month} ${String(Number(day)).padStart(2, ' ')} ${time} ${year}`;
  for (const date of [later.toUTCString(), rfc850, asctime, later.toUTCString().replace('GMT', '+0000')]) {
    const response = await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'cond', headers: { 'if-modified-since': date } });
    t.equal(response.status, 304, `If-Modified-Since ${JSON.stringify(date)}`);
  }
  // What Date.parse would take for a date, and is none: the condition is ignored, not evaluated.
  for (const notADate of ['0', '2030', '2030-01-01T00:00:00Z', 'Tue, 31 Feb 2026 00:00:00 GMT', 'Sun, 06 Nov 1994 08:49:37 +0100']) {
    const unmodified = await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'cond', headers: { 'if-unmodified-since': notADate } });
    t.equal(unmodified.status, 200, `If-Unmodified-Since ${JSON.stringify(notADate)} is ignored`);
    const modifiedSince = await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'cond', headers: { 'if-modified-since': notADate } });
    t.equal(modifiedSince.status, 200, `If-Modified-Since ${JSON.stringify(notADate)} is ignored`);
  }
});

t.test('a range past the end is 416 InvalidRange naming the range asked for, with Content-Range bytes */size', async (t) => {
  const response = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'cond', headers: { range: 'bytes=100-200' } });
  t.equal(response.status, 416);
  t.equal(xmlField(response.body, 'Code'), 'InvalidRange');
  t.equal(xmlField(response.body, 'RangeRequested'), 'bytes=100-200');
  t.equal(xmlField(response.body, 'ActualObjectSize'), String('conditional'.length));
  t.equal(response.headers['content-range'], `bytes */${'conditional'.length}`);
});

t.test('SDK conditional reads: IfMatch on a ranged read (fsspec) and a stale IfMatch refused', async (t) => {
  const ranged = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond', Range: 'bytes=0-3', IfMatch: etag }));
  t.equal((await collect(ranged.Body as AsyncIterable<Uint8Array>)).toString(), 'cond');
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond', IfMatch: '"stale"' }))), { name: 'PreconditionFailed', status: 412 });
  t.equal((await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cond', IfNoneMatch: etag })))).status, 304);
});

t.test('PutObject If-None-Match: * creates once, then 412 leaves the first object in place', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'exclusive', Body: 'first', IfNoneMatch: '*' }));
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'exclusive', Body: 'second', IfNoneMatch: '*' }))), {
    name: 'PreconditionFailed',
    status: 412,
  });
  t.equal(await bodyOf('exclusive'), 'first', 'the refused write stored nothing');
});

t.test('If-None-Match: * is checked again before the commit: a key created during the upload wins, and the upload gets 412', async (t) => {
  const size = 2 * 1024 * 1024;
  const { pathAndQuery, headers } = await signRaw(cluster.endpoint, {
    method: 'PUT',
    bucket,
    key: 'raced',
    headers: { 'if-none-match': '*', 'content-length': String(size), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', expect: '100-continue' },
  });
  const { port } = new URL(cluster.endpoint);
  const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const upload = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: pathAndQuery, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    upload.on('error', reject);
    // 100 Continue means the first check passed and the body is wanted: now another writer creates the key.
    upload.on('continue', () => {
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'raced', Body: 'the other writer' })).then(
        () => upload.end(Buffer.alloc(size, 7)),
        reject,
      );
    });
  });
  t.equal(response.status, 412);
  t.equal(xmlField(response.body, 'Code'), 'PreconditionFailed');
  t.equal(await bodyOf('raced'), 'the other writer', 'the object created meanwhile is kept');
});

t.test('PutObject If-Match replaces only the named version; a missing key is 404 NoSuchKey', async (t) => {
  const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas', Body: 'v1' }));
  const second = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas', Body: 'v2', IfMatch: first.ETag }));
  t.equal(await bodyOf('cas'), 'v2');
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas', Body: 'v3', IfMatch: first.ETag }))), { name: 'PreconditionFailed', status: 412 });
  t.equal(await bodyOf('cas'), 'v2', 'a stale If-Match stored nothing');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas', Body: 'v3', IfMatch: second.ETag }));
  t.equal(await bodyOf('cas'), 'v3');
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'never-written', Body: 'x', IfMatch: first.ETag }))), { name: 'NoSuchKey', status: 404 });
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'never-written' }))), { name: 'NotFound', status: 404 }, 'nothing created');
});

t.test('If-None-Match with an ETag, or with If-Match, is NotImplemented as in S3', async (t) => {
  const etagValue = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'nim', headers: { 'if-none-match': etag }, body: 'x' });
  t.equal(etagValue.status, 501);
  t.equal(xmlField(etagValue.body, 'Code'), 'NotImplemented');
  const both = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'nim', headers: { 'if-none-match': '*', 'if-match': etag }, body: 'x' });
  t.equal(both.status, 501);
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'nim' }))), { name: 'NotFound', status: 404 }, 'nothing created');
});

t.test('CompleteMultipartUpload honours If-None-Match: * and If-Match', async (t) => {
  let round = 0;
  const complete = async (key: string, conditions: { IfNoneMatch?: string; IfMatch?: string }): Promise<unknown> => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    round += 1;
    const Body = round === 1 ? `part of ${key}` : `part ${round} of ${key}`;
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body }));
    return s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] }, ...conditions }),
    );
  };
  await complete('mpu-exclusive', { IfNoneMatch: '*' });
  t.equal(await bodyOf('mpu-exclusive'), 'part of mpu-exclusive', 'created when absent');
  t.same(await sdkError(complete('mpu-exclusive', { IfNoneMatch: '*' })), { name: 'PreconditionFailed', status: 412 });
  t.same(await sdkError(complete('mpu-missing', { IfMatch: etag })), { name: 'NoSuchKey', status: 404 });
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mpu-missing' }))), { name: 'NotFound', status: 404 });
  const current = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mpu-exclusive' }));
  await complete('mpu-exclusive', { IfMatch: current.ETag ?? '' });
  t.same(await sdkError(complete('mpu-exclusive', { IfMatch: current.ETag ?? '' })), { name: 'PreconditionFailed', status: 412 }, 'the ETag changed');
});

t.test('Cache-Control, Content-Disposition, Content-Encoding, Content-Language and Expires round-trip', async (t) => {
  const expires = new Date('2030-01-02T03:04:05Z');
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: 'headers',
      Body: 'h',
      CacheControl: 'max-age=60',
      ContentDisposition: 'attachment; filename="a b.txt"',
      ContentEncoding: 'identity',
      ContentLanguage: 'de-CH',
      Expires: expires,
      ContentType: 'text/x-test',
    }),
  );
  for (const got of [
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'headers' })),
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'headers' })),
  ]) {
    t.equal(got.CacheControl, 'max-age=60');
    t.equal(got.ContentDisposition, 'attachment; filename="a b.txt"');
    t.equal(got.ContentEncoding, 'identity');
    t.equal(got.ContentLanguage, 'de-CH');
    t.equal(got.Expires?.getTime(), expires.getTime());
    t.equal(got.ContentType, 'text/x-test');
  }
});

t.test('response-* query parameters override the stored headers on GET and HEAD', async (t) => {
  const overrides = {
    ResponseContentType: 'application/x-override',
    ResponseContentLanguage: 'fr',
    ResponseExpires: new Date('2031-05-06T07:08:09Z'),
    ResponseCacheControl: 'no-store',
    ResponseContentDisposition: 'inline; filename="o.txt"',
    ResponseContentEncoding: 'gzip',
  };
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'headers', ...overrides }));
  await collect(got.Body as AsyncIterable<Uint8Array>);
  t.equal(got.ContentType, 'application/x-override');
  t.equal(got.ContentLanguage, 'fr');
  t.equal(got.Expires?.getTime(), overrides.ResponseExpires.getTime());
  t.equal(got.CacheControl, 'no-store');
  t.equal(got.ContentDisposition, 'inline; filename="o.txt"');
  t.equal(got.ContentEncoding, 'gzip');
  const headed = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'headers', ResponseContentType: 'text/html' }));
  t.equal(headed.ContentType, 'text/html');
  const stored = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'headers' }));
  t.equal(stored.ContentType, 'text/x-test', 'overrides change the response only');
});

t.test('versionId=null reads the current object; any other version id is NoSuchVersion', async (t) => {
  const response = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'cond', query: { versionId: 'null' } });
  t.equal(response.status, 200);
  t.equal(response.body, 'conditional');
  t.equal(response.headers['x-amz-version-id'], 'null');
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond', VersionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY' }))), { name: 'NoSuchVersion', status: 404 });
});

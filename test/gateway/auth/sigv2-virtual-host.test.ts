import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { t } from 'tap';
import { authenticate, type AuthRequest } from '../../../src/gateway/auth/index.js';
import { bucketName } from '../../helpers/bytes.js';
import { startCluster, TEST_CREDENTIALS } from '../../helpers/cluster.js';
import { DOC_ACCESS_KEY, codeOf, credentials } from './helpers.js';

/**
 * SigV2 (`Authorization: AWS key:signature`) on virtual-hosted-style requests: the bucket is in the
 * Host, and S3 signs it as the first segment of the canonical resource (`/bucket/key`, `/bucket/`).
 */

function failure(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return codeOf(err) ?? String(err);
  }
}

t.test('the SigV2 documentation examples (Host: johnsmith.s3.amazonaws.com) verify with the bucket from the Host', async (t) => {
  const at = (date: string) => Date.parse(date) + 1000;
  const get = (rawPath: string, rawQuery: string, date: string, signature: string, hostBucket: string | undefined = 'johnsmith'): AuthRequest => ({
    method: 'GET',
    rawPath,
    rawQuery,
    headers: { host: 'johnsmith.s3.amazonaws.com', date, authorization: `AWS ${DOC_ACCESS_KEY}:${signature}` },
    hostBucket,
  });
  const object = get('/photos/puppy.jpg', '', 'Tue, 27 Mar 2007 19:36:42 +0000', 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=');
  t.equal(authenticate(object, credentials, { nowMs: at('Tue, 27 Mar 2007 19:36:42 +0000') }).accessKeyId, DOC_ACCESS_KEY, 'object GET: /johnsmith/photos/puppy.jpg');
  const list = get('/', 'prefix=photos&max-keys=50&marker=puppy', 'Tue, 27 Mar 2007 19:42:41 +0000', 'htDYFYduRNen8P9ZfE/s9SuKy0U=');
  t.equal(authenticate(list, credentials, { nowMs: at('Tue, 27 Mar 2007 19:42:41 +0000') }).accessKeyId, DOC_ACCESS_KEY, 'list: /johnsmith/ (query parameters are not sub-resources)');
  const acl = get('/', 'acl', 'Tue, 27 Mar 2007 19:44:46 +0000', 'c2WLPFtWHVgbEmeEG93a4cG37dM=');
  t.equal(authenticate(acl, credentials, { nowMs: at('Tue, 27 Mar 2007 19:44:46 +0000') }).accessKeyId, DOC_ACCESS_KEY, 'ACL fetch: /johnsmith/?acl');
  t.equal(failure(() => authenticate({ ...object, hostBucket: undefined }, credentials, { nowMs: at('Tue, 27 Mar 2007 19:36:42 +0000') })), 'SignatureDoesNotMatch', 'read as path style, the same request signs another resource');
  t.equal(failure(() => authenticate({ ...object, hostBucket: 'otherbucket' }, credentials, { nowMs: at('Tue, 27 Mar 2007 19:36:42 +0000') })), 'SignatureDoesNotMatch', 'the bucket is part of what is signed');
});

t.test('a gateway with a base domain serves SigV2-signed virtual-hosted requests: PUT, GET, list, ACL', async (t) => {
  const cluster = await startCluster({ nodeHealing: false, gatewayOverrides: { baseDomain: 's3.tessera.test' } });
  t.teardown(() => cluster.close());
  const port = new URL(cluster.endpoint).port;
  const bucket = bucketName('vhost');

  /** One request with Host: <bucket>.s3.tessera.test, signed with SigV2 over `resource`. */
  const send = (method: string, path: string, resource: string, body = ''): Promise<{ status: number; body: string }> => {
    const date = new Date().toUTCString();
    const contentType = body === '' ? '' : 'text/plain';
    const stringToSign = [method, '', contentType, date, resource].join('\n');
    const signature = createHmac('sha1', TEST_CREDENTIALS.secretAccessKey).update(stringToSign).digest('base64');
    const headers: Record<string, string> = { host: `${bucket}.s3.tessera.test:${port}`, date, authorization: `AWS ${TEST_CREDENTIALS.accessKeyId}:${signature}`, 'content-length': String(Buffer.byteLength(body)) };
    if (contentType !== '') headers['content-type'] = contentType;
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  };

  t.equal((await send('PUT', '/', `/${bucket}/`)).status, 200, 'CreateBucket signs /bucket/');
  t.equal((await send('PUT', '/notes/a.txt', `/${bucket}/notes/a.txt`, 'hello')).status, 200, 'PutObject signs /bucket/key');
  const got = await send('GET', '/notes/a.txt', `/${bucket}/notes/a.txt`);
  t.equal(got.status, 200);
  t.equal(got.body, 'hello');
  const listed = await send('GET', '/?prefix=notes/', `/${bucket}/`);
  t.equal(listed.status, 200, 'a listing signs /bucket/ without its query');
  t.match(listed.body, '<Key>notes/a.txt</Key>');
  const acl = await send('GET', '/?acl', `/${bucket}/?acl`);
  t.equal(acl.status, 200, 'a sub-resource follows /bucket/');
  t.match(acl.body, 'FULL_CONTROL');
  const pathStyle = await send('GET', '/notes/a.txt', '/notes/a.txt');
  t.equal(pathStyle.status, 403, 'a signature over the path alone does not match');
  t.match(pathStyle.body, '<Code>SignatureDoesNotMatch</Code>');
});

import { createHmac } from 'node:crypto';
import { t } from 'tap';
import { request } from 'undici';
import { clusterWithBucket, TEST_CREDENTIALS } from '../../helpers/cluster.js';
import { hmac, sha256Hex, signingKey } from './helpers.js';

/**
 * A header sent on several lines (botocore sends what a user adds twice through its event hooks;
 * proxies add a second line of their own headers). Both signature versions join the values with a
 * bare comma, in the order sent: SigV4's `my-header1:value2,value2,value1` (the AWS SigV4 test
 * suite's get-header-key-duplicate) and SigV2's `x-amz-meta-username:fred,barney` (S3's SigV2
 * documentation). Node's own join puts a space after each comma, or keeps only the first line.
 */

const { cluster, bucket } = await clusterWithBucket(t);
const endpoint = new URL(cluster.endpoint);
const host = endpoint.host;

function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Sends `headers` (pairs in wire order, names may repeat) and answers the status and body. */
async function send(method: string, path: string, headers: [string, string][], body: string): Promise<{ status: number; body: string }> {
  const flat = headers.flatMap(([name, value]) => [name, value]);
  const response = await request(`${endpoint.origin}${path}`, { method: method as 'PUT', headers: flat, body });
  return { status: response.statusCode, body: await response.body.text() };
}

t.test('SigV4: a header on several lines is signed as its values joined by a comma, in order', async (t) => {
  const date = amzDate(Date.now());
  const body = 'repeated';
  const payloadHash = sha256Hex(body);
  const path = `/${bucket}/v4`;
  const canonical = [
    'PUT',
    path,
    '',
    `host:${host}`,
    'x-amz-content-sha256:' + payloadHash,
    `x-amz-date:${date}`,
    'x-amz-meta-colour:red,blue,red',
    'x-trace:a,b',
    '',
    'host;x-amz-content-sha256;x-amz-date;x-amz-meta-colour;x-trace',
    payloadHash,
  ].join('\n');
  const scope = `${date.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonical)].join('\n');
  const signature = hmac(signingKey(TEST_CREDENTIALS.secretAccessKey, date.slice(0, 8), 'us-east-1'), stringToSign).toString('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${TEST_CREDENTIALS.accessKeyId}/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-colour;x-trace, Signature=${signature}`;
  const answer = await send(
    'PUT',
    path,
    [
      ['host', host],
      ['x-amz-content-sha256', payloadHash],
      ['x-amz-date', date],
      ['x-amz-meta-colour', 'red'],
      ['x-trace', 'a'],
      ['x-amz-meta-colour', ' blue '],
      ['x-trace', 'b'],
      ['x-amz-meta-colour', 'red'],
      ['authorization', authorization],
    ],
    body,
  );
  t.equal(answer.status, 200, answer.body);
});

t.test('SigV2: a repeated x-amz-* header is signed as name:value,value, as S3 documents it', async (t) => {
  const date = new Date().toUTCString();
  const path = `/${bucket}/v2`;
  const stringToSign = ['PUT', '', '', date, `x-amz-meta-username:fred,barney\n${path}`].join('\n');
  const signature = createHmac('sha1', TEST_CREDENTIALS.secretAccessKey).update(stringToSign).digest('base64');
  const answer = await send(
    'PUT',
    path,
    [
      ['host', host],
      ['date', date],
      ['x-amz-meta-username', 'fred'],
      ['x-amz-meta-username', 'barney'],
      ['authorization', `AWS ${TEST_CREDENTIALS.accessKeyId}:${signature}`],
    ],
    'v2 body',
  );
  t.equal(answer.status, 200, answer.body);
});

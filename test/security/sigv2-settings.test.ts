import { createHmac } from 'node:crypto';
import { t } from 'tap';
import { request } from 'undici';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseGatewayConfig } from '../../src/common/index.js';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, startSecondGateway, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

/**
 * Signature Version 2 (`Authorization: AWS key:signature`, `?AWSAccessKeyId&Expires&Signature`, and
 * POST forms signed with `signature`) stays accepted by default, and `auth.signatureV2: off` refuses
 * it as S3's V4-only regions do: 400 InvalidRequest, "Please use AWS4-HMAC-SHA256". A V2 presigned
 * URL may not be valid for longer than SigV4 allows (seven days): an Expires further ahead is 403.
 */

const SEVEN_DAYS_S = 7 * 86_400;
const V4_ONLY = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const bucket = bucketName('sigv2');
const admin = cluster.client();
await admin.send(new CreateBucketCommand({ Bucket: bucket }));
await admin.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v2 bytes' }));
const v4Only = await startSecondGateway(t, cluster, { auth: { acceptedRegions: [], signatureV2: false } });

const sign = (stringToSign: string): string => createHmac('sha1', TEST_CREDENTIALS.secretAccessKey).update(stringToSign).digest('base64');

/** A GET of `k` signed with SigV2 in the Authorization header. */
async function headerV2Get(endpoint: string): Promise<{ status: number; body: string }> {
  const date = new Date().toUTCString();
  const signature = sign(['GET', '', '', date, `/${bucket}/k`].join('\n'));
  const response = await request(`${endpoint}/${bucket}/k`, { method: 'GET', headers: { date, authorization: `AWS ${TEST_CREDENTIALS.accessKeyId}:${signature}` } });
  return { status: response.statusCode, body: await response.body.text() };
}

/** A SigV2 presigned GET URL of `k` valid until `expiresSeconds` (epoch seconds). */
function presignedV2(endpoint: string, expiresSeconds: number): string {
  const signature = sign(`GET\n\n\n${expiresSeconds}\n/${bucket}/k`);
  return `${endpoint}/${bucket}/k?AWSAccessKeyId=${TEST_CREDENTIALS.accessKeyId}&Expires=${expiresSeconds}&Signature=${encodeURIComponent(signature)}`;
}

/** Posts a SigV2-signed browser form uploading `key`. */
async function postV2(endpoint: string, key: string): Promise<{ status: number; body: string }> {
  const policy = Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 60_000).toISOString(), conditions: [{ bucket }, { key }] })).toString('base64');
  const form = new FormData();
  for (const [name, value] of [['key', key], ['AWSAccessKeyId', TEST_CREDENTIALS.accessKeyId], ['policy', policy], ['signature', sign(policy)]] as const) form.append(name, value);
  form.append('file', new Blob(['posted']), 'f.txt');
  const response = await fetch(`${endpoint}/${bucket}`, { method: 'POST', body: form });
  return { status: response.status, body: await response.text() };
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

t.test('by default SigV2 is accepted: header, presigned URL and POST form', async (t) => {
  const header = await headerV2Get(cluster.endpoint);
  t.equal(header.status, 200, header.body);
  t.equal(header.body, 'v2 bytes');
  const presigned = await request(presignedV2(cluster.endpoint, nowSeconds() + 3600));
  t.equal(presigned.statusCode, 200, await presigned.body.text());
  t.equal((await postV2(cluster.endpoint, 'posted-v2')).status, 204);
});

t.test('with auth.signatureV2 off, a SigV2 header is 400 InvalidRequest asking for AWS4-HMAC-SHA256', async (t) => {
  const answer = await headerV2Get(v4Only);
  t.equal(answer.status, 400);
  t.equal(xmlField(answer.body, 'Code'), 'InvalidRequest');
  t.equal(xmlField(answer.body, 'Message'), V4_ONLY);
});

t.test('with auth.signatureV2 off, a SigV2 presigned URL is 400 InvalidRequest', async (t) => {
  const response = await request(presignedV2(v4Only, nowSeconds() + 3600));
  const body = await response.body.text();
  t.equal(response.statusCode, 400);
  t.equal(xmlField(body, 'Code'), 'InvalidRequest');
  t.equal(xmlField(body, 'Message'), V4_ONLY);
});

t.test('with auth.signatureV2 off, a SigV2 POST form is 400 InvalidRequest and stores nothing', async (t) => {
  const answer = await postV2(v4Only, 'posted-refused');
  t.equal(answer.status, 400, answer.body);
  t.equal(xmlField(answer.body, 'Code'), 'InvalidRequest');
  t.same(await sdkError(admin.send(new GetObjectCommand({ Bucket: bucket, Key: 'posted-refused' }))), { name: 'NoSuchKey', status: 404 });
});

t.test('with auth.signatureV2 off, SigV4 requests are served as before', async (t) => {
  const answer = await rawS3(v4Only, { method: 'GET', bucket, key: 'k' });
  t.equal(answer.status, 200);
  t.equal(answer.body, 'v2 bytes');
});

t.test('a SigV2 presigned URL expiring more than seven days ahead is 403 AccessDenied; seven days is accepted', async (t) => {
  const tooLong = await request(presignedV2(cluster.endpoint, nowSeconds() + SEVEN_DAYS_S + 3600));
  const body = await tooLong.body.text();
  t.equal(tooLong.statusCode, 403);
  t.equal(xmlField(body, 'Code'), 'AccessDenied');
  const years = await request(presignedV2(cluster.endpoint, 2_000_000_000 + nowSeconds()));
  await years.body.text();
  t.equal(years.statusCode, 403, 'years ahead');
  const week = await request(presignedV2(cluster.endpoint, nowSeconds() + SEVEN_DAYS_S - 60));
  t.equal(week.statusCode, 200, await week.body.text());
});

t.test('auth.signatureV2 is on by default and read from the file and TESSERA_AUTH_SIGNATURE_V2', async (t) => {
  const base = { credentials: [{ accessKeyId: 'ak', secretAccessKey: 'sk' }], clusterSecret: 'a-cluster-secret-of-32-characters', seeds: ['10.0.0.1:9100'] };
  t.equal(parseGatewayConfig(base).auth?.signatureV2, true);
  t.equal(parseGatewayConfig({ ...base, auth: { signatureV2: false } }).auth?.signatureV2, false);
  t.equal(parseGatewayConfig(base, { TESSERA_AUTH_SIGNATURE_V2: 'off' }).auth?.signatureV2, false);
});

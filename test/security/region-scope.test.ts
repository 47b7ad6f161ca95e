import { createHmac } from 'node:crypto';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { parseGatewayConfig } from '../../src/common/index.js';
import { bucketName } from '../helpers/bytes.js';
import { localS3Client, startCluster, startSecondGateway, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

/**
 * By default a gateway takes any SigV4 scope region (S3 clients pointed at an endpoint sign for their
 * profile's region). Confined by `auth.acceptedRegions`, it refuses a scope
 * naming another region than its own, as S3 does, with the region it expects in the error (botocore
 * re-signs for it). Header auth: 400 AuthorizationHeaderMalformed; a presigned URL: 400
 * AuthorizationQueryParametersError; a POST form: 400 InvalidArgument (X-Amz-Credential). Clients
 * that sign for a fixed or made-up region (`auto`) are let in by `auth.acceptedRegions`.
 */

const cluster = await startCluster({ nodeHealing: false, gatewayOverrides: { auth: { acceptedRegions: [], signatureV2: true } } });
t.teardown(() => cluster.close());
const bucket = bucketName('region');
const admin = cluster.client();
await admin.send(new CreateBucketCommand({ Bucket: bucket }));
await admin.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'regional bytes' }));

const clients: ReturnType<typeof localS3Client>[] = [];
t.teardown(() => clients.forEach((client) => client.destroy()));
function clientFor(endpoint: string, region: string): ReturnType<typeof localS3Client> {
  const client = localS3Client(endpoint, TEST_CREDENTIALS, { region, maxAttempts: 1 });
  clients.push(client);
  return client;
}

/** What a plain fetch of `url` answered: status, the error code and message, the Region element. */
async function fetched(url: string, init?: RequestInit): Promise<{ status: number; code: string | undefined; message: string | undefined; region: string | undefined; body: string }> {
  const response = await fetch(url, init);
  const body = await response.text();
  return { status: response.status, code: xmlField(body, 'Code'), message: unescapeXml(xmlField(body, 'Message')), region: xmlField(body, 'Region'), body };
}

function unescapeXml(text: string | undefined): string | undefined {
  return text?.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A presigned GET of `k` whose credential scope names `region`. */
function presigned(endpoint: string, region: string): Promise<string> {
  return getSignedUrl(clientFor(endpoint, region), new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 300 });
}

/** Posts a SigV4-signed browser form uploading `key`, its credential scope naming `region`. */
async function postForm(endpoint: string, region: string, key: string): ReturnType<typeof fetched> {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const credential = `${TEST_CREDENTIALS.accessKeyId}/${day}/${region}/s3/aws4_request`;
  const fields: [string, string][] = [
    ['key', key],
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', credential],
    ['x-amz-date', amzDate],
  ];
  const conditions = [{ bucket }, ...fields.map(([name, value]) => ({ [name]: value }))];
  const policy = Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 60_000).toISOString(), conditions })).toString('base64');
  let signingKey: Buffer = createHmac('sha256', `AWS4${TEST_CREDENTIALS.secretAccessKey}`).update(day).digest();
  for (const part of [region, 's3', 'aws4_request']) signingKey = createHmac('sha256', signingKey).update(part).digest();
  const form = new FormData();
  for (const [name, value] of [...fields, ['policy', policy], ['x-amz-signature', createHmac('sha256', signingKey).update(policy).digest('hex')]]) form.append(name as string, value as string);
  form.append('file', new Blob(['posted']), 'f.txt');
  return fetched(`${endpoint}/${bucket}`, { method: 'POST', body: form });
}

t.test('a header signature scoped to another region is 400 AuthorizationHeaderMalformed naming the gateway\'s region', async (t) => {
  const wrong = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'k', region: 'us-west-2' });
  t.equal(wrong.status, 400);
  t.equal(xmlField(wrong.body, 'Code'), 'AuthorizationHeaderMalformed');
  t.equal(unescapeXml(xmlField(wrong.body, 'Message')), "The authorization header is malformed; the region 'us-west-2' is wrong; expecting 'us-east-1'");
  t.equal(xmlField(wrong.body, 'Region'), 'us-east-1', 'the XML names the region to sign for');
  t.equal(wrong.headers['x-amz-bucket-region'], 'us-east-1', 'and so does x-amz-bucket-region, for HEAD answers that carry no body');
  const head = await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'k', region: 'auto' });
  t.equal(head.status, 400, 'HEAD');
  t.equal(head.headers['x-amz-bucket-region'], 'us-east-1');
  const right = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'k', region: 'us-east-1' });
  t.equal(right.status, 200, 'the same request scoped to us-east-1 reads');
  t.equal(right.body, 'regional bytes');
});

t.test('a presigned URL scoped to another region is 400 AuthorizationQueryParametersError naming the gateway\'s region', async (t) => {
  const wrong = await fetched(await presigned(cluster.endpoint, 'eu-west-1'));
  t.equal(wrong.status, 400);
  t.equal(wrong.code, 'AuthorizationQueryParametersError');
  t.equal(wrong.message, "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'");
  t.equal(wrong.region, 'us-east-1');
  const right = await fetched(await presigned(cluster.endpoint, 'us-east-1'));
  t.equal(right.status, 200, right.body);
});

t.test('a POST form scoped to another region is 400 InvalidArgument on X-Amz-Credential naming the gateway\'s region', async (t) => {
  const wrong = await postForm(cluster.endpoint, 'auto', 'posted-wrong');
  t.equal(wrong.status, 400, wrong.body);
  t.equal(wrong.code, 'InvalidArgument');
  t.equal(wrong.message, "the region 'auto' is wrong; expecting 'us-east-1'");
  t.equal(wrong.region, 'us-east-1');
  t.equal(xmlField(wrong.body, 'ArgumentName'), 'X-Amz-Credential');
  t.same(await sdkError(admin.send(new GetObjectCommand({ Bucket: bucket, Key: 'posted-wrong' }))), { name: 'NoSuchKey', status: 404 }, 'nothing was stored');
  const right = await postForm(cluster.endpoint, 'us-east-1', 'posted-right');
  t.equal(right.status, 204, right.body);
});

t.test('a gateway in eu-central-1 refuses the SDK\'s default us-east-1 scope and serves its own', async (t) => {
  const endpoint = await startSecondGateway(t, cluster, { region: 'eu-central-1', auth: { ...cluster.config.auth, acceptedRegions: [] } });
  const wrong = await rawS3(endpoint, { method: 'GET', bucket, key: 'k' });
  t.equal(wrong.status, 400);
  t.equal(unescapeXml(xmlField(wrong.body, 'Message')), "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-central-1'");
  t.equal(xmlField(wrong.body, 'Region'), 'eu-central-1');
  t.same(await sdkError(clientFor(endpoint, 'us-east-1').send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }))), { name: 'AuthorizationHeaderMalformed', status: 400 });
  const got = await clientFor(endpoint, 'eu-central-1').send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(await got.Body?.transformToString(), 'regional bytes', 'an SDK client configured for eu-central-1 reads');
});

t.test('auth.acceptedRegions lets the listed regions in by header, presigned URL and POST form, and no others', async (t) => {
  const endpoint = await startSecondGateway(t, cluster, { region: 'eu-central-1', auth: { ...cluster.config.auth, acceptedRegions: ['auto', 'us-east-1'] } });
  for (const region of ['auto', 'us-east-1', 'eu-central-1']) {
    t.equal((await rawS3(endpoint, { method: 'GET', bucket, key: 'k', region })).status, 200, `header scoped to ${region}`);
    t.equal((await fetched(await presigned(endpoint, region))).status, 200, `presigned URL scoped to ${region}`);
    t.equal((await postForm(endpoint, region, `posted-${region}`)).status, 204, `POST form scoped to ${region}`);
  }
  const other = await rawS3(endpoint, { method: 'GET', bucket, key: 'k', region: 'us-west-2' });
  t.equal(other.status, 400, 'a region not listed is still refused');
  t.equal(xmlField(other.body, 'Region'), 'eu-central-1', 'naming the gateway\'s own region');
  t.equal((await fetched(await presigned(endpoint, 'us-west-2'))).code, 'AuthorizationQueryParametersError');
  t.equal((await postForm(endpoint, 'us-west-2', 'posted-other')).code, 'InvalidArgument');
});

t.test('auth.acceptedRegions ["*"] accepts any region', async (t) => {
  const endpoint = await startSecondGateway(t, cluster, { region: 'eu-central-1', auth: { ...cluster.config.auth, acceptedRegions: ['*'] } });
  for (const region of ['us-west-2', 'auto', 'garage']) {
    t.equal((await rawS3(endpoint, { method: 'GET', bucket, key: 'k', region })).status, 200, `header scoped to ${region}`);
    t.equal((await fetched(await presigned(endpoint, region))).status, 200, `presigned URL scoped to ${region}`);
  }
});

t.test('a gateway left at the default accepts a scope naming any region, as clients pointed at an endpoint expect', async (t) => {
  const endpoint = await startSecondGateway(t, cluster, { region: 'eu-central-1', auth: { ...cluster.config.auth, acceptedRegions: ['*'] } });
  t.same(parseGatewayConfig({ credentials: [{ accessKeyId: 'ak', secretAccessKey: 'sk' }], clusterSecret: 'a-cluster-secret-of-32-characters', seeds: ['10.0.0.1:9100'] }).auth?.acceptedRegions, ['*']);
  const got = await clientFor(endpoint, 'us-west-2').send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(await got.Body?.transformToString(), 'regional bytes', 'an SDK client whose profile names another region reads');
});

t.test('auth.acceptedRegions is read from the file and from TESSERA_AUTH_ACCEPTED_REGIONS, any region by default', async (t) => {
  const base = { credentials: [{ accessKeyId: 'ak', secretAccessKey: 'sk' }], clusterSecret: 'a-cluster-secret-of-32-characters', seeds: ['10.0.0.1:9100'] };
  t.same(parseGatewayConfig(base).auth?.acceptedRegions, ['*'], 'any region by default');
  t.same(parseGatewayConfig({ ...base, auth: { acceptedRegions: [] } }).auth?.acceptedRegions, [], 'confined to the gateway\'s own region');
  t.same(parseGatewayConfig({ ...base, auth: { acceptedRegions: ['auto'] } }).auth?.acceptedRegions, ['auto']);
  t.same(parseGatewayConfig(base, { TESSERA_AUTH_ACCEPTED_REGIONS: 'auto, us-east-1' }).auth?.acceptedRegions, ['auto', 'us-east-1']);
});

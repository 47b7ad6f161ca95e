import { t } from 'tap';
import { CreateBucketCommand, PutBucketPolicyCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runUserCli } from '../../src/bin/user-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { plainRequest } from '../helpers/clients.js';
import { localS3Client, startCluster, writeGatewayConfig } from '../helpers/cluster.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * Bucket policies with the condition keys and operators of the usual recipes, against a running
 * Tessera: hotlink protection on aws:Referer, a time window on aws:CurrentTime, and tag rules with
 * ForAnyValue: / ForAllValues: over s3:RequestObjectTagKeys.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

const clients: S3Client[] = [];
t.teardown(() => clients.forEach((c) => c.destroy()));
async function user(name: string): Promise<S3Client> {
  let out = '';
  await runUserCli('user', ['add', name, '--config', configFile], {}, { stdout: (s) => void (out += s), stderr: () => undefined });
  const client = localS3Client(cluster.endpoint, { accessKeyId: /^access key: (\S+)$/m.exec(out)?.[1] ?? '', secretAccessKey: /^secret key: (\S+)$/m.exec(out)?.[1] ?? '' }, { maxAttempts: 1 });
  clients.push(client);
  return client;
}

const alice = await user('alice');
const bob = await user('bob');
const denied = { name: 'AccessDenied', status: 403 };

function policy(...statements: Record<string, unknown>[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

async function anonymousGet(path: string, headers: Record<string, string> = {}): Promise<number> {
  return (await plainRequest(`${cluster.endpoint}${path}`, { headers })).status;
}

t.test('aws:Referer: only pages of the site may embed its images', async (t) => {
  const bucket = bucketName('referer');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'img/logo.png', Body: 'png' }));
  await alice.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/img/*`, Condition: { StringLike: { 'aws:Referer': ['https://www.example.com/*', 'https://example.com/*'] } } }),
    }),
  );
  t.equal(await anonymousGet(`/${bucket}/img/logo.png`, { referer: 'https://www.example.com/about' }), 200, 'from a page of the site');
  t.equal(await anonymousGet(`/${bucket}/img/logo.png`, { referer: 'https://elsewhere.example/' }), 403, 'from another site');
  t.equal(await anonymousGet(`/${bucket}/img/logo.png`), 403, 'without a Referer');
});

t.test('aws:CurrentTime: a Date window opens and closes access', async (t) => {
  const bucket = bucketName('window');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'release.txt', Body: 'v1' }));
  const window = (from: string, until: string) =>
    alice.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { DateGreaterThan: { 'aws:CurrentTime': from }, DateLessThan: { 'aws:CurrentTime': until } } }),
      }),
    );
  const hour = 3_600_000;
  await window(new Date(Date.now() - hour).toISOString(), new Date(Date.now() + hour).toISOString());
  t.equal(await anonymousGet(`/${bucket}/release.txt`), 200, 'inside the window');
  await window(new Date(Date.now() + hour).toISOString(), new Date(Date.now() + 2 * hour).toISOString());
  t.equal(await anonymousGet(`/${bucket}/release.txt`), 403, 'before it opens');
  await window('2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z');
  t.equal(await anonymousGet(`/${bucket}/release.txt`), 403, 'after it closed');
});

t.test('ForAnyValue: and ForAllValues: on s3:RequestObjectTagKeys', async (t) => {
  const bucket = bucketName('tagkeys');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: policy(
        // bob may upload only with tags from the approved list...
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['team', 'project'] } } },
        // ...and nobody may set a tag named like a secret.
        { Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { 'ForAnyValue:StringLike': { 's3:RequestObjectTagKeys': 'secret*' } } },
      ),
    }),
  );
  const put = (client: S3Client, key: string, tagging?: string) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', ...(tagging === undefined ? {} : { Tagging: tagging }) }));
  t.ok(await put(bob, 'a', 'team=ml'), 'approved tags');
  t.ok(await put(bob, 'b', 'team=ml&project=x'), 'all approved');
  t.same(await sdkError(put(bob, 'c', 'team=ml&cost=1')), denied, 'one tag off the list');
  t.ok(await put(bob, 'd'), 'no tags at all: an empty set satisfies ForAllValues, as in AWS');
  t.same(await sdkError(put(alice, 'e', 'team=ml&secret-level=2')), denied, 'ForAnyValue Deny binds even the owner');
  t.ok(await put(alice, 'f', 'team=ml'), 'the owner otherwise writes as before');
});

t.test('s3:RequestObjectTag/<key> decides a PUT by the value of one tag; ...IfExists admits a PUT without the SSE header', async (t) => {
  const bucket = bucketName('tagvalue');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: policy(
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/tagged/*`, Condition: { StringEquals: { 's3:RequestObjectTag/team': 'ml' } } },
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/sse/*`, Condition: { StringEqualsIfExists: { 's3:x-amz-server-side-encryption': 'AES256' } } },
      ),
    }),
  );
  const put = (key: string, tagging?: string) => bob.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', ...(tagging === undefined ? {} : { Tagging: tagging }) }));
  t.ok(await put('tagged/a', 'team=ml&cost=1'), 'the named tag has the allowed value');
  t.same(await sdkError(put('tagged/b', 'team=web')), denied, 'another value');
  t.same(await sdkError(put('tagged/c', 'cost=1')), denied, 'the tag absent: StringEquals does not hold');
  t.ok(await put('sse/a'), 'no x-amz-server-side-encryption header: the IfExists condition holds');
});

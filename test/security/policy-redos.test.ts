import { t } from 'tap';
import { CreateBucketCommand, GetBucketPolicyCommand, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { bucketName } from '../helpers/bytes.js';
import { startDevServer } from '../helpers/server.js';
import { rawS3, xmlField } from '../gateway/raw-s3.js';

/**
 * A bucket policy is written by whoever owns the bucket and judged on every request to it, anonymous
 * ones included: its patterns must cost the gateway time in proportion to their size, and what a
 * policy may hold is bounded. The gateway runs as its own process (`tessera dev`), so a gateway held
 * by one request shows here as a request that never answers, not as a test process that hangs.
 */

/** Long enough for a loaded CI machine; a gateway that backtracks over a 1,024-byte key takes far longer. */
const ANSWER_TIMEOUT_MS = 60_000;

const server = await startDevServer(t);
const s3 = new S3Client({
  endpoint: server.endpoint,
  region: server.region,
  forcePathStyle: true,
  credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  maxAttempts: 1,
});
t.teardown(() => s3.destroy());
const admin = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };

function policyOf(...statements: Record<string, unknown>[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** PutBucketPolicy as raw HTTP, to see the status and the XML error body themselves. */
async function putPolicy(bucket: string, document: string): Promise<{ status: number; code: string | undefined; message: string | undefined; body: string }> {
  const response = await rawS3(server.endpoint, { method: 'PUT', bucket, query: { policy: '' }, body: document, credentials: admin });
  return { status: response.status, code: xmlField(response.body, 'Code'), message: xmlField(response.body, 'Message'), body: response.body };
}

async function currentPolicy(bucket: string): Promise<string | undefined> {
  return (await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy;
}

/** A bucket holding a modest policy that every refused document below must leave in place. */
async function bucketWithPolicy(prefix: string): Promise<{ bucket: string; previous: string }> {
  const bucket = bucketName(prefix);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const previous = policyOf({ Sid: 'public', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/public/*` });
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: previous }));
  return { bucket, previous };
}

t.test('a policy over 20 KB is MalformedPolicy (400, XML) however large, and the previous policy stays', async (t) => {
  const { bucket, previous } = await bucketWithPolicy('policy-size');
  // Just over the limit, and far over it: both must be a policy fault, not a generic body one.
  for (const sizeBytes of [20 * 1024 + 1, 64 * 1024]) {
    const padding = 'x'.repeat(sizeBytes);
    const document = policyOf({ Sid: padding, Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` });
    const answer = await putPolicy(bucket, document);
    t.equal(answer.status, 400, `${document.length} bytes: 400`);
    t.equal(answer.code, 'MalformedPolicy', `${document.length} bytes: MalformedPolicy`, { body: answer.body.slice(0, 400) });
    t.match(answer.message ?? '', /maximum allowed document size/);
  }
  t.equal(await currentPolicy(bucket), previous, 'the previous policy is unchanged');
});

t.test('a policy with more statements than the bound is MalformedPolicy, though it is under 20 KB', async (t) => {
  const { bucket, previous } = await bucketWithPolicy('policy-statements');
  const statements = Array.from({ length: 300 }, () => ({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }));
  const document = policyOf(...statements);
  t.ok(document.length < 20 * 1024, 'the document itself is within the size limit');
  const answer = await putPolicy(bucket, document);
  t.equal(answer.status, 400, '400');
  t.equal(answer.code, 'MalformedPolicy', 'MalformedPolicy', { body: answer.body.slice(0, 400) });
  t.match(answer.message ?? '', /statements/i);
  t.equal(await currentPolicy(bucket), previous, 'the previous policy is unchanged');
});

t.test('a Resource list longer than the bound is MalformedPolicy', async (t) => {
  const { bucket, previous } = await bucketWithPolicy('policy-values');
  const resources = Array.from({ length: 300 }, (_, i) => `arn:aws:s3:::${bucket}/k${i}`);
  const document = policyOf({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: resources });
  t.ok(document.length < 20 * 1024, 'the document itself is within the size limit');
  const answer = await putPolicy(bucket, document);
  t.equal(answer.status, 400, '400');
  t.equal(answer.code, 'MalformedPolicy', 'MalformedPolicy', { body: answer.body.slice(0, 400) });
  t.match(answer.message ?? '', /Resource/);
  t.equal(await currentPolicy(bucket), previous, 'the previous policy is unchanged');
});

t.test('a pattern longer than any ARN S3 can name, in Resource or a condition, is MalformedPolicy', async (t) => {
  const { bucket, previous } = await bucketWithPolicy('policy-pattern');
  const long = `*${'a*'.repeat(1_000)}b`;
  const documents = [
    policyOf({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/${long}` }),
    policyOf({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { StringLike: { 'aws:UserAgent': long } } }),
  ];
  for (const document of documents) {
    const answer = await putPolicy(bucket, document);
    t.equal(answer.status, 400, '400');
    t.equal(answer.code, 'MalformedPolicy', 'MalformedPolicy', { body: answer.body.slice(0, 400) });
    t.match(answer.message ?? '', /characters/);
  }
  t.equal(await currentPolicy(bucket), previous, 'the previous policy is unchanged');
});

t.test('many wildcards in a Resource, judged against a 1,024-byte key, are answered at once and still match', { timeout: 4 * ANSWER_TIMEOUT_MS }, async (t) => {
  const bucket = bucketName('policy-redos');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // A backtracking regular expression for this pattern tries every way to place 24 `*`s in the key
  // before it gives up on the missing `b`: far beyond any timeout.
  const pattern = `arn:aws:s3:::${bucket}/*${'a*'.repeat(24)}b`;
  const condition = { StringLike: { 'aws:UserAgent': `*${'a*'.repeat(24)}b` } };
  await s3.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: policyOf(
        { Sid: 'resource', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: pattern },
        { Sid: 'condition', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/ua/*`, Condition: condition },
      ),
    }),
  );
  const allowedKey = `${'a'.repeat(30)}b`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: allowedKey, Body: 'opened by the pattern' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ua/object', Body: 'opened by the condition' }));

  /** The status of an anonymous GET, or 0 when the gateway did not answer within ANSWER_TIMEOUT_MS. */
  async function anonymousGet(key: string, headers: Record<string, string> = {}): Promise<number> {
    try {
      const response = await request(`${server.endpoint}/${bucket}/${encodeURIComponent(key)}`, { method: 'GET', headers, signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
      await response.body.text();
      return response.statusCode;
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') return 0;
      throw err;
    }
  }

  const first = await anonymousGet('a'.repeat(1_024));
  t.equal(first, 403, 'a 1,024-byte key the pattern does not match: AccessDenied, promptly');
  // A gateway still busy with that request would only make every request below wait as long.
  if (first === 0) return;
  t.equal(await anonymousGet('a'.repeat(1_024), { 'user-agent': 'a'.repeat(8_000) }), 403, 'and an 8,000-byte User-Agent against the StringLike condition');
  t.equal(await anonymousGet('ua/object', { 'user-agent': 'a'.repeat(8_000) }), 403, 'the condition, judged against a long User-Agent it does not match, opens nothing');
  t.equal(await anonymousGet(allowedKey), 200, 'the pattern still opens the keys it names');
  t.equal(await anonymousGet('ua/object', { 'user-agent': `${'a'.repeat(30)}b` }), 200, 'and the condition still opens its prefix to a matching User-Agent');
});

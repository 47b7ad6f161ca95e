import { createHash, createHmac, randomBytes } from 'node:crypto';
import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { addUser, localS3Client, startCluster, writeGatewayConfig } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';
import { xmlField } from '../gateway/raw-s3.js';

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

const clients: S3Client[] = [];
t.teardown(() => clients.forEach((c) => c.destroy()));
async function user(name: string): Promise<{ keys: Keys; client: S3Client }> {
  const keys = await addUser(configFile, name);
  const client = localS3Client(cluster.endpoint, keys, { maxAttempts: 1 });
  clients.push(client);
  return { keys, client };
}

const alice = await user('alice');
const bob = await user('bob');

type Field = [string, string];

function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** A policy document as a browser form carries it: base64 JSON. */
function encodePolicy(conditions: unknown[], expiresInMs = 60_000): string {
  return Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + expiresInMs).toISOString(), conditions })).toString('base64');
}

/** The SigV4 fields of a POST form for `policy` (conditions must name x-amz-algorithm, -credential, -date). */
function sigV4Fields(keys: Keys, now = Date.now()): { fields: Field[]; conditions: Record<string, string>[]; sign: (policy: string) => Field[] } {
  const date = amzDate(now);
  const credential = `${keys.accessKeyId}/${date.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const fields: Field[] = [
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', credential],
    ['x-amz-date', date],
  ];
  const sign = (policy: string): Field[] => {
    let key: Buffer = createHmac('sha256', `AWS4${keys.secretAccessKey}`).update(date.slice(0, 8)).digest();
    for (const part of ['us-east-1', 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    return [['policy', policy], ['x-amz-signature', createHmac('sha256', key).update(policy).digest('hex')]];
  };
  return { fields, conditions: fields.map(([k, v]) => ({ [k]: v })), sign };
}

/** A signed SigV4 form: `fields` (before the file) all named by `conditions` plus the signature fields. */
function signedForm(keys: Keys, bucket: string, fields: Field[], extraConditions: unknown[] = [], expiresInMs = 60_000): Field[] {
  const v4 = sigV4Fields(keys);
  const conditions = [{ bucket }, ...fields.map(([k, v]) => ({ [k]: v })), ...v4.conditions, ...extraConditions];
  return [...fields, ...v4.fields, ...v4.sign(encodePolicy(conditions, expiresInMs))];
}

interface PostAnswer {
  status: number;
  headers: Headers;
  body: string;
  code: string | undefined;
  message: string | undefined;
}

/** Submits a multipart/form-data POST as a browser does: fields in order, then the file, then `after`. */
async function post(bucket: string, fields: Field[], file: Buffer | undefined, options: { filename?: string; after?: Field[] } = {}): Promise<PostAnswer> {
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  if (file !== undefined) form.append('file', new Blob([file]), options.filename ?? 'upload.bin');
  for (const [name, value] of options.after ?? []) form.append(name, value);
  const response = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body: form, redirect: 'manual' });
  const body = await response.text();
  return { status: response.status, headers: response.headers, body, code: xmlField(body, 'Code'), message: unescapeXml(xmlField(body, 'Message')) };
}

function unescapeXml(text: string | undefined): string | undefined {
  return text?.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A multipart/form-data body written by hand, for bodies no well-behaved client sends. */
function rawForm(boundary: string, fields: Field[], file: string): string {
  const parts = fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  return `${parts.join('')}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n${file}`;
}

async function keysIn(bucket: string): Promise<string[]> {
  const listed = await cluster.client().send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((c) => c.Key ?? '');
}

async function read(bucket: string, key: string): Promise<Buffer> {
  const got = await cluster.client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

t.test('a SigV4-signed form uploads with its metadata, content type and ACL, and 201 answers a PostResponse', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const file = randomBytes(300_000);
  const fields: Field[] = [
    ['key', 'photos/cat.jpg'],
    ['Content-Type', 'image/jpeg'],
    ['x-amz-meta-camera', 'pinhole'],
    ['acl', 'public-read'],
    ['success_action_status', '201'],
  ];
  const answer = await post(bucket, signedForm(alice.keys, bucket, fields, [['content-length-range', 1, 1_000_000]]), file);
  t.equal(answer.status, 201, answer.body);
  const etag = `"${createHash('md5').update(file).digest('hex')}"`;
  t.equal(xmlField(answer.body, 'Bucket'), bucket);
  t.equal(xmlField(answer.body, 'Key'), 'photos/cat.jpg');
  t.equal(xmlField(answer.body, 'ETag')?.replace(/&quot;/g, '"'), etag);
  t.equal(xmlField(answer.body, 'Location'), `${cluster.endpoint}/${bucket}/photos/cat.jpg`);
  t.equal(answer.headers.get('etag'), etag);
  t.ok((await read(bucket, 'photos/cat.jpg')).equals(file), 'the object holds the file part exactly');
  const head = await cluster.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'photos/cat.jpg' }));
  t.equal(head.ContentType, 'image/jpeg');
  t.same(head.Metadata, { camera: 'pinhole' });
  const anonymous = await fetch(`${cluster.endpoint}/${bucket}/photos/cat.jpg`);
  await anonymous.arrayBuffer();
  t.equal(anonymous.status, 200, 'the acl field made the object public-read');
});

t.test("a form's Content-MD5 and x-amz-checksum-* fields are checked against the file: a mismatch is BadDigest and stores nothing", async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const file = randomBytes(200_000);
  const md5 = createHash('md5').update(file).digest('base64');
  const sha256 = createHash('sha256').update(file).digest('base64');
  const wrongMd5 = createHash('md5').update('another file').digest('base64');
  const wrongSha256 = createHash('sha256').update('another file').digest('base64');
  for (const [key, digestFields, code] of [
    ['bad-md5', [['Content-MD5', wrongMd5]], 'BadDigest'],
    ['bad-sha256', [['x-amz-checksum-sha256', wrongSha256]], 'BadDigest'],
    ['bad-md5-good-sha256', [['Content-MD5', wrongMd5], ['x-amz-checksum-sha256', sha256]], 'BadDigest'],
    ['malformed-md5', [['Content-MD5', 'not-an-md5']], 'InvalidDigest'],
    ['two-checksums', [['x-amz-checksum-sha256', sha256], ['x-amz-checksum-crc32', 'AAAAAA==']], 'InvalidRequest'],
  ] as [string, Field[], string][]) {
    const answer = await post(bucket, signedForm(alice.keys, bucket, [['key', key], ...digestFields]), file);
    t.equal(answer.status, 400, `${key}: ${answer.body}`);
    t.equal(answer.code, code, key);
  }
  t.same(await keysIn(bucket), [], 'no file whose digests did not match was stored');
  const good = await post(bucket, signedForm(alice.keys, bucket, [['key', 'good'], ['Content-MD5', md5], ['x-amz-checksum-sha256', sha256]]), file);
  t.equal(good.status, 204, good.body);
  t.ok((await read(bucket, 'good')).equals(file));
  const head = await cluster.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'good', ChecksumMode: 'ENABLED' }));
  t.equal(head.ChecksumSHA256, sha256, 'the checksum the form named is stored with the object');
});

t.test('${filename} becomes the file name; success_action_redirect answers 303 with bucket, key and etag', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const fields: Field[] = [
    ['key', 'uploads/${filename}'],
    ['success_action_redirect', 'https://app.example/done?from=form'],
  ];
  const v4 = sigV4Fields(alice.keys);
  const conditions = [{ bucket }, ['starts-with', '$key', 'uploads/'], { success_action_redirect: 'https://app.example/done?from=form' }, ...v4.conditions];
  const answer = await post(bucket, [...fields, ...v4.fields, ...v4.sign(encodePolicy(conditions))], Buffer.from('hello'), { filename: 'report.txt' });
  t.equal(answer.status, 303, answer.body);
  const location = new URL(answer.headers.get('location') ?? '');
  t.equal(location.origin + location.pathname, 'https://app.example/done');
  t.equal(location.searchParams.get('from'), 'form');
  t.equal(location.searchParams.get('bucket'), bucket);
  t.equal(location.searchParams.get('key'), 'uploads/report.txt');
  t.equal(location.searchParams.get('etag'), `"${createHash('md5').update('hello').digest('hex')}"`);
  t.equal((await read(bucket, 'uploads/report.txt')).toString(), 'hello');
});

t.test('${filename} is replaced in every field before the policy is checked, as S3 does it', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const v4 = sigV4Fields(alice.keys);
  // Ceph's s3-tests (test_post_object_set_key_from_filename): the key is all ${filename}, the policy bounds what it becomes.
  const keyOnly = [{ bucket }, ['starts-with', '$key', 'foo'], ...v4.conditions];
  const named = await post(bucket, [['key', '${filename}'], ...v4.fields, ...v4.sign(encodePolicy(keyOnly))], Buffer.from('bar'), { filename: 'foo.txt' });
  t.equal(named.status, 204, named.body);
  t.equal((await read(bucket, 'foo.txt')).toString(), 'bar');
  const outside = await post(bucket, [['key', '${filename}'], ...v4.fields, ...v4.sign(encodePolicy(keyOnly))], Buffer.from('bar'), { filename: 'other.txt' });
  t.equal(outside.status, 403, 'a file name outside the condition is refused');
  t.equal(outside.code, 'AccessDenied');
  // The variable works in every field (S3's form-field documentation), success_action_redirect and metadata included.
  const conditions = [
    { bucket },
    ['starts-with', '$key', 'in/'],
    ['starts-with', '$success_action_redirect', 'https://app.example/done/'],
    { 'x-amz-meta-original': 'report.txt' },
    ...v4.conditions,
  ];
  const fields: Field[] = [
    ['key', 'in/${filename}'],
    ['success_action_redirect', 'https://app.example/done/${filename}'],
    ['x-amz-meta-original', '${filename}'],
  ];
  const redirected = await post(bucket, [...fields, ...v4.fields, ...v4.sign(encodePolicy(conditions))], Buffer.from('hello'), { filename: 'C:\\Users\\me\\report.txt' });
  t.equal(redirected.status, 303, redirected.body);
  const location = new URL(redirected.headers.get('location') ?? '');
  t.equal(location.pathname, '/done/report.txt', 'the redirect carries the file name');
  t.equal(location.searchParams.get('key'), 'in/report.txt');
  const head = await cluster.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'in/report.txt' }));
  t.same(head.Metadata, { original: 'report.txt' }, 'a path sent with the file name is cut to its last segment');
});

t.test('a SigV2-signed form uploads and answers 204 (200 when asked); fields after the file are ignored', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const policy = encodePolicy([{ bucket }, ['starts-with', '$key', ''], ['starts-with', '$success_action_status', ''], { tagging: '<Tagging><TagSet><Tag><Key>team</Key><Value>ml</Value></Tag></TagSet></Tagging>' }]);
  const signature = createHmac('sha1', alice.keys.secretAccessKey).update(policy).digest('base64');
  const v2: Field[] = [['AWSAccessKeyId', alice.keys.accessKeyId], ['policy', policy], ['signature', signature]];
  const tagging: Field = ['tagging', '<Tagging><TagSet><Tag><Key>team</Key><Value>ml</Value></Tag></TagSet></Tagging>'];
  const answer = await post(bucket, [['key', 'v2.txt'], tagging, ...v2], Buffer.from('two'), { after: [['x-amz-meta-late', 'ignored'], ['key', 'elsewhere']] });
  t.equal(answer.status, 204, answer.body);
  t.equal(answer.headers.get('location'), `${cluster.endpoint}/${bucket}/v2.txt`);
  const head = await cluster.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'v2.txt' }));
  t.same(head.Metadata, {}, 'a field after the file is not metadata');
  const tags = await cluster.client().send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'v2.txt' }));
  t.same(tags.TagSet, [{ Key: 'team', Value: 'ml' }], 'the tagging field sets the tags');
  const twoHundred = await post(bucket, [['key', 'v2-200.txt'], ['success_action_status', '200'], tagging, ...v2], Buffer.from('x'));
  t.equal(twoHundred.status, 200);
  t.same((await keysIn(bucket)).sort(), ['v2-200.txt', 'v2.txt'], 'the key after the file changed nothing');
});

t.test('every failed check answers its S3 error and writes nothing', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const file = Buffer.from('payload');
  const cases: { name: string; form: () => Field[]; file?: Buffer | undefined; status: number; code: string; message?: RegExp }[] = [
    { name: 'an expired policy', form: () => signedForm(alice.keys, bucket, [['key', 'a']], [], -1000), status: 403, code: 'AccessDenied', message: /Invalid according to Policy: Policy expired/ },
    {
      name: 'a key outside the starts-with condition',
      form: () => {
        const v4 = sigV4Fields(alice.keys);
        return [['key', 'other/a'], ...v4.fields, ...v4.sign(encodePolicy([{ bucket }, ['starts-with', '$key', 'uploads/'], ...v4.conditions]))];
      },
      status: 403,
      code: 'AccessDenied',
      message: /Policy Condition failed: \["starts-with","\$key","uploads\/"\]/,
    },
    {
      name: 'a field the policy does not name',
      form: () => {
        const v4 = sigV4Fields(alice.keys);
        return [['key', 'a'], ['x-amz-meta-sneaky', '1'], ...v4.fields, ...v4.sign(encodePolicy([{ bucket }, { key: 'a' }, ...v4.conditions]))];
      },
      status: 403,
      code: 'AccessDenied',
      message: /Extra input fields: x-amz-meta-sneaky/,
    },
    { name: 'another bucket in the policy', form: () => { const f = signedForm(alice.keys, 'not-this-bucket', [['key', 'a']]); return f; }, status: 403, code: 'AccessDenied', message: /Policy Condition failed/ },
    { name: 'a file over content-length-range', form: () => signedForm(alice.keys, bucket, [['key', 'a']], [['content-length-range', 0, 3]]), status: 400, code: 'EntityTooLarge' },
    { name: 'a file under content-length-range', form: () => signedForm(alice.keys, bucket, [['key', 'a']], [['content-length-range', 100, 200]]), status: 400, code: 'EntityTooSmall' },
    {
      name: 'a wrong signature',
      form: () => signedForm(alice.keys, bucket, [['key', 'a']]).map(([k, v]): Field => (k === 'x-amz-signature' ? [k, '0'.repeat(64)] : [k, v])),
      status: 403,
      code: 'SignatureDoesNotMatch',
    },
    {
      name: 'an unknown access key',
      form: () => signedForm({ accessKeyId: 'NOSUCHKEY', secretAccessKey: 'x' }, bucket, [['key', 'a']]),
      status: 403,
      code: 'InvalidAccessKeyId',
    },
    {
      name: 'a policy that is not JSON',
      form: () => {
        const v4 = sigV4Fields(alice.keys);
        return [['key', 'a'], ...v4.fields, ...v4.sign(Buffer.from('{not json').toString('base64'))];
      },
      status: 400,
      code: 'InvalidPolicyDocument',
    },
    {
      name: 'a policy without conditions',
      form: () => {
        const v4 = sigV4Fields(alice.keys);
        return [['key', 'a'], ...v4.fields, ...v4.sign(Buffer.from(JSON.stringify({ expiration: '2099-01-01T00:00:00Z' })).toString('base64'))];
      },
      status: 400,
      code: 'InvalidPolicyDocument',
      message: /Policy missing conditions/,
    },
    { name: 'a policy without a signature', form: () => [['key', 'a'], ['policy', encodePolicy([])], ['AWSAccessKeyId', alice.keys.accessKeyId]], status: 400, code: 'InvalidArgument', message: /signature/ },
    { name: 'no key field', form: () => signedForm(alice.keys, bucket, []), status: 400, code: 'InvalidArgument', message: /field named 'key'/ },
    { name: 'no file part', form: () => signedForm(alice.keys, bucket, [['key', 'a']]), file: undefined, status: 400, code: 'InvalidArgument', message: /exactly one file/ },
    { name: 'fields over 20 KiB before the file', form: () => signedForm(alice.keys, bucket, [['key', 'a'], ['x-amz-meta-big', 'x'.repeat(21 * 1024)]]), status: 400, code: 'MaxPostPreDataLengthExceededError' },
  ];
  for (const c of cases) {
    const answer = await post(bucket, c.form(), 'file' in c ? c.file : file);
    t.equal(answer.status, c.status, `${c.name}: status (${answer.body})`);
    t.equal(answer.code, c.code, `${c.name}: ${c.code}`);
    if (c.message !== undefined) t.match(answer.message, c.message, `${c.name}: message`);
  }
  t.same(await keysIn(bucket), [], 'no failed form wrote an object');
});

t.test('a body that is not well-formed multipart/form-data, or not a form at all', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const plain = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body: 'key=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const plainBody = await plain.text();
  t.equal(plain.status, 412);
  t.equal(xmlField(plainBody, 'Code'), 'PreconditionFailed');
  // A signed form whose body ends inside the file part: the closing boundary never comes.
  const truncated = rawForm('XyZ', signedForm(alice.keys, bucket, [['key', 'a']]), 'half a fi');
  const broken = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body: truncated, headers: { 'content-type': 'multipart/form-data; boundary=XyZ' } });
  const brokenBody = await broken.text();
  t.equal(broken.status, 400, brokenBody);
  t.equal(xmlField(brokenBody, 'Code'), 'MalformedPOSTRequest');
  const complete = await fetch(`${cluster.endpoint}/${bucket}`, {
    method: 'POST',
    body: `${rawForm('XyZ', signedForm(alice.keys, bucket, [['key', 'b']]), 'whole')}\r\n--XyZ--\r\n`,
    headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
  });
  t.equal(complete.status, 204, `the same form, finished, is taken (${await complete.text()})`);
  t.equal((await read(bucket, 'b')).toString(), 'whole');
  await cluster.client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'b' }));
  const garbage = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body: 'not a form at all', headers: { 'content-type': 'multipart/form-data; boundary=XyZ' } });
  const garbageBody = await garbage.text();
  t.equal(garbage.status, 400, garbageBody);
  t.match(xmlField(garbageBody, 'Code'), /^(MalformedPOSTRequest|InvalidArgument)$/, 'a body without parts is refused');
  const noBoundary = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body: 'x', headers: { 'content-type': 'multipart/form-data; charset=utf-8' } });
  t.equal(xmlField(await noBoundary.text(), 'Code'), 'MalformedPOSTRequest');
  t.same(await keysIn(bucket), []);
});

t.test('the form is authorised as its signer: ACLs and bucket policies as for PutObject, anonymous only where public write is granted', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const bobForm = (key: string): Field[] => signedForm(bob.keys, bucket, [['key', key]]);
  const refused = await post(bucket, bobForm('bob.txt'), Buffer.from('b'));
  t.equal(refused.code, 'AccessDenied', 'bob may not write alice\'s private bucket');
  const anonymous = await post(bucket, [['key', 'anon.txt']], Buffer.from('a'));
  t.equal(anonymous.status, 403, 'an unsigned form is anonymous');
  t.equal(anonymous.code, 'AccessDenied');
  t.same(await keysIn(bucket), []);
  await alice.client.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/inbox/*` }],
      }),
    }),
  );
  t.equal((await post(bucket, bobForm('inbox/bob.txt'), Buffer.from('b'))).status, 204, 'a policy opening inbox/ to bob lets his form in');
  t.equal((await post(bucket, bobForm('outside.txt'), Buffer.from('b'))).code, 'AccessDenied', 'but only there: the key is the resource');
  await alice.client.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' }));
  const open = await post(bucket, [['key', 'anon.txt']], Buffer.from('a'));
  t.equal(open.status, 204, `public write admits an unsigned form (${open.body})`);
  t.same((await keysIn(bucket)).sort(), ['anon.txt', 'inbox/bob.txt']);
  t.equal((await read(bucket, 'anon.txt')).toString(), 'a');
});

t.test('a file far over content-length-range is refused while it streams, and nothing is kept', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const answer = await post(bucket, signedForm(alice.keys, bucket, [['key', 'huge.bin']], [['content-length-range', 0, 1024]]), randomBytes(16 * 1024 * 1024));
  t.equal(answer.status, 400, answer.body);
  t.equal(answer.code, 'EntityTooLarge');
  t.same(await keysIn(bucket), []);
});

t.test('a file of many stripes streams through and reads back whole', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const file = randomBytes(9 * 1024 * 1024 + 17);
  const answer = await post(bucket, signedForm(alice.keys, bucket, [['key', 'big.bin']], [['content-length-range', 0, 10 * 1024 * 1024]]), file);
  t.equal(answer.status, 204, answer.body);
  t.ok((await read(bucket, 'big.bin')).equals(file));
});

t.test('a form upload past the bucket quota is refused with QuotaExceeded and stores nothing', async (t) => {
  const bucket = bucketName('post');
  await alice.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const code = await runAdminCli(['bucket', 'quota', bucket, '--max-bytes', '1000', '--config', configFile], {}, { stdout: () => undefined, stderr: () => undefined });
  t.equal(code, 0, 'the quota is set');
  const form = (key: string): Field[] => signedForm(alice.keys, bucket, [['key', key]]);
  // Until the gateway follows the quota (its bucket cache), the probe is taken and deleted again.
  await until(
    'the gateway follows the quota',
    async () => {
      const answer = await post(bucket, form('probe'), randomBytes(1001));
      if (answer.status === 204) await alice.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'probe' }));
      return answer.status === 403;
    },
    20_000,
  );
  const refused = await post(bucket, form('big.bin'), randomBytes(1001));
  t.same([refused.status, refused.code], [403, 'QuotaExceeded'], 'the form past the quota is refused with QuotaExceeded');
  t.notOk((await keysIn(bucket)).includes('big.bin'), 'nothing is stored');
  const taken = await post(bucket, form('small.bin'), randomBytes(1000));
  t.equal(taken.status, 204, 'a form that fits is taken');
});

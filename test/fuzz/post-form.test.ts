import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readPostForm } from '../../src/gateway/handlers/object/post-form.js';
import { checkPostPolicy, parsePostPolicy, S3Error } from '../../src/gateway/s3/index.js';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { xmlField } from '../gateway/raw-s3.js';

/**
 * The POST upload's parsers against arbitrary input: a policy document either parses or is
 * InvalidPolicyDocument, a form either meets it or is AccessDenied; a multipart body either yields
 * its fields and file or fails with an S3 error, never hangs; and over HTTP, a signed form damaged
 * anywhere before its file is answered with an S3 error (never a 500) and writes nothing.
 */

const POST_ERRORS = new Set(['InvalidPolicyDocument', 'AccessDenied', 'MalformedPOSTRequest', 'MaxPostPreDataLengthExceededError', 'InvalidArgument', 'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'EntityTooLarge', 'EntityTooSmall', 'KeyTooLongError', 'PreconditionFailed', 'MalformedXML', 'InvalidTag', 'AuthorizationQueryParametersError']);

function codeOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
}

const NOW = Date.parse('2026-06-01T00:00:00Z');

/** JSON shaped like policy documents: the real names and operators, mixed with noise. */
const policyLike = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('2026-07-01T00:00:00Z', '2026-01-01T00:00:00.000Z', 'eq', 'starts-with', 'content-length-range', '$key', '$Content-Type', '$bucket', 'b', 'uploads/', ''),
    fc.string(),
    fc.integer({ min: -5, max: 2000 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('expiration', 'conditions', 'key', 'bucket', 'acl', 'x'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const formFields = fc.dictionary(fc.constantFrom('key', 'content-type', 'acl', 'x-amz-meta-a', 'x-ignore-me', 'success_action_status', 'policy', 'bucket'), fc.constantFrom('', 'b', 'uploads/x', 'image/png', 'a'), { maxKeys: 6 });

t.test('parsePostPolicy and checkPostPolicy: any input is a policy met, InvalidPolicyDocument or AccessDenied', async (t) => {
  fc.assert(
    fc.property(fc.oneof(policyLike.map((v) => Buffer.from(JSON.stringify(v)).toString('base64')), fc.string(), fc.base64String()), formFields, (encoded, fields) => {
      const parsed = codeOf(() => parsePostPolicy(encoded));
      if (parsed !== 'ok') return parsed === 'InvalidPolicyDocument';
      const map = new Map(Object.entries(fields));
      const checked = codeOf(() => checkPostPolicy(parsePostPolicy(encoded), map, 'b', NOW));
      if (checked !== 'ok') return checked === 'AccessDenied';
      // A form that passes has every field named by a condition (or exempt), and its size range is sane.
      const range = checkPostPolicy(parsePostPolicy(encoded), map, 'b', NOW);
      return range.minBytes >= 0 && (range.maxBytes === undefined || Number.isFinite(range.maxBytes));
    }),
    { numRuns: 5000 },
  );
  t.pass('5,000 documents and forms');
});

t.test('checkPostPolicy: conditions as S3 reads them', async (t) => {
  const encode = (conditions: unknown[], expiration = '2026-07-01T00:00:00Z'): string => Buffer.from(JSON.stringify({ expiration, conditions })).toString('base64');
  const check = (conditions: unknown[], fields: Record<string, string>, expiration?: string) => codeOf(() => checkPostPolicy(parsePostPolicy(encode(conditions, expiration)), new Map(Object.entries(fields)), 'b', NOW));
  t.equal(check([{ key: 'a' }, { bucket: 'b' }], { key: 'a' }), 'ok', 'exact match; bucket is the request\'s');
  t.equal(check([{ Key: 'a' }], { key: 'a' }), 'ok', 'field names are case-insensitive');
  t.equal(check([['eq', '$key', 'a']], { key: 'b' }), 'AccessDenied');
  t.equal(check([['starts-with', '$key', '']], { key: 'anything' }), 'ok', 'an empty prefix allows any value');
  t.equal(check([['starts-with', '$Content-Type', 'image/'], { key: 'k' }], { key: 'k', 'content-type': 'image/png, image/jpeg' }), 'ok', 'each listed Content-Type must start with the prefix');
  t.equal(check([['starts-with', '$Content-Type', 'image/'], { key: 'k' }], { key: 'k', 'content-type': 'image/png, text/html' }), 'AccessDenied');
  t.equal(check([{ key: 'k' }], { key: 'k', 'x-ignore-tracking': '1', 'x-amz-signature': 's', policy: 'p' }), 'ok', 'x-ignore-*, signature and policy need no condition');
  t.equal(check([{ key: 'k' }], { key: 'k', acl: 'public-read' }), 'AccessDenied', 'any other field does');
  t.equal(check([{ key: 'k' }], { key: 'k' }, '2026-05-31T23:59:59Z'), 'AccessDenied', 'expired');
  t.equal(check([['content-length-range', 5, 'x']], {}), 'InvalidPolicyDocument');
  t.equal(check([['between', '$key', 'a']], { key: 'a' }), 'InvalidPolicyDocument');
  t.equal(check([{ key: 'k' }], { key: 'k' }, 'tomorrow'), 'InvalidPolicyDocument');
  const range = checkPostPolicy(parsePostPolicy(encode([['content-length-range', 10, 100], ['content-length-range', '20', '200']])), new Map(), 'b', NOW);
  t.same(range, { minBytes: 20, maxBytes: 100 }, 'several ranges narrow each other');
});

const BOUNDARY = 'b0undary';

function multipart(fields: [string, string][], file: string, tail = true): string {
  const parts = fields.map(([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  return `${parts.join('')}--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\n${file}${tail ? `\r\n--${BOUNDARY}--\r\n` : ''}`;
}

/** Runs a body through the form parser: its outcome, and the file's bytes when it had one. */
async function parse(body: Buffer, contentType = `multipart/form-data; boundary=${BOUNDARY}`): Promise<{ head: string; file?: string; fileRead?: string; done: string }> {
  const form = readPostForm(Readable.from([body]), contentType);
  const outcome = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (err: unknown) => (err instanceof S3Error ? err.code : `not an S3Error: ${String(err)}`));
  let head: Awaited<typeof form.head> | undefined;
  const headCode = await outcome(form.head.then((h) => void (head = h)));
  let file: { file: string; fileRead: string } | undefined;
  if (head !== undefined) {
    const chunks: Buffer[] = [];
    const { file: parts } = head;
    const read = await outcome((async () => { for await (const c of parts) chunks.push(c); })());
    file = { file: read === 'ok' ? Buffer.concat(chunks).toString('latin1') : read, fileRead: read };
  }
  return { head: headCode, ...file, done: await outcome(form.done) };
}

t.test('readPostForm: any body yields fields and file, or an S3 error, and always finishes', async (t) => {
  const valid = Buffer.from(multipart([['key', 'k'], ['x-amz-meta-a', '1']], 'the file'), 'latin1');
  const whole = await parse(valid);
  t.same(whole, { head: 'ok', file: 'the file', fileRead: 'ok', done: 'ok' }, 'a well-formed form');
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
        fc.tuple(fc.nat(valid.length), fc.nat(valid.length), fc.integer({ min: 0, max: 255 })).map(([cut, at, byte]) => {
          const copy = Buffer.from(valid.subarray(0, Math.max(cut, 1)));
          if (at < copy.length) copy[at] = byte;
          return copy;
        }),
      ),
      async (body) => {
        const result = await parse(body);
        return [result.head, result.fileRead ?? 'ok', result.done].every((code) => code === 'ok' || POST_ERRORS.has(code));
      },
    ),
    { numRuns: 1500 },
  );
  t.same(await parse(Buffer.from(multipart([['key', 'k']], 'cut sho', false), 'latin1')), { head: 'ok', file: 'MalformedPOSTRequest', fileRead: 'MalformedPOSTRequest', done: 'MalformedPOSTRequest' }, 'a body that stops inside the file');
  t.same((await parse(valid, 'multipart/form-data')).head, 'MalformedPOSTRequest', 'no boundary');
  t.same((await parse(Buffer.from(multipart([['key', 'x'.repeat(30_000)]], 'f'), 'latin1'))).head, 'MaxPostPreDataLengthExceededError');
  t.same((await parse(Buffer.from(multipart([['key', 'a'], ['KEY', 'b']], 'f'), 'latin1'))).head, 'InvalidArgument', 'a field given twice');
  t.same(await parse(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--${BOUNDARY}--\r\n`, 'latin1')), { head: 'InvalidArgument', done: 'ok' }, 'no file');
});

t.test('over HTTP: a signed form damaged before its file gets an S3 error, never a 500, and writes nothing wrong', async (t) => {
  const cluster = await startCluster({ nodeHealing: false });
  t.teardown(() => cluster.close());
  const bucket = bucketName('postfuzz');
  await cluster.client().send(new CreateBucketCommand({ Bucket: bucket }));
  const { accessKeyId, secretAccessKey } = TEST_CREDENTIALS;
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const credential = `${accessKeyId}/${date.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const signed: [string, string][] = [
    ['key', 'target'],
    ['Content-Type', 'text/plain'],
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', credential],
    ['x-amz-date', date],
  ];
  const policy = Buffer.from(
    JSON.stringify({ expiration: new Date(Date.now() + 3_600_000).toISOString(), conditions: [...signed.map(([k, v]) => ({ [k]: v })), ['content-length-range', 1, 100]] }),
  ).toString('base64');
  let signingKey: Buffer = createHmac('sha256', `AWS4${secretAccessKey}`).update(date.slice(0, 8)).digest();
  for (const part of ['us-east-1', 's3', 'aws4_request']) signingKey = createHmac('sha256', signingKey).update(part).digest();
  const fields: [string, string][] = [...signed, ['policy', policy], ['x-amz-signature', createHmac('sha256', signingKey).update(policy).digest('hex')]];
  const fileText = 'the body';
  const valid = Buffer.from(multipart(fields, fileText), 'latin1');
  const fileStart = valid.indexOf(Buffer.from(fileText));
  const send = async (body: Buffer) => {
    const response = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } });
    const text = await response.text();
    return { status: response.status, code: xmlField(text, 'Code') };
  };
  const first = await send(valid);
  t.equal(first.status, 204, 'the undamaged form is taken');
  const stored = createHash('md5').update(fileText).digest('hex');
  let taken = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        // A byte before the file changed to a byte that is not a case variant of it.
        fc.tuple(fc.nat(fileStart - 1), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
          const copy = Buffer.from(valid);
          const original = copy[at] as number;
          copy[at] = String.fromCharCode(byte).toLowerCase() === String.fromCharCode(original).toLowerCase() ? (original ^ 0x01 ^ 0x20) & 0xff : byte;
          return copy;
        }),
        // The body cut anywhere before its closing boundary.
        fc.nat(valid.length - BOUNDARY.length - 8).map((cut) => valid.subarray(0, cut)),
      ),
      async (body) => {
        const { status, code } = await send(body);
        if (status >= 500) return false;
        if (status < 300) {
          // A damage S3 would not notice (inside a header's own whitespace, say) must still store the file itself.
          taken += 1;
          const got = await cluster.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'target' }));
          return got.ETag === `"${stored}"`;
        }
        return code !== undefined && POST_ERRORS.has(code);
      },
    ),
    { numRuns: 150 },
  );
  t.comment(`${taken} of 150 damaged forms were still valid forms`);
  const listed = await cluster.client().send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same((listed.Contents ?? []).map((c) => c.Key), ['target'], 'no other key was ever written');
});

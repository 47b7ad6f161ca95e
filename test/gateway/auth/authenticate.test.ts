import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { t } from 'tap';
import { HttpRequest, buildQueryString, extendedEncodeURIComponent } from '@smithy/core/protocols';
import { authenticate, type AuthRequest } from '../../../src/gateway/auth/index.js';
import {
  DOC_ACCESS_KEY,
  DOC_DATE,
  DOC_NOW,
  DOC_SECRET,
  EMPTY_SHA256,
  OTHER_ACCESS_KEY,
  codeOf,
  credentials,
  hmac,
  sha256Hex,
  signingKey,
  smithySigner,
  toNodeHeaders,
} from './helpers.js';

const HOST = 'examplebucket.s3.amazonaws.com';
const DOC_CREDENTIAL = `${DOC_ACCESS_KEY}/20130524/us-east-1/s3/aws4_request`;
const auth = (req: AuthRequest, nowMs = DOC_NOW, maxSkewMs?: number) =>
  authenticate(req, credentials, maxSkewMs === undefined ? { nowMs } : { nowMs, maxSkewMs });
/** The error `fn` throws (the S3Error itself, to match its message and fields), or 'no error'. */
const errorOf = (fn: () => unknown): unknown => {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err;
  }
};
const failure = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return codeOf(err);
  }
};

function docGet(overrides: Partial<Record<string, string>> = {}, signature = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'): AuthRequest {
  const headers: Record<string, string | undefined> = {
    host: HOST,
    range: 'bytes=0-9',
    'x-amz-content-sha256': EMPTY_SHA256,
    'x-amz-date': DOC_DATE,
    authorization: `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL},SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=${signature}`,
    ...overrides,
  };
  return { method: 'GET', rawPath: '/test.txt', rawQuery: '', headers };
}

t.test('the AWS documentation header-auth examples verify', async (t) => {
  const get = auth(docGet());
  t.match(get, { accessKeyId: DOC_ACCESS_KEY, presigned: false, payloadMode: 'sha256', payloadSha256: EMPTY_SHA256, region: 'us-east-1' });

  const putHash = sha256Hex('Welcome to Amazon S3.');
  t.equal(putHash, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
  const put = auth({
    method: 'PUT',
    rawPath: '/test%24file.text',
    rawQuery: '',
    headers: {
      host: HOST,
      date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date': DOC_DATE,
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': putHash,
      authorization: `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL},SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd`,
    },
  });
  t.equal(put.payloadSha256, putHash);

  const bucketGet = (rawQuery: string, signature: string): AuthRequest => ({
    method: 'GET',
    rawPath: '/',
    rawQuery,
    headers: {
      host: HOST,
      'x-amz-date': DOC_DATE,
      'x-amz-content-sha256': EMPTY_SHA256,
      authorization: `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`,
    },
  });
  t.ok(auth(bucketGet('lifecycle', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543')), 'GET ?lifecycle');
  t.ok(auth(bucketGet('max-keys=2&prefix=J', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7')), 'list objects');
  t.ok(auth(bucketGet('prefix=J&max-keys=2', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7')), 'query order on the wire does not matter');
});

t.test('the AWS documentation presigned URL verifies until it expires', async (t) => {
  const url = (expires = '86400', extra = ''): AuthRequest => ({
    method: 'GET',
    rawPath: '/test.txt',
    rawQuery:
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(DOC_CREDENTIAL)}&X-Amz-Date=${DOC_DATE}` +
      `&X-Amz-Expires=${expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404${extra}`,
    headers: { host: HOST },
  });
  t.match(auth(url()), { presigned: true, payloadMode: 'unsigned', accessKeyId: DOC_ACCESS_KEY });
  t.ok(auth(url(), DOC_NOW + 86_400_000), 'valid at the last millisecond');
  t.equal(failure(() => auth(url(), DOC_NOW + 86_400_001)), 'AccessDenied');
  try {
    auth(url(), DOC_NOW + 86_400_001);
  } catch (err) {
    t.match(err, { message: 'Request has expired', fields: { 'X-Amz-Expires': '86400' } });
  }
  t.equal(failure(() => auth(url(), DOC_NOW - 16 * 60_000)), 'AccessDenied', 'dated in the future beyond the skew');
  t.equal(failure(() => auth(url('604801'))), 'AuthorizationQueryParametersError', 'more than seven days');
  t.equal(failure(() => auth(url('1e3'))), 'AuthorizationQueryParametersError', 'not a number');
  t.equal(failure(() => auth(url('86401'))), 'SignatureDoesNotMatch', 'expiry is signed');
  t.equal(failure(() => auth(url('86400', '&x-id=GetObject'))), 'SignatureDoesNotMatch', 'an added parameter is signed');
  t.equal(failure(() => auth({ ...url(), headers: { host: HOST, authorization: 'AWS4-HMAC-SHA256 x' } })), 'InvalidArgument', 'two mechanisms');
  t.equal(failure(() => auth({ ...url(), headers: { host: HOST, 'x-amz-meta-a': 'b' } })), 'AccessDenied', 'an unsigned x-amz header');
  const missing = url().rawQuery.replace(/&X-Amz-SignedHeaders=host/, '');
  t.equal(failure(() => auth({ ...url(), rawQuery: missing })), 'AuthorizationQueryParametersError');
  const sigv4a = url().rawQuery.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256');
  t.equal(failure(() => auth({ ...url(), rawQuery: sigv4a })), 'AuthorizationQueryParametersError');
});

t.test('header auth: clock skew, keys, missing and malformed parts', async (t) => {
  t.ok(auth(docGet(), DOC_NOW + 15 * 60_000), 'fifteen minutes late is fine');
  t.ok(auth(docGet(), DOC_NOW - 15 * 60_000), 'fifteen minutes early is fine');
  t.equal(failure(() => auth(docGet(), DOC_NOW + 15 * 60_000 + 1)), 'RequestTimeTooSkewed');
  t.equal(failure(() => auth(docGet(), DOC_NOW - 15 * 60_000 - 1)), 'RequestTimeTooSkewed');
  t.equal(failure(() => auth(docGet(), DOC_NOW + 61_000, 60_000)), 'RequestTimeTooSkewed', 'configurable skew');

  const authz = (credential: string, signedHeaders = 'host;range;x-amz-content-sha256;x-amz-date') =>
    docGet({ authorization: `AWS4-HMAC-SHA256 Credential=${credential},SignedHeaders=${signedHeaders},Signature=${'0'.repeat(64)}` });
  t.equal(failure(() => auth(authz(`NOSUCHKEY/20130524/us-east-1/s3/aws4_request`))), 'InvalidAccessKeyId');
  t.equal(failure(() => auth(authz(`${DOC_ACCESS_KEY}/20130524/us-east-1/ec2/aws4_request`))), 'AuthorizationHeaderMalformed');
  t.equal(failure(() => auth(authz(`${DOC_ACCESS_KEY}/20130524/us-east-1/s3/aws5_request`))), 'AuthorizationHeaderMalformed');
  t.equal(failure(() => auth(authz(`${DOC_ACCESS_KEY}/20130524/s3/aws4_request`))), 'AuthorizationHeaderMalformed');
  t.equal(failure(() => auth(authz(`${DOC_ACCESS_KEY}/20130525/us-east-1/s3/aws4_request`))), 'AuthorizationHeaderMalformed', 'scope date is not the request date');
  t.equal(failure(() => auth(authz(DOC_CREDENTIAL, 'Host;range'))), 'AuthorizationHeaderMalformed', 'names are lower-case');
  t.equal(failure(() => auth(docGet({ authorization: `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL}, Signature=${'0'.repeat(64)}` }))), 'AuthorizationHeaderMalformed');
  t.equal(failure(() => auth(docGet({ authorization: `AWS ${DOC_ACCESS_KEY}:frJIUN8DYpKDtOLCwo//yllqDzg=` }))), 'SignatureDoesNotMatch', 'SigV2 headers are verified');
  t.equal(failure(() => auth(docGet({ authorization: 'AWS nocolon' }))), 'InvalidArgument', 'a malformed SigV2 header');
  const v2 = (dates: Partial<Record<string, string>>) => docGet({ authorization: `AWS ${DOC_ACCESS_KEY}:frJIUN8DYpKDtOLCwo//yllqDzg=`, 'x-amz-date': undefined, ...dates });
  t.equal(failure(() => auth(v2({}))), 'AccessDenied', 'SigV2 without Date or x-amz-date');
  t.equal(failure(() => auth(v2({ date: '' }))), 'AccessDenied', 'SigV2 with an empty Date');
  t.equal(failure(() => auth(v2({ date: 'Wed, 31 Dec 1969 23:59:59 GMT' }))), 'AccessDenied', 'SigV2 with a Date before the epoch: AccessDenied, not RequestTimeTooSkewed');
  t.equal(failure(() => auth(v2({ date: 'Mon, 01 Jan 2001 00:00:00 GMT' }))), 'RequestTimeTooSkewed', 'SigV2 with a Date long past but after the epoch');
  t.equal(failure(() => auth(docGet({ 'x-amz-content-sha256': undefined }))), 'InvalidRequest', 'x-amz-content-sha256 is required');
  t.equal(failure(() => auth(docGet({ 'x-amz-content-sha256': 'abc' }))), 'InvalidArgument');
  t.equal(failure(() => auth(docGet({ 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' }))), 'NotImplemented');
  t.equal(failure(() => auth(docGet({ 'x-amz-date': '20130524T250000Z' }))), 'AccessDenied', 'impossible date');
  t.equal(failure(() => auth(docGet({ 'x-amz-meta-extra': 'x' }))), 'AccessDenied', 'unsigned x-amz-* header');
  t.ok(auth(docGet({ 'user-agent': 'x', expect: '100-continue', 'x-amzn-trace-id': 'Root=1' })), 'other unsigned headers are fine');
  t.equal(auth({ method: 'GET', rawPath: '/test.txt', rawQuery: '', headers: { host: HOST } }).anonymous, true, 'anonymous: no identity, judged by the access decision');
  t.equal(failure(() => auth({ method: 'GET', rawPath: '/t', rawQuery: 'AWSAccessKeyId=a&Signature=b&Expires=1', headers: {} })), 'AccessDenied', 'an expired SigV2 URL');
  t.equal(failure(() => auth(docGet({ 'x-amz-decoded-content-length': 'x' }, 'f'.repeat(64)))), 'AccessDenied', 'unsigned decoded length');
});

t.test('an anonymous upload is unframed as its headers say: aws-chunked bodies are decoded, signed framings refused', async (t) => {
  const anonymousPut = (headers: Record<string, string>) => auth({ method: 'PUT', rawPath: '/b/k', rawQuery: '', headers: { host: HOST, ...headers } });
  const chunked = { 'content-encoding': 'aws-chunked', 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-decoded-content-length': '11' };
  // botocore's UNSIGNED client over HTTPS, 1.36 and later:
  t.match(anonymousPut({ ...chunked, 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' }), { anonymous: true, payloadMode: 'streaming-unsigned-trailer', decodedContentLength: 11 });
  t.match(anonymousPut(chunked), { payloadMode: 'streaming-unsigned-trailer', decodedContentLength: 11 }, 'aws-chunked with no x-amz-content-sha256 at all');
  t.match(anonymousPut({ 'content-encoding': 'gzip' }), { payloadMode: 'unsigned', decodedContentLength: undefined }, 'a plain body');
  t.match(anonymousPut({ 'x-amz-content-sha256': 'F'.repeat(64) }), { payloadMode: 'sha256', payloadSha256: 'f'.repeat(64) }, 'a declared hash is still checked');
  t.equal(failure(() => anonymousPut({ 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' })), 'InvalidRequest', 'signed chunks without a signature');
  t.equal(failure(() => anonymousPut({ 'x-amz-content-sha256': 'not-a-hash' })), 'InvalidArgument', 'an unknown payload declaration');
});

t.test('the Date header can stand in for x-amz-date', async (t) => {
  const headers = { host: HOST, date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-content-sha256': EMPTY_SHA256 };
  const canonical = ['GET', '/a', '', `date:${headers.date}`, `host:${HOST}`, `x-amz-content-sha256:${EMPTY_SHA256}`, '', 'date;host;x-amz-content-sha256', EMPTY_SHA256].join('\n');
  const scope = '20130524/us-east-1/s3/aws4_request';
  const sts = ['AWS4-HMAC-SHA256', DOC_DATE, scope, sha256Hex(canonical)].join('\n');
  const signature = hmac(signingKey(DOC_SECRET, '20130524', 'us-east-1'), sts).toString('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL}, SignedHeaders=date;host;x-amz-content-sha256, Signature=${signature}`;
  t.ok(auth({ method: 'GET', rawPath: '/a', rawQuery: '', headers: { ...headers, authorization } }));
});

t.test('the signing key never reaches a log line', async (t) => {
  const result = auth(docGet());
  const keyHex = signingKey(DOC_SECRET, '20130524', 'us-east-1').toString('hex');
  t.notOk(JSON.stringify(result).includes(keyHex));
  t.notOk(inspect(result, { depth: 10, showHidden: true }).includes(keyHex));
  t.notOk(JSON.stringify(result).includes(DOC_SECRET));
});

// --- Requests signed by the AWS SDK's own signer ------------------------------------------------------------

const PATH_ALPHABET = ['a', 'Z', '0', '-', '_', '.', '~', ' ', '+', '%', '!', '*', "'", '(', ')', '$', '&', ',', ';', '=', ':', '@', '#', '?', '[', ']', 'é', '€', '日本', '😀', '\u00a0', '/'];
const QUERY_ALPHABET = [...PATH_ALPHABET.filter((c) => c !== '/'), '/', 'x'];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)]!;
}

function randomText(next: () => number, alphabet: readonly string[], max: number): string {
  return Array.from({ length: Math.floor(next() * (max + 1)) }, () => pick(next, alphabet)).join('');
}

interface Signed {
  request: AuthRequest;
  query: Record<string, string>;
  headers: Record<string, string>;
}

async function sdkSigned(seed: number, presign: boolean): Promise<Signed> {
  const { rng } = await import('./helpers.js');
  const next = rng(seed);
  const key = `dir/${randomText(next, PATH_ALPHABET, 12)}`;
  const path = `/bucket-${seed}/${key.split('/').map(extendedEncodeURIComponent).join('/')}`;
  const query: Record<string, string> = {};
  for (let i = Math.floor(next() * 4); i > 0; i--) query[`k${randomText(next, QUERY_ALPHABET, 4)}`] = randomText(next, QUERY_ALPHABET, 6);
  const headers: Record<string, string> = {
    host: 'localhost:9000',
    'x-amz-meta-note': `  ${randomText(next, ['a', ' ', '  ', '\t', 'é', '€'], 8)}x  y  `,
    'content-type': 'text/plain;  charset=utf-8',
  };
  // As @aws-sdk/s3-request-presigner does: the payload is UNSIGNED-PAYLOAD (hoisted into the query), content-type unsigned.
  headers['x-amz-content-sha256'] = presign ? 'UNSIGNED-PAYLOAD' : pick(next, [EMPTY_SHA256, 'UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER']);
  const region = pick(next, ['us-east-1', 'eu-central-1', 'garage', 'tessera-local']);
  const method = pick(next, ['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
  const request = new HttpRequest({ method, protocol: 'http:', hostname: 'localhost', port: 9000, path, query, headers });
  const signer = smithySigner(region);
  const signed = presign
    ? await signer.presign(request, { signingDate: new Date(DOC_NOW), expiresIn: 3600, unsignableHeaders: new Set(['content-type']) })
    : await signer.sign(request, { signingDate: new Date(DOC_NOW) });
  const signedQuery = signed.query as Record<string, string>;
  const signedHeaders = signed.headers;
  return {
    request: { method, rawPath: path, rawQuery: buildQueryString(signedQuery), headers: toNodeHeaders(signedHeaders) },
    query: signedQuery,
    headers: signedHeaders,
  };
}

// Equivalent spellings of the same bytes on the wire: lower-case hex, sub-delimiters left bare, '+' for a query space.
function respell(req: AuthRequest): AuthRequest {
  const bare = { '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';', '%3D': '=', '%3A': ':', '%40': '@', '%7E': '~' };
  const rawPath = req.rawPath.replace(/%[0-9A-F]{2}/g, (m) => bare[m as keyof typeof bare] ?? m.toLowerCase());
  const rawQuery = req.rawQuery.replace(/%20/g, '+').replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  return { ...req, rawPath, rawQuery };
}

t.test('SDK-signed header requests verify, in any equivalent wire spelling', async (t) => {
  for (let seed = 1; seed <= 200; seed++) {
    const { request } = await sdkSigned(seed, false);
    const label = `${request.method} ${request.rawPath}?${request.rawQuery}`;
    try {
      auth(request);
      auth(respell(request));
    } catch (err) {
      t.fail(`${label}: ${codeOf(err)} ${(err as { fields?: unknown }).fields ? JSON.stringify((err as { fields: unknown }).fields) : ''}`);
      return;
    }
  }
  t.pass('200 random requests');
});

t.test('SDK-presigned URLs verify, in any equivalent wire spelling', async (t) => {
  for (let seed = 1; seed <= 200; seed++) {
    const { request } = await sdkSigned(seed, true);
    try {
      t.equal(auth(request).presigned, true);
      auth(respell(request));
    } catch (err) {
      t.fail(`${request.method} ${request.rawPath}?${request.rawQuery}: ${codeOf(err)}`);
      return;
    }
  }
});

t.test('every signed part of an SDK-signed request is covered: tampering with any fails', async (t) => {
  for (const presign of [false, true]) {
    const { request, query } = await sdkSigned(7, presign);
    const headers = request.headers as Record<string, string>;
    const sigParam = presign ? 'X-Amz-Signature' : undefined;
    const tampered: [string, AuthRequest][] = [
      ['method', { ...request, method: request.method === 'GET' ? 'PUT' : 'GET' }],
      ['path', { ...request, rawPath: `${request.rawPath}x` }],
      ['path case', { ...request, rawPath: request.rawPath.replace('bucket', 'Bucket') }],
      ['query added', { ...request, rawQuery: `${request.rawQuery}&extra=1` }],
      ['query value added', { ...request, rawQuery: `${request.rawQuery}&extra` }],
      ['host', { ...request, headers: { ...headers, host: 'localhost:9001' } }],
      ['metadata', { ...request, headers: { ...headers, 'x-amz-meta-note': 'changed' } }],
    ];
    if (presign) {
      for (const name of Object.keys(query).filter((k) => k !== sigParam)) {
        const copy = { ...query, [name]: name === 'X-Amz-Date' ? '20130524T000001Z' : name === 'X-Amz-Expires' ? '3601' : `${query[name]}x` };
        tampered.push([`query ${name}`, { ...request, rawQuery: buildQueryString(copy) }]);
      }
      const sig = query['X-Amz-Signature']!;
      tampered.push(['signature', { ...request, rawQuery: buildQueryString({ ...query, 'X-Amz-Signature': sig.replace(/^./, sig[0] === 'a' ? 'b' : 'a') }) }]);
    } else {
      const authorization = headers.authorization!;
      tampered.push(
        ['content-type', { ...request, headers: { ...headers, 'content-type': 'text/html' } }],
        ['x-amz-date', { ...request, headers: { ...headers, 'x-amz-date': '20130524T000001Z' } }],
        ['x-amz-content-sha256', { ...request, headers: { ...headers, 'x-amz-content-sha256': 'f'.repeat(64) } }],
        ['signature', { ...request, headers: { ...headers, authorization: authorization.replace(/Signature=(.)/, (_, c) => `Signature=${c === 'a' ? 'b' : 'a'}`) } }],
        ['signature case', { ...request, headers: { ...headers, authorization: authorization.replace(/Signature=(.*)$/, (_, s: string) => `Signature=${s.toUpperCase()}`) } }],
        ['region', { ...request, headers: { ...headers, authorization: authorization.replace(/\/20130524\/[^/]+\//, '/20130524/us-west-2/') } }],
        ['access key', { ...request, headers: { ...headers, authorization: authorization.replace(DOC_ACCESS_KEY, OTHER_ACCESS_KEY) } }],
        ['signed header dropped', { ...request, headers: { ...headers, authorization: authorization.replace('content-type;', '') } }],
      );
    }
    for (const [what, req] of tampered) {
      const code = failure(() => auth(req));
      // A mangled auth parameter may be refused as malformed before any signature is computed: also a refusal.
      const refused = ['SignatureDoesNotMatch', 'AccessDenied', 'AuthorizationQueryParametersError', 'InvalidAccessKeyId', 'InvalidArgument'];
      t.ok(refused.includes(code ?? ''), `${presign ? 'presigned' : 'header'}: ${what} -> ${code}`);
    }
  }
});

t.test('requests signed by botocore (recorded from boto3 1.43 with the documentation key) verify', async (t) => {
  const nowMs = Date.UTC(2026, 10, 21, 20, 17, 45);
  const put = auth(
    {
      method: 'PUT',
      rawPath: '/bucket/d%C3%AFr/k%C3%A9y%20%2B%21%27%28%29%2A~.txt',
      rawQuery: 'partNumber=3&uploadId=a%2Bb%3D%2F&empty=',
      headers: {
        host: '127.0.0.1:9000',
        'x-amz-meta-note': 'a  b',
        'content-type': 'text/plain',
        'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==',
        'x-amz-date': '20261121T201745Z',
        'x-amz-content-sha256': sha256Hex('hello'),
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261121/eu-central-1/s3/aws4_request, SignedHeaders=content-md5;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-note, Signature=c6f6529fe7d79fb3122808f8afe6a3ba016b2636a8a7fce0028859c5985210ed',
      },
    },
    nowMs,
  );
  t.match(put, { region: 'eu-central-1', payloadMode: 'sha256', payloadSha256: sha256Hex('hello') });
  const presigned = auth(
    {
      method: 'GET',
      rawPath: '/bucket/a%20b%2Bc',
      rawQuery:
        'versionId=x%20y&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261121T201745Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=34ef529a4c08d40678021c470b8571f9b73de6d25c5158f7b85dabf384e4790a',
      headers: { host: '127.0.0.1:9000' },
    },
    nowMs + 604_800_000,
  );
  t.match(presigned, { presigned: true, payloadMode: 'unsigned' }, 'a seven-day URL on its last millisecond');
});

t.test('SigV2 presigned URLs, as boto3 and aws-cli v1 make them by default, verify against the AWS documentation example', async (t) => {
  // The query-string authentication example of the S3 SigV2 documentation (bucket johnsmith), in path style.
  const url = { method: 'GET', rawPath: '/johnsmith/photos/puppy.jpg', headers: { host: '127.0.0.1:9000' } };
  const query = (signature: string, expires = '1175139620') => `AWSAccessKeyId=${DOC_ACCESS_KEY}&Expires=${expires}&Signature=${signature}`;
  const before = 1175139620_000 - 60_000;
  const ok = auth({ ...url, rawQuery: query('NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D') }, before);
  t.equal(ok.accessKeyId, DOC_ACCESS_KEY);
  t.equal(ok.payloadMode, 'unsigned');
  t.equal(ok.presigned, true);
  t.equal(failure(() => auth({ ...url, rawQuery: query('NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D') }, 1175139620_000 + 1000)), 'AccessDenied', 'expired');
  t.equal(failure(() => auth({ ...url, rawQuery: query('NpgCjnDzrM%2BWFzoENXmpNDUsSn9%3D') }, before)), 'SignatureDoesNotMatch', 'tampered signature');
  t.equal(failure(() => auth({ ...url, rawPath: '/johnsmith/photos/kitten.jpg', rawQuery: query('NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D') }, before)), 'SignatureDoesNotMatch', 'another key');
  t.equal(failure(() => auth({ ...url, method: 'PUT', rawQuery: query('NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D') }, before)), 'SignatureDoesNotMatch', 'another method');
  t.equal(failure(() => auth({ ...url, rawQuery: query('NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D', '1175139700') }, before)), 'SignatureDoesNotMatch', 'a later expiry');
});

t.test('a changed secret key takes effect at once: requests signed with the old one are refused after the change', async (t) => {
  let secret = DOC_SECRET;
  const changing = { ...credentials, secretKeyFor: (id: string) => (id === DOC_ACCESS_KEY ? secret : credentials.secretKeyFor(id)) };
  const request = docGet();
  t.ok(authenticate(request, changing, { nowMs: DOC_NOW }), 'verifies under the secret it was signed with');
  secret = 'a-new-secret-for-the-same-access-key-0000';
  t.equal(failure(() => authenticate(request, changing, { nowMs: DOC_NOW })), 'SignatureDoesNotMatch', 'the same request under the new secret');
  secret = DOC_SECRET;
  t.ok(authenticate(request, changing, { nowMs: DOC_NOW }), 'and verifies again once the old secret is back');
});

t.test('a signature that leaves host out is 403 AccessDenied naming host in HeadersNotSigned, as S3 answers it', async (t) => {
  // Header auth: the signature itself is never reached, so any value shows the order of the checks.
  const header = docGet({ authorization: `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL},SignedHeaders=range;x-amz-content-sha256;x-amz-date,Signature=${'0'.repeat(64)}` });
  t.match(errorOf(() => auth(header)), { code: 'AccessDenied', message: 'There were headers present in the request which were not signed', fields: { HeadersNotSigned: 'host' } });
  // Presigned, as a signer that forgot host writes it (an empty list), and with another header in its place.
  for (const signedHeaders of ['', 'x-amz-date']) {
    const presigned: AuthRequest = {
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery:
        `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(DOC_CREDENTIAL)}&X-Amz-Date=${DOC_DATE}` +
        `&X-Amz-Expires=86400&X-Amz-SignedHeaders=${signedHeaders}&X-Amz-Signature=${'0'.repeat(64)}`,
      headers: { host: HOST },
    };
    t.match(errorOf(() => auth(presigned)), { code: 'AccessDenied', fields: { HeadersNotSigned: 'host' } }, `X-Amz-SignedHeaders=${signedHeaders}`);
  }
  const both = docGet({ 'x-amz-meta-a': 'b', authorization: `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL},SignedHeaders=range;x-amz-date,Signature=${'0'.repeat(64)}` });
  t.match(errorOf(() => auth(both)), { code: 'AccessDenied', fields: { HeadersNotSigned: 'host, x-amz-meta-a' } }, 'host first, then the unsigned x-amz-* headers');
});

/** The documentation's presigned GET of /test.txt, signed here for any X-Amz-Expires and X-Amz-Date. */
function presignedDocGet(expires: string, amzDate = DOC_DATE): AuthRequest {
  const query = [
    'X-Amz-Algorithm=AWS4-HMAC-SHA256',
    `X-Amz-Credential=${encodeURIComponent(DOC_CREDENTIAL)}`,
    `X-Amz-Date=${amzDate}`,
    `X-Amz-Expires=${expires}`,
    'X-Amz-SignedHeaders=host',
  ].join('&');
  const canonical = ['GET', '/test.txt', query, `host:${HOST}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const sts = ['AWS4-HMAC-SHA256', amzDate, '20130524/us-east-1/s3/aws4_request', sha256Hex(canonical)].join('\n');
  const signature = hmac(signingKey(DOC_SECRET, '20130524', 'us-east-1'), sts).toString('hex');
  return { method: 'GET', rawPath: '/test.txt', rawQuery: `${query}&X-Amz-Signature=${signature}`, headers: { host: HOST } };
}

t.test('X-Amz-Expires is 1 to 604800: zero has always expired, negative and too long are refused with S3\'s messages', async (t) => {
  const refusal = (req: AuthRequest): unknown => errorOf(() => auth(req));
  t.match(auth(presignedDocGet('1')), { presigned: true }, 'one second is the shortest lifetime');
  t.match(refusal(presignedDocGet('0')), { code: 'AccessDenied', message: 'Request has expired' }, 'zero, used in the second it was signed');
  t.match(
    refusal(presignedDocGet('0', '20130524T000500Z')),
    { code: 'AccessDenied', message: 'Request has expired' },
    'zero, dated five minutes ahead of the server clock (within the allowed skew)',
  );
  t.match(refusal(presignedDocGet('-1')), { code: 'AuthorizationQueryParametersError', message: 'X-Amz-Expires must be non-negative' });
  t.match(refusal(presignedDocGet('abc')), { code: 'AuthorizationQueryParametersError', message: 'X-Amz-Expires should be a number' });
  t.match(refusal(presignedDocGet('604801')), {
    code: 'AuthorizationQueryParametersError',
    message: 'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
  });
  t.match(auth(presignedDocGet('604800'), DOC_NOW + 604_800_000), { presigned: true }, 'seven days, on its last millisecond');
});

t.test('a SigV2 presigned URL is honoured until its Expires, which may be at most seven days ahead, as SigV4\'s X-Amz-Expires', async (t) => {
  const nowMs = Date.UTC(2026, 0, 1);
  const url = (expiresSeconds: number): AuthRequest => {
    const stringToSign = `GET\n\n\n${expiresSeconds}\n/johnsmith/photos/puppy.jpg`;
    const signature = createHmac('sha1', DOC_SECRET).update(stringToSign).digest('base64');
    return {
      method: 'GET',
      rawPath: '/johnsmith/photos/puppy.jpg',
      rawQuery: `AWSAccessKeyId=${DOC_ACCESS_KEY}&Expires=${expiresSeconds}&Signature=${encodeURIComponent(signature)}`,
      headers: { host: '127.0.0.1:9000' },
    };
  };
  const sevenDays = nowMs / 1000 + 7 * 86_400;
  t.match(auth(url(sevenDays), nowMs), { presigned: true, accessKeyId: DOC_ACCESS_KEY }, 'seven days ahead (aws s3 presign --expires-in 604800)');
  t.match(errorOf(() => auth(url(sevenDays + 1), nowMs)), { code: 'AccessDenied' }, 'a second more is refused');
  t.match(errorOf(() => auth(url(2_000_000_000), nowMs)), { code: 'AccessDenied' }, 'as are the years-long URLs boto2 and aws-cli v1 users made');
  t.match(auth(url(sevenDays), sevenDays * 1000), { presigned: true }, 'honoured until its last second');
  t.equal(failure(() => auth(url(sevenDays), sevenDays * 1000 + 1000)), 'AccessDenied', 'and refused once past');
});

t.test('SigV2 signs the sub-resources botocore and S3 sign: ?object-lock (GetObjectLockConfiguration) and the rest of the list', async (t) => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const nowMs = Date.parse(date);
  // botocore's HmacV1Auth (signature_version='s3') puts these in the canonical resource, and S3 computes it so.
  for (const subresource of ['object-lock', 'accelerate', 'replication', 'analytics', 'metrics', 'inventory', 'storageClass', 'select', 'select-type=2']) {
    const stringToSign = `GET\n\n\n${date}\n/johnsmith/?${subresource}`;
    const signature = createHmac('sha1', DOC_SECRET).update(stringToSign).digest('base64');
    const req: AuthRequest = { method: 'GET', rawPath: '/johnsmith/', rawQuery: subresource, headers: { host: '127.0.0.1:9000', date, authorization: `AWS ${DOC_ACCESS_KEY}:${signature}` } };
    t.equal(failure(() => auth(req, nowMs)), 'no error', `?${subresource}`);
  }
});

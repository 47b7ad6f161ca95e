import { createHash } from 'node:crypto';
import { t } from 'tap';
import { authenticate, createBodyDecoder, type AuthRequest, type AuthResult } from '../../../src/gateway/auth/index.js';
import { computeChecksum, type ChecksumAlgorithm } from '../../../src/gateway/s3/checksums/index.js';
import { DigestPool } from '../../../src/gateway/digest/index.js';
import {
  DOC_ACCESS_KEY,
  DOC_DATE,
  DOC_NOW,
  DOC_SECRET,
  codeOf,
  credentials,
  decode,
  frameChunked,
  rng,
  signingKey,
  type ChunkSigning,
  type Split,
} from './helpers.js';

const DOC_DATA = Buffer.alloc(66_560, 'a');
const DOC_SCOPE = '20130524/us-east-1/s3/aws4_request';
const DOC_CREDENTIAL = `${DOC_ACCESS_KEY}/${DOC_SCOPE}`;
const SPLITS: Split[] = ['whole', 'bytes', { seed: 1, maxBytes: 7 }, { seed: 2, maxBytes: 3000 }, { seed: 3, maxBytes: 70_000 }];
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/** The two documented chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its -TRAILER variant). */
function docRequest(trailer: boolean): AuthRequest {
  const headers: Record<string, string> = {
    host: 's3.amazonaws.com',
    'x-amz-date': DOC_DATE,
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
  };
  if (trailer) {
    headers['x-amz-content-sha256'] = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
    headers['x-amz-trailer'] = 'x-amz-checksum-crc32c';
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL},SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e`;
  } else {
    headers['x-amz-content-sha256'] = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    headers['content-length'] = '66824';
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${DOC_CREDENTIAL},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`;
  }
  return { method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers };
}

const DOC_SIGNED_BODY = Buffer.concat([
  Buffer.from('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'),
  DOC_DATA.subarray(0, 65_536),
  Buffer.from('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'),
  DOC_DATA.subarray(65_536),
  Buffer.from('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
]);

function docTrailerBody(trailerSection = 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n'): Buffer {
  return Buffer.concat([
    Buffer.from('10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n'),
    DOC_DATA.subarray(0, 65_536),
    Buffer.from('\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n'),
    DOC_DATA.subarray(65_536),
    Buffer.from(`\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n${trailerSection}`),
  ]);
}

const docSigning = (seed: string): ChunkSigning => ({ key: signingKey(DOC_SECRET, '20130524', 'us-east-1'), amzDate: DOC_DATE, scope: DOC_SCOPE, seed });

t.test('the documented chunk-signed upload decodes to its 66560 bytes, however TCP splits it', async (t) => {
  t.equal(DOC_SIGNED_BODY.length, 66_824, 'the documented Content-Length');
  const req = docRequest(false);
  const auth = authenticate(req, credentials, { nowMs: DOC_NOW });
  t.equal(auth.payloadMode, 'streaming-signed');
  t.equal(auth.decodedContentLength, 66_560);
  for (const how of SPLITS) {
    const r = await decode(auth, req.headers, DOC_SIGNED_BODY, how);
    t.equal(r.error, undefined, `split ${JSON.stringify(how)}`);
    t.ok(r.output.equals(DOC_DATA));
    t.same(r.result, { md5Hex: md5(DOC_DATA), sizeBytes: 66_560, checksums: [] });
    if (how === 'bytes') t.ok(r.pieces <= 4, `one-byte segments are coalesced while a chunk awaits its signature (${r.pieces} pieces)`);
  }
  const reframed = frameChunked(DOC_DATA, { chunkSizes: [65_536], signing: docSigning(auth.signature) });
  t.ok(reframed.equals(DOC_SIGNED_BODY), 'the test framer reproduces the documented body byte for byte');
});

t.test('the documented trailer upload verifies its trailer signature and CRC32C', async (t) => {
  const req = docRequest(true);
  const auth = authenticate(req, credentials, { nowMs: DOC_NOW });
  t.equal(auth.payloadMode, 'streaming-signed-trailer');
  const variants = {
    'trailer lines then CRLF': docTrailerBody(),
    'no final blank line': docTrailerBody('x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n'),
    'blank line before trailers': docTrailerBody('\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n'),
    'LF-only checksum line': docTrailerBody('x-amz-checksum-crc32c:sOO8/Q==\n\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n'),
  };
  for (const [name, body] of Object.entries(variants)) {
    for (const how of SPLITS) {
      const r = await decode(auth, req.headers, body, how);
      t.equal(r.error, undefined, `${name}, split ${JSON.stringify(how)}`);
      t.ok(r.output.equals(DOC_DATA));
      t.same(r.result?.checksums, [{ algorithm: 'CRC32C', base64: 'sOO8/Q==' }]);
    }
  }
  const reframed = frameChunked(DOC_DATA, { chunkSizes: [65_536], signing: docSigning(auth.signature), trailers: [['x-amz-checksum-crc32c', 'sOO8/Q==']] });
  t.ok(reframed.equals(docTrailerBody()), 'the test framer reproduces the documented body byte for byte');
});

t.test('a signed chunk body refuses every tampering before it ends, and never passes on an unverified chunk', async (t) => {
  const req = docRequest(true);
  const auth = authenticate(req, credentials, { nowMs: DOC_NOW });
  const body = docTrailerBody();
  const text = body.toString('latin1');
  const flip = (at: number): Buffer => {
    const copy = Buffer.from(body);
    copy[at] = copy[at] === 0x61 ? 0x62 : 0x61;
    return copy;
  };
  const replace = (from: string, to: string): Buffer => Buffer.from(text.replace(from, to), 'latin1');
  const cases: [string, Buffer, string][] = [
    ['first chunk data', flip(100), 'SignatureDoesNotMatch'],
    ['second chunk data', flip(65_700), 'SignatureDoesNotMatch'],
    ['first chunk signature', replace('b474d886', 'b474d887'), 'SignatureDoesNotMatch'],
    ['middle chunk signature', replace('1c1344b1', '1c1344b0'), 'SignatureDoesNotMatch'],
    ['final chunk signature', replace('2ca2aba2', '2ca2aba3'), 'SignatureDoesNotMatch'],
    ['trailer signature', replace('d81f82fc', 'd81f82fd'), 'SignatureDoesNotMatch'],
    ['trailer value', replace('sOO8/Q==', 'sOO8/A=='), 'SignatureDoesNotMatch'],
    ['trailer signature missing', replace('x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n', ''), 'SignatureDoesNotMatch'],
    ['undeclared trailer', replace('x-amz-checksum-crc32c:', 'x-amz-checksum-crc32:'), 'MalformedTrailerError'],
    ['chunk signature missing', replace(';chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', ''), 'SignatureDoesNotMatch'],
    ['chunk size larger', replace('\r\n400;', '\r\n401;'), 'IncompleteBody'],
    ['chunk size smaller', replace('\r\n400;', '\r\n3ff;'), 'InvalidRequest'],
    ['chunk size not hex', replace('\r\n400;', '\r\n40g;'), 'InvalidRequest'],
  ];
  for (const [what, tampered, code] of cases) {
    for (const how of ['whole', { seed: 9, maxBytes: 5000 }] as Split[]) {
      const r = await decode(auth, req.headers, tampered, how);
      t.equal(codeOf(r.error), code, `${what} (${JSON.stringify(how)})`);
      t.notOk(r.ended, 'never ends');
      t.ok(r.output.length < DOC_DATA.length, 'the last verified piece is still held back');
      if (what.startsWith('first chunk')) t.equal(r.output.length, 0, 'nothing of a chunk with a bad signature');
      // The first chunk checked out: all of it may go on once the next chunk starts, none of the bad one.
      if (what.startsWith('middle') || what.startsWith('second')) t.ok(r.output.length <= 65_536, 'nothing past the bad chunk');
    }
  }
  const signedOnly = authenticate(docRequest(false), credentials, { nowMs: DOC_NOW });
  const withTrailer = Buffer.from(DOC_SIGNED_BODY.toString('latin1').replace(/\r\n\r\n$/, '\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'), 'latin1');
  t.equal(codeOf((await decode(signedOnly, docRequest(false).headers, withTrailer)).error), 'MalformedTrailerError', 'no trailers without -TRAILER');
});

t.test('truncated aws-chunked bodies are IncompleteBody at every cut', async (t) => {
  const req = docRequest(true);
  const auth = authenticate(req, credentials, { nowMs: DOC_NOW });
  const body = docTrailerBody();
  // Up to the end of the final chunk's line the body is short; after it, what is missing is trailer or its signature.
  const finalLineEnd = body.indexOf('\r\n', body.indexOf('0;chunk-signature=2ca2')) + 2;
  const cuts = [0, 1, 5, 90, 91, 30_000, 65_626, 65_627, 65_628, 65_700, finalLineEnd - 1, finalLineEnd, finalLineEnd + 20, body.length - 60, body.length - 5];
  for (const at of cuts) {
    const r = await decode(auth, req.headers, body.subarray(0, at), { seed: at, maxBytes: 4096 });
    const expected = at < finalLineEnd ? ['IncompleteBody'] : ['SignatureDoesNotMatch', 'MalformedTrailerError', 'InvalidRequest'];
    t.ok(expected.includes(codeOf(r.error) ?? ''), `cut at ${at}: ${codeOf(r.error)}`);
    t.notOk(r.ended);
  }
  const data = Buffer.alloc(10, 'z');
  const checksum = computeChecksum('CRC32', data);
  const unsigned = unsignedTrailerRequest('CRC32', 10);
  const framed = frameChunked(data, { chunkSizes: [4], trailers: [['x-amz-checksum-crc32', checksum]] });
  // A trailer whose value is complete but whose line end is missing still proves the body.
  const valueEnd = framed.indexOf(checksum) + checksum.length;
  for (let at = 0; at < framed.length; at++) {
    const r = await decode(unsigned.auth, unsigned.headers, framed.subarray(0, at));
    if (at >= valueEnd) t.equal(r.error, undefined, `unsigned cut at ${at}`);
    else t.ok(['IncompleteBody', 'MalformedTrailerError', 'InvalidRequest'].includes(codeOf(r.error) ?? ''), `unsigned cut at ${at}: ${codeOf(r.error)}`);
  }
});

/** An UNSIGNED-PAYLOAD-TRAILER request as the JS SDK sends it, authenticated through a hand-signed header. */
function unsignedTrailerRequest(algorithm: ChecksumAlgorithm, decodedLength: number | undefined, extra: Record<string, string> = {}): { auth: AuthResult; headers: AuthRequest['headers'] } {
  const headers: Record<string, string> = {
    host: 'localhost',
    'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    'x-amz-trailer': `x-amz-checksum-${algorithm.toLowerCase()}`,
    'x-amz-sdk-checksum-algorithm': algorithm,
    'content-encoding': 'aws-chunked',
    'transfer-encoding': 'chunked',
    ...extra,
  };
  if (decodedLength !== undefined) headers['x-amz-decoded-content-length'] = String(decodedLength);
  return { auth: fakeAuth('streaming-unsigned-trailer', decodedLength), headers };
}

/** An AuthResult as authenticate() would produce (authentication itself is covered elsewhere). */
function fakeAuth(payloadMode: AuthResult['payloadMode'], decodedContentLength?: number, payloadSha256?: string): AuthResult {
  const req: AuthRequest = { method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers: docRequest(false).headers };
  return { ...authenticate(req, credentials, { nowMs: DOC_NOW }), payloadMode, decodedContentLength, payloadSha256 };
}

t.test('unsigned-trailer bodies (botocore and JS SDK framing) verify every checksum algorithm', async (t) => {
  const next = rng(42);
  for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    for (const size of [0, 1, 7, 8191, 65_536, 300_001]) {
      const data = Buffer.from(Array.from({ length: size }, () => Math.floor(next() * 256)));
      const value = computeChecksum(algorithm, data);
      const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
      const { auth, headers } = unsignedTrailerRequest(algorithm, size);
      const chunkSizes = size > 70_000 ? [65_536, 1000, 8192] : [size || 1];
      const good = frameChunked(data, { chunkSizes, trailers: [[name, value]] });
      const r = await decode(auth, headers, good, { seed: size, maxBytes: 9000 });
      t.equal(r.error, undefined, `${algorithm} ${size}`);
      t.ok(r.output.equals(data));
      t.same(r.result, { md5Hex: md5(data), sizeBytes: size, checksums: [{ algorithm, base64: value }] });

      const wrong = computeChecksum(algorithm, Buffer.concat([data, Buffer.from('!')]));
      const bad = await decode(auth, headers, frameChunked(data, { chunkSizes, trailers: [[name, wrong]] }));
      t.equal(codeOf(bad.error), 'BadDigest', `${algorithm} ${size} wrong trailer`);
      t.notOk(bad.ended);
      const junk = await decode(auth, headers, frameChunked(data, { chunkSizes, trailers: [[name, 'not base64!']] }));
      t.equal(codeOf(junk.error), 'InvalidRequest');
      const missing = await decode(auth, headers, frameChunked(data, { chunkSizes, trailers: [] }));
      t.equal(codeOf(missing.error), 'MalformedTrailerError');
    }
  }
  // A whole body in a single chunk must stream through, not be buffered: output flows while the chunk is still open.
  const big = Buffer.alloc(8 * 1024 * 1024, 7);
  const { auth, headers } = unsignedTrailerRequest('CRC32', big.length);
  const decoder = createBodyDecoder(auth, headers);
  let seen = 0;
  decoder.on('data', (c: Buffer) => (seen += c.length));
  const framed = frameChunked(big, { chunkSizes: [big.length], trailers: [['x-amz-checksum-crc32', computeChecksum('CRC32', big)]] });
  for (let pos = 0; pos < framed.length - 100; pos += 65_536) decoder.write(framed.subarray(pos, Math.min(pos + 65_536, framed.length - 100)));
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(seen > big.length - 200_000, `streamed ${seen} bytes before the chunk ended`);
  decoder.destroy();
});

t.test('the exact bytes botocore frames (AwsChunkedWrapper, chunk size 4, CRC32 trailer) decode', async (t) => {
  const body = Buffer.from('4\r\nxxxx\r\n4\r\nxxxx\r\n2\r\nxx\r\n0\r\nx-amz-checksum-crc32:jt9Hdw==\r\n\r\n');
  const { auth, headers } = unsignedTrailerRequest('CRC32', 10);
  for (const how of SPLITS) {
    const r = await decode(auth, headers, body, how);
    t.equal(r.output.toString(), 'xxxxxxxxxx');
    t.same(r.result?.checksums, [{ algorithm: 'CRC32', base64: 'jt9Hdw==' }]);
  }
  t.ok(frameChunked(Buffer.alloc(10, 'x'), { chunkSizes: [4], trailers: [['x-amz-checksum-crc32', 'jt9Hdw==']] }).equals(body), 'the test framer writes the same bytes');
});

t.test('header checksums and Content-MD5: malformed is refused before the body, wrong is BadDigest at the end', async (t) => {
  const data = Buffer.from('Welcome to Amazon S3.');
  const unsigned = fakeAuth('unsigned');
  for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
    const ok = await decode(unsigned, { [name]: computeChecksum(algorithm, data) }, data, 'bytes');
    t.same(ok.result?.checksums, [{ algorithm, base64: computeChecksum(algorithm, data) }], algorithm);
    const bad = await decode(unsigned, { [name]: computeChecksum(algorithm, Buffer.from('other')) }, data);
    t.equal(codeOf(bad.error), 'BadDigest');
    t.equal(bad.output.length, 0, 'the whole (one-piece) body is held back');
    t.throws(() => createBodyDecoder(unsigned, { [name]: 'AAAA' }), { code: 'InvalidRequest' }, 'wrong length');
  }
  t.throws(() => createBodyDecoder(unsigned, { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-sha1': computeChecksum('SHA1', data) }), { code: 'InvalidRequest' });
  t.throws(() => createBodyDecoder(unsigned, { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'SHA1' }), { code: 'InvalidRequest' });
  t.throws(() => createBodyDecoder(unsigned, { 'x-amz-sdk-checksum-algorithm': 'MD5' }), { code: 'InvalidRequest' });
  t.throws(() => createBodyDecoder(unsigned, { 'x-amz-trailer': 'x-amz-checksum-crc32' }), { code: 'InvalidRequest' }, 'trailer needs a trailer mode');
  const computed = await decode(unsigned, { 'x-amz-sdk-checksum-algorithm': 'crc64nvme' }, data);
  t.same(computed.result?.checksums, [{ algorithm: 'CRC64NVME', base64: computeChecksum('CRC64NVME', data) }], 'algorithm without value');
  const defaulted = createBodyDecoder(unsigned, {}, { defaultChecksumAlgorithm: 'CRC64NVME' });
  defaulted.end(data);
  defaulted.resume();
  await new Promise((resolve) => defaulted.on('end', resolve));
  t.same(defaulted.result().checksums, [{ algorithm: 'CRC64NVME', base64: computeChecksum('CRC64NVME', data) }]);

  const md5b64 = createHash('md5').update(data).digest('base64');
  t.equal((await decode(unsigned, { 'content-md5': md5b64 }, data)).error, undefined);
  t.equal(codeOf((await decode(unsigned, { 'content-md5': createHash('md5').update('x').digest('base64') }, data)).error), 'BadDigest');
  for (const malformed of ['abc', 'not-base64!!', md5b64.slice(0, -2), Buffer.alloc(20).toString('base64')]) {
    t.throws(() => createBodyDecoder(unsigned, { 'content-md5': malformed }), { code: 'InvalidDigest' }, malformed);
  }
});

t.test('a hex payload hash is verified: a client cannot skip the check by choosing the mode', async (t) => {
  const data = Buffer.from('Welcome to Amazon S3.');
  const hash = createHash('sha256').update(data).digest('hex');
  const auth = fakeAuth('sha256', undefined, hash);
  for (const how of SPLITS) {
    const r = await decode(auth, { 'content-length': String(data.length) }, data, how);
    t.equal(r.error, undefined);
    t.ok(r.output.equals(data));
  }
  const tampered = Buffer.from(data);
  tampered[3] = tampered[3]! ^ 1;
  const r = await decode(auth, {}, tampered, 'bytes');
  t.equal(codeOf(r.error), 'XAmzContentSHA256Mismatch');
  t.notOk(r.ended);
  t.equal(r.output.length, data.length - 1, 'the final byte was held back');
  t.equal(codeOf((await decode(auth, { 'content-length': '22' }, data)).error), 'IncompleteBody', 'short of Content-Length');
  const unsigned = await decode(fakeAuth('unsigned'), { 'content-length': String(data.length) }, data, 'bytes');
  t.ok(unsigned.output.equals(data), 'UNSIGNED-PAYLOAD passes through');
  t.equal(codeOf((await decode(fakeAuth('streaming-unsigned-trailer', 5), {}, frameChunked(data, { chunkSizes: [5], trailers: [] }))).error), 'IncompleteBody', 'more than x-amz-decoded-content-length');
  t.equal(codeOf((await decode(fakeAuth('streaming-unsigned-trailer', 50), {}, frameChunked(data, { chunkSizes: [5], trailers: [] }))).error), 'IncompleteBody', 'less than x-amz-decoded-content-length');
});

t.test('signed chunks are capped; random bodies round-trip in every mode and every split', async (t) => {
  const auth = authenticate(docRequest(false), credentials, { nowMs: DOC_NOW });
  const signing = docSigning(auth.signature);
  const huge = frameChunked(Buffer.alloc(1024), { chunkSizes: [1024], signing });
  const capped = createBodyDecoder({ ...auth, decodedContentLength: undefined }, {}, { maxSignedChunkBytes: 512 });
  capped.on('data', () => undefined);
  const err = await new Promise((resolve) => {
    capped.on('error', resolve);
    capped.end(huge);
  });
  t.equal(codeOf(err), 'InvalidRequest');

  const next = rng(7);
  for (let round = 0; round < 60; round++) {
    const size = Math.floor(next() ** 3 * 200_000);
    const data = Buffer.from(Array.from({ length: size }, () => Math.floor(next() * 256)));
    const sizes = Array.from({ length: 4 }, () => 1 + Math.floor(next() * 70_000));
    const how: Split = { seed: round, maxBytes: 1 + Math.floor(next() * 20_000) };
    const signedTrailer = round % 3 === 0;
    const trailers: [string, string][] = [['x-amz-checksum-crc32c', computeChecksum('CRC32C', data)]];
    const body = round % 3 === 2
      ? frameChunked(data, { chunkSizes: sizes, trailers })
      : frameChunked(data, signedTrailer ? { chunkSizes: sizes, signing, trailers } : { chunkSizes: sizes, signing });
    const mode = round % 3 === 2 ? 'streaming-unsigned-trailer' : signedTrailer ? 'streaming-signed-trailer' : 'streaming-signed';
    const headers = mode === 'streaming-signed' ? {} : { 'x-amz-trailer': 'x-amz-checksum-crc32c' };
    const r = await decode({ ...auth, payloadMode: mode, decodedContentLength: size }, headers, body, how);
    t.equal(r.error, undefined, `round ${round}: ${mode}, ${size} bytes`);
    t.ok(r.output.equals(data));
    t.equal(r.result?.sizeBytes, size);
  }
});

t.test('large bodies hashed by a digest worker: the same results, the same refusals, the last piece still held back', async (t) => {
  const pool = new DigestPool({ workers: 1 });
  t.teardown(() => pool.close());
  const withPool = { digestPool: pool };
  const next = rng(99);
  const data = Buffer.from(Array.from({ length: 1_500_000 }, () => Math.floor(next() * 256)));
  const how: Split = { seed: 5, maxBytes: 70_000 };

  const sha = createHash('sha256').update(data).digest('hex');
  const signed = fakeAuth('sha256', undefined, sha);
  const good = await decode(signed, { 'content-md5': createHash('md5').update(data).digest('base64'), 'x-amz-checksum-crc64nvme': computeChecksum('CRC64NVME', data) }, data, how, withPool);
  t.equal(good.error, undefined);
  t.ok(good.output.equals(data));
  t.same(good.result, { md5Hex: md5(data), sizeBytes: data.length, checksums: [{ algorithm: 'CRC64NVME', base64: computeChecksum('CRC64NVME', data) }] });

  const tampered = Buffer.from(data);
  tampered[1_000_000] = tampered[1_000_000]! ^ 1;
  const mismatch = await decode(signed, {}, tampered, how, withPool);
  t.equal(codeOf(mismatch.error), 'XAmzContentSHA256Mismatch');
  t.notOk(mismatch.ended);
  t.ok(mismatch.output.length < data.length, 'the final piece was held back');

  const unsigned = fakeAuth('unsigned');
  const wrongMd5 = await decode(unsigned, { 'content-md5': createHash('md5').update('x').digest('base64') }, data, how, withPool);
  t.equal(codeOf(wrongMd5.error), 'BadDigest');
  t.ok(wrongMd5.output.length < data.length);
  for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
    const right = await decode(unsigned, { [name]: computeChecksum(algorithm, data) }, data, how, withPool);
    t.same(right.result?.checksums, [{ algorithm, base64: computeChecksum(algorithm, data) }], `${algorithm} verified by the worker`);
    const wrong = await decode(unsigned, { [name]: computeChecksum(algorithm, tampered) }, data, how, withPool);
    t.equal(codeOf(wrong.error), 'BadDigest', `${algorithm} mismatch`);
  }
  const trailer = unsignedTrailerRequest('CRC32C', data.length);
  const framed = frameChunked(data, { chunkSizes: [65_536], trailers: [['x-amz-checksum-crc32c', computeChecksum('CRC32C', tampered)]] });
  t.equal(codeOf((await decode(trailer.auth, trailer.headers, framed, how, withPool)).error), 'BadDigest', 'a wrong trailer checksum too');
});

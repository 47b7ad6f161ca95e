/**
 * The real JavaScript SDK v3 S3 client, with its default (2025+) checksum behaviour, signs requests that a capturing
 * request handler hands straight to authenticate() and the body decoder, exactly as node would deliver them.
 */
import { Readable } from 'node:stream';
import { t } from 'tap';
import { DeleteObjectsCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { HttpResponse, buildQueryString, type HttpRequest } from '@smithy/core/protocols';
import { authenticate, type AuthRequest } from '../../../src/gateway/auth/index.js';
import { CHECKSUM_ALGORITHMS, computeChecksum } from '../../../src/gateway/s3/checksums/index.js';
import { DOC_ACCESS_KEY, DOC_SECRET, codeOf, credentials, decode, rng, toNodeHeaders } from './helpers.js';

// The SDK warns about future Node majors on 20.x; not this test's concern.
process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING = '1';

interface Captured {
  request: AuthRequest;
  body: Buffer;
}

function capturingClient(options: { requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' } = {}): { client: S3Client; last: () => Captured } {
  let captured: Captured | undefined;
  const requestHandler = {
    async handle(request: HttpRequest) {
      const parts: Buffer[] = [];
      const body: unknown = request.body;
      if (body instanceof Readable) for await (const chunk of body) parts.push(Buffer.from(chunk as Uint8Array));
      else if (typeof body === 'string' || body instanceof Uint8Array) parts.push(Buffer.from(body));
      captured = {
        request: {
          method: request.method,
          rawPath: request.path,
          rawQuery: buildQueryString(request.query as Record<string, string>),
          headers: toNodeHeaders(request.headers),
        },
        body: Buffer.concat(parts),
      };
      return { response: new HttpResponse({ statusCode: 200, headers: { etag: '"0"' }, body: Readable.from([]) }) };
    },
  };
  const client = new S3Client({
    region: 'eu-west-3',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: DOC_ACCESS_KEY, secretAccessKey: DOC_SECRET },
    requestHandler,
    ...options,
  });
  return {
    client,
    last: () => {
      if (captured === undefined) throw new Error('no request captured');
      return captured;
    },
  };
}

function randomData(seed: number, size: number): Buffer {
  const next = rng(seed);
  return Buffer.from(Array.from({ length: size }, () => Math.floor(next() * 256)));
}

async function verify(captured: Captured) {
  const auth = authenticate(captured.request, credentials, { nowMs: Date.now() });
  return { auth, decoded: await decode(auth, captured.request.headers, captured.body, { seed: captured.body.length, maxBytes: 5000 }) };
}

t.test('PutObject with a stream body: aws-chunked, unsigned trailer, default CRC32', async (t) => {
  const { client, last } = capturingClient();
  const data = randomData(1, 200_000);
  const key = 'dir/ünïcode key+with spaces&(parens)!~*\'.bin';
  await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]), ContentLength: data.length, Metadata: { note: 'héllo  wörld' } }));
  const { auth, decoded } = await verify(last());
  t.equal(auth.payloadMode, 'streaming-unsigned-trailer');
  t.equal(auth.region, 'eu-west-3');
  t.equal(decoded.error, undefined);
  t.ok(decoded.output.equals(data), 'framing stripped');
  t.same(decoded.result?.checksums, [{ algorithm: 'CRC32', base64: computeChecksum('CRC32', data) }]);

  const tampered = Buffer.from(last().body);
  tampered[5000] = tampered[5000]! ^ 0xff;
  const bad = await decode(auth, last().request.headers, tampered);
  t.equal(codeOf(bad.error), 'BadDigest', 'a changed byte is caught by the trailer checksum');
});

t.test('every checksum algorithm the SDK offers, in a trailer (streams) and in a header (buffers)', async (t) => {
  const { client, last } = capturingClient();
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    for (const streamed of [true, false]) {
      const data = randomData(algorithm.length, 33_333);
      const body = streamed ? Readable.from([data]) : data;
      await client.send(new PutObjectCommand({ Bucket: 'b', Key: `k-${algorithm}`, Body: body, ContentLength: data.length, ChecksumAlgorithm: algorithm }));
      const { auth, decoded } = await verify(last());
      t.equal(auth.payloadMode, streamed ? 'streaming-unsigned-trailer' : 'sha256', `${algorithm} ${streamed ? 'trailer' : 'header'}`);
      t.equal(decoded.error, undefined);
      t.ok(decoded.output.equals(data));
      t.same(decoded.result?.checksums, [{ algorithm, base64: computeChecksum(algorithm, data) }]);
    }
  }
});

t.test('UploadPart, DeleteObjects and checksum-free requests', async (t) => {
  const { client, last } = capturingClient();
  const part = randomData(3, 5000);
  await client.send(new UploadPartCommand({ Bucket: 'b', Key: 'a/b c', UploadId: 'up+load/id==', PartNumber: 7, Body: Readable.from([part]), ContentLength: part.length }));
  let r = await verify(last());
  t.equal(r.decoded.error, undefined);
  t.ok(r.decoded.output.equals(part));

  await client.send(new DeleteObjectsCommand({ Bucket: 'b', Delete: { Objects: [{ Key: 'x y' }, { Key: 'ü' }], Quiet: true } }));
  r = await verify(last());
  t.equal(r.decoded.error, undefined);
  t.equal(r.decoded.result?.checksums.length, 1, 'DeleteObjects carries a checksum header instead of Content-MD5');
  t.match(r.decoded.output.toString(), /<Key>x y<\/Key>/);

  const plain = capturingClient({ requestChecksumCalculation: 'WHEN_REQUIRED' });
  const data = randomData(4, 1234);
  await plain.client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: data }));
  r = await verify(plain.last());
  t.same(r.decoded.result?.checksums, []);
  t.ok(r.decoded.output.equals(data));
});

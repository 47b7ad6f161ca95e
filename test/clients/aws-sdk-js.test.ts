import { Agent } from 'node:https';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { bucketName, collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { startHttpAndHttpsDevServers, type ClientTarget } from '../helpers/server.js';

/**
 * The AWS SDK for JavaScript v3 (@aws-sdk/client-s3 and @aws-sdk/lib-storage at the versions in
 * package.json, the current ones) against a started Tessera, with its default checksum settings
 * (requestChecksumCalculation and responseChecksumValidation WHEN_SUPPORTED): CRC32 on every upload, in
 * a header for a buffer body and in an aws-chunked trailer for a streaming body (over HTTP too), and
 * response checksums validated by the SDK on GET. Everything runs over HTTP and over HTTPS (an https.Agent
 * trusting the test CA): the SDK runs in this process, so a variant costs only its requests and one 12 MiB
 * multipart upload. A middleware records what each upload put on the wire, so the test shows which body
 * framing Tessera was given.
 */

process.env['AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING'] = '1';
const MiB = 1024 * 1024;
const targets = await startHttpAndHttpsDevServers(t);

/** What one request carried, as the SDK sent it (after signing). */
interface Wire {
  operation: string;
  contentSha256: string | undefined;
  contentEncoding: string | undefined;
  trailer: string | undefined;
  decodedLength: string | undefined;
  checksumHeaders: string[];
}

function client(target: ClientTarget, wire: Wire[]): S3Client {
  const s3 = new S3Client({
    endpoint: target.server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: target.server.accessKeyId, secretAccessKey: target.server.secretAccessKey },
    // One attempt: a request that only succeeds on retry is a server bug this test should see.
    maxAttempts: 1,
    ...(target.ca === undefined ? {} : { requestHandler: { httpsAgent: new Agent({ ca: target.ca }) } }),
  });
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      wire.push({
        operation: String(context.commandName).replace(/Command$/, ''),
        contentSha256: headers['x-amz-content-sha256'],
        contentEncoding: headers['content-encoding'],
        trailer: headers['x-amz-trailer'],
        decodedLength: headers['x-amz-decoded-content-length'],
        checksumHeaders: Object.keys(headers).filter((name) => name.startsWith('x-amz-checksum-')).sort(),
      });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordWire', priority: 'low' },
  );
  return s3;
}

function crc32Base64(body: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(body));
  return out.toString('base64');
}

/** Emits `body` in uneven pieces, as a file or network stream would. */
function streamOf(body: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let pos = 0, size = 1000; pos < body.length; pos += size, size = size * 3 + 17) pieces.push(body.subarray(pos, pos + size));
  return Readable.from(pieces);
}

for (const target of [targets.http, targets.https]) {
  t.test(`@aws-sdk/client-s3 and lib-storage over ${target.scheme} with default checksums`, async (t) => {
    const wire: Wire[] = [];
    const s3 = client(target, wire);
    t.teardown(() => s3.destroy());
    const bucket = bucketName('jssdk');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    await t.test('PutObject with a buffer body: CRC32 in a header, stored and returned with checksum mode', async (t) => {
      const body = seededBytes(300_000, 1);
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'buffer.bin', Body: body, ContentType: 'application/x-test', Metadata: { origin: 'sdk' } }));
      t.equal(put.ETag, `"${md5Hex(body)}"`, 'ETag is the MD5');
      t.equal(put.ChecksumCRC32, crc32Base64(body), 'PutObject answers the CRC32 it verified');
      const sent = wire.find((w) => w.operation === 'PutObject');
      t.same(sent?.checksumHeaders, ['x-amz-checksum-crc32'], 'the SDK sent its CRC32 in a header', { wire: sent });
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'buffer.bin', ChecksumMode: 'ENABLED' }));
      t.equal(got.ChecksumCRC32, crc32Base64(body), 'GetObject with checksum mode returns the stored CRC32 (the SDK validated the body against it)');
      t.ok((await collect(got.Body as Readable)).equals(body), 'byte-identical');
      t.equal(got.ContentType, 'application/x-test');
      t.same(got.Metadata, { origin: 'sdk' });
    });

    await t.test('PutObject with a streaming body: aws-chunked with a trailing CRC32, stored without the framing', async (t) => {
      const body = seededBytes(2 * MiB + 333, 2);
      wire.length = 0;
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'stream.bin', Body: streamOf(body), ContentLength: body.length }));
      const sent = wire.find((w) => w.operation === 'PutObject');
      t.equal(sent?.contentSha256, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'the SDK framed the stream as aws-chunked with an unsigned trailer', { wire: sent });
      t.equal(sent?.trailer, 'x-amz-checksum-crc32', 'announcing a CRC32 trailer');
      t.equal(sent?.decodedLength, String(body.length), 'and the decoded length');
      t.equal(put.ETag, `"${md5Hex(body)}"`, 'the ETag is the MD5 of the decoded body, not of the framing');
      t.equal(put.ChecksumCRC32, crc32Base64(body), 'the trailer CRC32 was verified and stored');
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'stream.bin', ChecksumMode: 'ENABLED' }));
      t.equal(head.ContentLength, body.length, 'HEAD reports the decoded size');
      t.equal(head.ChecksumCRC32, crc32Base64(body), 'HEAD with checksum mode returns the CRC32');
      t.equal(head.ContentEncoding, undefined, 'aws-chunked is not stored as the Content-Encoding');
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream.bin', ChecksumMode: 'ENABLED' }));
      t.ok((await collect(got.Body as Readable)).equals(body), 'byte-identical, validated by the SDK');
    });

    await t.test('lib-storage Upload of a 12 MiB stream: multipart with per-part CRC32, COMPOSITE checksum', async (t) => {
      const body = seededBytes(12 * MiB + 4321, 3);
      wire.length = 0;
      const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: 'multipart.bin', Body: streamOf(body) }, partSize: 5 * MiB, queueSize: 2 });
      const done = await upload.done();
      const parts = wire.filter((w) => w.operation === 'UploadPart');
      t.equal(parts.length, 3, 'three UploadPart requests');
      t.ok(parts.every((p) => p.checksumHeaders.includes('x-amz-checksum-crc32') || p.trailer === 'x-amz-checksum-crc32'), 'each part carries a CRC32', { parts });
      const partMd5s = [0, 1, 2].map((i) => createHash('md5').update(body.subarray(i * 5 * MiB, (i + 1) * 5 * MiB)).digest());
      t.equal(done.ETag, `"${md5Hex(Buffer.concat(partMd5s))}-3"`, 'the ETag is the MD5 of the part MD5s, dash 3');
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multipart.bin', ChecksumMode: 'ENABLED' }));
      t.equal(head.ContentLength, body.length, 'HEAD reports the full size');
      t.match(head.ChecksumCRC32 ?? '', /^[A-Za-z0-9+/]{6}==-3$/, 'a COMPOSITE CRC32: base64 of the CRC32 of the part CRC32s, dash 3');
      t.equal(head.ChecksumType, 'COMPOSITE', 'checksum type COMPOSITE');
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart.bin', ChecksumMode: 'ENABLED' }));
      t.ok((await collect(got.Body as Readable)).equals(body), 'GetObject with checksum mode returns every byte');
      const ranged = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart.bin', Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` }));
      t.equal(ranged.ContentRange, `bytes ${5 * MiB - 10}-${5 * MiB + 9}/${body.length}`, 'a range across a part boundary');
      t.ok((await collect(ranged.Body as Readable)).equals(body.subarray(5 * MiB - 10, 5 * MiB + 10)), 'holds the original bytes');
    });

    await t.test('ListObjectsV2 paginated with a delimiter, then DeleteObjects with its default checksum header', async (t) => {
      for (const key of ['dir/a', 'dir/b', 'dir/sub/c', 'top']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const keys: string[] = [];
      const prefixes: string[] = [];
      let pages = 0;
      for await (const page of paginateListObjectsV2({ client: s3, pageSize: 2 }, { Bucket: bucket, Delimiter: '/' })) {
        pages += 1;
        keys.push(...(page.Contents ?? []).map((c) => c.Key ?? ''));
        prefixes.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
      }
      t.same(keys, ['buffer.bin', 'multipart.bin', 'stream.bin', 'top'], 'top-level keys in byte order');
      t.same(prefixes, ['dir/'], 'dir/ rolled up');
      t.equal(pages, 3, 'five entries at two per page: three pages');
      const under = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/', Delimiter: '/' }));
      t.same(under.Contents?.map((c) => c.Key), ['dir/a', 'dir/b']);
      t.same(under.CommonPrefixes?.map((p) => p.Prefix), ['dir/sub/']);
      const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      wire.length = 0;
      const deleted = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: (all.Contents ?? []).map((c) => ({ Key: c.Key ?? '' })) } }));
      t.same(wire[0]?.checksumHeaders, ['x-amz-checksum-crc32'], 'DeleteObjects carried a CRC32 header and no Content-MD5', { wire });
      t.equal(deleted.Deleted?.length, 7, 'every key deleted');
      t.notOk(deleted.Errors?.length, 'no errors');
      t.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 0, 'the bucket is empty');
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    });
  });
}

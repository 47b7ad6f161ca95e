import { createHash } from 'node:crypto';
import { t, type Test } from 'tap';
import { bucketName, md5Hex, seededBytes } from '../helpers/bytes.js';
import { startHttpAndHttpsDevServers, type ClientTarget } from '../helpers/server.js';
import { EMPTY_SHA256, RawS3, crc32c, unsignedTrailerBody, xmlValues, type RawResponse } from './raw-s3.js';

/**
 * The requests of two clients that cannot be installed here, written out with hand-signed HTTP against a
 * started Tessera, exactly as those clients put them on the wire:
 *
 * - s3torchconnector (PyTorch's S3 connector, on the CRT-based mountpoint-s3-client): every request with
 *   x-amz-content-sha256 UNSIGNED-PAYLOAD or, for part uploads, aws-chunked with a trailing CRC32C;
 *   ListObjectsV2 with empty `delimiter=` and `prefix=` plus x-amz-optional-object-attributes; reads as a
 *   first 8 MiB ranged GET, then the remaining 8 MiB ranges in parallel; every write (dataset shards and
 *   checkpoints) a multipart upload with CRC32C; CopyObject + DeleteObject as rename.
 * - TensorFlow's S3 filesystem (AWS C++ SDK with payload signing off): HeadBucket, PutObject with
 *   UNSIGNED-PAYLOAD, ListObjects v1 probes and paging, ranged reads whose last one starts at the end of
 *   the file and gets 416 (TensorFlow's end-of-file signal), copy + delete as rename.
 *
 * Both run over HTTP and over HTTPS: the requests run in this process, so a variant costs only its
 * requests and one 17 MiB checkpoint.
 */

const MiB = 1024 * 1024;
const PART = 8 * MiB;
const targets = await startHttpAndHttpsDevServers(t);

function raw(t: Test, target: ClientTarget): RawS3 {
  const s3 = new RawS3(target.server.endpoint, target.server, target.ca === undefined ? {} : { ca: target.ca });
  t.teardown(() => s3.close());
  return s3;
}

function diag(res: RawResponse): { status: number; body: string } {
  return { status: res.status, body: res.text.slice(0, 2000) };
}

const b64 = (bytes: Buffer): string => bytes.toString('base64');

/** A whole write as mountpoint-s3-client makes it: CreateMultipartUpload with CRC32C, parts with a trailing CRC32C, Complete with the part checksums. */
async function crtWrite(t: Test, s3: RawS3, bucket: string, key: string, body: Buffer): Promise<{ etag: string; checksum: string; parts: Buffer[] }> {
  const created = await s3.send({
    method: 'POST', path: `/${bucket}/${key}`, query: [['uploads', '']], contentSha256: 'UNSIGNED-PAYLOAD',
    headers: { 'x-amz-checksum-algorithm': 'CRC32C' },
  });
  t.equal(created.status, 200, `CreateMultipartUpload ${key} with x-amz-checksum-algorithm CRC32C`, diag(created));
  const uploadId = xmlValues(created.text, 'UploadId')[0] ?? '';
  const parts: { number: number; etag: string; crc: Buffer }[] = [];
  for (let offset = 0, number = 1; offset < body.length || number === 1; offset += PART, number += 1) {
    const data = body.subarray(offset, offset + PART);
    const crc = crc32c(data);
    const framed = unsignedTrailerBody(data, 64 * 1024, ['x-amz-checksum-crc32c', b64(crc)]);
    const part = await s3.send({
      method: 'PUT', path: `/${bucket}/${key}`, query: [['partNumber', String(number)], ['uploadId', uploadId]],
      contentSha256: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', body: framed,
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': 'x-amz-checksum-crc32c',
        'x-amz-sdk-checksum-algorithm': 'CRC32C',
      },
    });
    t.equal(part.status, 200, `UploadPart ${number} of ${key}: aws-chunked, unsigned, CRC32C trailer`, diag(part));
    t.equal(part.headers['x-amz-checksum-crc32c'], b64(crc), `part ${number} answers its verified CRC32C`);
    parts.push({ number, etag: String(part.headers.etag), crc });
    if (offset + PART >= body.length) break;
  }
  const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts
    .map((p) => `<Part><ChecksumCRC32C>${b64(p.crc)}</ChecksumCRC32C><ETag>${p.etag}</ETag><PartNumber>${p.number}</PartNumber></Part>`)
    .join('')}</CompleteMultipartUpload>`;
  const done = await s3.send({ method: 'POST', path: `/${bucket}/${key}`, query: [['uploadId', uploadId]], contentSha256: 'UNSIGNED-PAYLOAD', body: Buffer.from(xml) });
  t.equal(done.status, 200, `CompleteMultipartUpload ${key} with part CRC32Cs`, diag(done));
  t.notMatch(done.text, /<Error>/, 'a 200 that is not an error document');
  return { etag: xmlValues(done.text, 'ETag')[0] ?? '', checksum: xmlValues(done.text, 'ChecksumCRC32C')[0] ?? '', parts: parts.map((p) => p.crc) };
}

for (const target of [targets.http, targets.https]) {
  t.test(`s3torchconnector's requests over ${target.scheme}`, async (t) => {
    const s3 = raw(t, target);
    const bucket = bucketName('torchconn');
    t.equal((await s3.send({ method: 'PUT', path: `/${bucket}` })).status, 200, 'bucket created');
    const shards = new Map<string, Buffer>();
    for (let i = 0; i < 5; i += 1) shards.set(`dataset/shard-${i}.tar`, seededBytes(100_000 + i * 333_333, i + 10));

    await t.test('dataset shards written as single-part multipart uploads with CRC32C', async (t) => {
      for (const [key, body] of shards) {
        const { etag, checksum, parts } = await crtWrite(t, s3, bucket, key, body);
        t.equal(etag, `"${md5Hex(createHash('md5').update(body).digest())}-1"`, `${key}: the multipart ETag of one part`);
        t.equal(checksum, `${b64(crc32c(Buffer.concat(parts)))}-1`, `${key}: COMPOSITE CRC32C of one part`);
      }
      await crtWrite(t, s3, bucket, 'other/readme.txt', Buffer.from('not part of the dataset'));
    });

    await t.test('ListObjectsV2 with empty delimiter= and prefix=, x-amz-optional-object-attributes, continuation', async (t) => {
      const optional = { 'x-amz-optional-object-attributes': 'RestoreStatus' };
      const all = await s3.send({ method: 'GET', path: `/${bucket}`, query: [['list-type', '2'], ['delimiter', ''], ['prefix', '']], headers: optional, contentSha256: 'UNSIGNED-PAYLOAD' });
      t.equal(all.status, 200, 'empty delimiter and prefix are accepted', diag(all));
      t.same(xmlValues(all.text, 'Key'), [...shards.keys(), 'other/readme.txt'], 'and mean absent: every key, no common prefixes');
      t.same(xmlValues(all.text, 'CommonPrefixes'), []);
      const keys: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await s3.send({
          method: 'GET', path: `/${bucket}`, headers: optional, contentSha256: 'UNSIGNED-PAYLOAD',
          query: [['list-type', '2'], ['delimiter', ''], ['prefix', 'dataset/'], ['max-keys', '2'], ...(token === undefined ? [] : [['continuation-token', token] as const])],
        });
        t.equal(page.status, 200, `page ${pages + 1}`, diag(page));
        keys.push(...xmlValues(page.text, 'Key'));
        token = xmlValues(page.text, 'IsTruncated')[0] === 'true' ? xmlValues(page.text, 'NextContinuationToken')[0] : undefined;
        pages += 1;
      } while (token !== undefined && pages < 10);
      t.same(keys, [...shards.keys()], 'the prefix, paged two at a time');
      t.equal(pages, 3, 'in three pages');
    });

    await t.test('reading a shard: a first 8 MiB ranged GET that the object is shorter than', async (t) => {
      for (const [key, body] of shards) {
        const res = await s3.send({ method: 'GET', path: `/${bucket}/${key}`, headers: { range: `bytes=0-${PART - 1}` }, contentSha256: 'UNSIGNED-PAYLOAD' });
        t.equal(res.status, 206, `${key}: 206`, diag(res));
        t.equal(res.headers['content-range'], `bytes 0-${body.length - 1}/${body.length}`, `${key}: the range is cut to the object`);
        t.ok(res.body.equals(body), `${key}: every byte`);
      }
    });

    await t.test('a 17 MiB checkpoint: multipart with CRC32C trailers, then HEAD and parallel 8 MiB ranged GETs', async (t) => {
      const checkpoint = seededBytes(2 * PART + MiB + 5, 99);
      const { etag, checksum, parts } = await crtWrite(t, s3, bucket, 'checkpoints/epoch-1.pt.tmp', checkpoint);
      t.equal(parts.length, 3, 'three parts');
      const partMd5s = [0, 1, 2].map((i) => createHash('md5').update(checkpoint.subarray(i * PART, (i + 1) * PART)).digest());
      t.equal(etag, `"${md5Hex(Buffer.concat(partMd5s))}-3"`, 'the ETag is the MD5 of the part MD5s, dash 3');
      t.equal(checksum, `${b64(crc32c(Buffer.concat(parts)))}-3`, 'the COMPOSITE CRC32C is the CRC32C of the part CRC32Cs, dash 3');

      // Rename into place: CopyObject then DeleteObject.
      const copy = await s3.send({
        method: 'PUT', path: `/${bucket}/checkpoints/epoch-1.pt`, contentSha256: 'UNSIGNED-PAYLOAD',
        headers: { 'x-amz-copy-source': `${bucket}/checkpoints/epoch-1.pt.tmp` },
      });
      t.equal(copy.status, 200, 'CopyObject to the final name', diag(copy));
      t.notMatch(copy.text, /<Error>/, 'a 200 that is not an error document');
      const del = await s3.send({ method: 'DELETE', path: `/${bucket}/checkpoints/epoch-1.pt.tmp`, contentSha256: 'UNSIGNED-PAYLOAD' });
      t.equal(del.status, 204, 'DeleteObject of the temporary name', diag(del));
      const gone = await s3.send({ method: 'HEAD', path: `/${bucket}/checkpoints/epoch-1.pt.tmp`, contentSha256: 'UNSIGNED-PAYLOAD' });
      t.equal(gone.status, 404, 'the temporary name is gone');

      const head = await s3.send({ method: 'HEAD', path: `/${bucket}/checkpoints/epoch-1.pt`, contentSha256: 'UNSIGNED-PAYLOAD', headers: { 'x-amz-checksum-mode': 'ENABLED' } });
      t.equal(head.status, 200, 'HeadObject of the renamed checkpoint');
      t.equal(Number(head.headers['content-length']), checkpoint.length, 'its size');
      // CopyObject reads the whole source, so (as S3 does) the copy carries a full-object CRC32C rather than the composite one.
      t.equal(head.headers['x-amz-checksum-crc32c'], b64(crc32c(checkpoint)), 'the renamed copy has the full-object CRC32C of its bytes, returned in checksum mode');
      const first = await s3.send({ method: 'GET', path: `/${bucket}/checkpoints/epoch-1.pt`, headers: { range: `bytes=0-${PART - 1}` }, contentSha256: 'UNSIGNED-PAYLOAD' });
      t.equal(first.status, 206, 'the first 8 MiB range', diag(first));
      const total = Number(/\/(\d+)$/.exec(String(first.headers['content-range']))?.[1]);
      t.equal(total, checkpoint.length, 'whose Content-Range gives the size');
      const rest = await Promise.all(
        [PART, 2 * PART].map((start) =>
          s3.send({ method: 'GET', path: `/${bucket}/checkpoints/epoch-1.pt`, headers: { range: `bytes=${start}-${Math.min(start + PART, total) - 1}` }, contentSha256: 'UNSIGNED-PAYLOAD' }),
        ),
      );
      t.same(rest.map((r) => r.status), [206, 206], 'the other ranges, in parallel');
      t.same(rest.map((r) => r.headers['content-range']), [`bytes ${PART}-${2 * PART - 1}/${total}`, `bytes ${2 * PART}-${total - 1}/${total}`]);
      t.ok(Buffer.concat([first.body, ...rest.map((r) => r.body)]).equals(checkpoint), 'reassembled, every byte of the checkpoint');
    });

    for (const key of [...shards.keys(), 'other/readme.txt', 'checkpoints/epoch-1.pt']) await s3.send({ method: 'DELETE', path: `/${bucket}/${key}`, contentSha256: 'UNSIGNED-PAYLOAD' });
    t.equal((await s3.send({ method: 'DELETE', path: `/${bucket}` })).status, 204, 'bucket emptied and deleted');
  });

  t.test(`TensorFlow's S3 filesystem requests over ${target.scheme}`, async (t) => {
    const s3 = raw(t, target);
    const bucket = bucketName('tfs3');
    const unsigned = 'UNSIGNED-PAYLOAD';
    t.equal((await s3.send({ method: 'PUT', path: `/${bucket}` })).status, 200, 'bucket created');
    const headBucket = await s3.send({ method: 'HEAD', path: `/${bucket}`, contentSha256: unsigned });
    t.equal(headBucket.status, 200, 'HeadBucket of an existing bucket');
    t.equal((await s3.send({ method: 'HEAD', path: `/${bucket}-missing`, contentSha256: unsigned })).status, 404, 'HeadBucket of a missing one: 404');

    const files = new Map([
      ['logs/train/events.out.tfevents.1', seededBytes(70_000, 1)],
      ['logs/train/events.out.tfevents.2', seededBytes(1_100_000, 2)],
      ['logs/eval/events.out.tfevents.1', seededBytes(10, 3)],
      ['logs/checkpoint', Buffer.from('model_checkpoint_path: "ckpt-1"\n')],
    ]);
    for (const [key, body] of files) {
      const put = await s3.send({ method: 'PUT', path: `/${bucket}/${key}`, body, contentSha256: unsigned, headers: { 'content-type': 'binary/octet-stream' } });
      t.equal(put.status, 200, `PutObject ${key} with UNSIGNED-PAYLOAD`, diag(put));
      t.equal(put.headers.etag, `"${md5Hex(body)}"`, 'answers the MD5 ETag');
    }

    // IsDirectory / GetChildren: ListObjects (v1) with a prefix, one key, then the children with a delimiter, paged by marker.
    const probe = await s3.send({ method: 'GET', path: `/${bucket}`, query: [['prefix', 'logs/train/'], ['max-keys', '1']], contentSha256: unsigned });
    t.equal(probe.status, 200, 'ListObjects v1 directory probe', diag(probe));
    t.same(xmlValues(probe.text, 'Key'), ['logs/train/events.out.tfevents.1'], 'one key under the directory');
    const children: string[] = [];
    let marker = '';
    for (let page = 0; page < 10; page += 1) {
      const res = await s3.send({ method: 'GET', path: `/${bucket}`, query: [['prefix', 'logs/'], ['delimiter', '/'], ['max-keys', '2'], ...(marker === '' ? [] : [['marker', marker] as const])], contentSha256: unsigned });
      t.equal(res.status, 200, `GetChildren page ${page + 1}`, diag(res));
      const keys = xmlValues(res.text, 'Key');
      const prefixes = [...res.text.matchAll(/<CommonPrefixes><Prefix>([^<]*)<\/Prefix><\/CommonPrefixes>/g)].map((m) => m[1] ?? '');
      children.push(...keys, ...prefixes);
      if (xmlValues(res.text, 'IsTruncated')[0] !== 'true') break;
      marker = xmlValues(res.text, 'NextMarker')[0] ?? keys.at(-1) ?? '';
    }
    t.same(children.sort(), ['logs/checkpoint', 'logs/eval/', 'logs/train/'], 'the children of logs/: one file and two directories');

    // RandomAccessFile::Read: ranged GETs of a fixed size until one starts at the end and gets 416.
    const key = 'logs/train/events.out.tfevents.2';
    const size = (files.get(key) as Buffer).length;
    const stat = await s3.send({ method: 'HEAD', path: `/${bucket}/${key}`, contentSha256: unsigned });
    t.equal(Number(stat.headers['content-length']), size, 'HeadObject gives the size (GetFileSize)');
    const chunk = 512 * 1024;
    const read: Buffer[] = [];
    let offset = 0;
    let ended: RawResponse | undefined;
    for (let i = 0; i < 10 && ended === undefined; i += 1) {
      const res = await s3.send({ method: 'GET', path: `/${bucket}/${key}`, headers: { range: `bytes=${offset}-${offset + chunk - 1}` }, contentSha256: unsigned });
      if (res.status === 206) {
        read.push(res.body);
        offset += res.body.length;
      } else ended = res;
    }
    t.ok(Buffer.concat(read).equals(files.get(key) as Buffer), 'the 206 ranges read the file byte for byte, the last one cut short');
    t.equal(ended?.status, 416, 'the read that starts at the end of the file gets 416', ended === undefined ? {} : diag(ended));
    t.match(ended?.text ?? '', /<Code>InvalidRange<\/Code>/, 'InvalidRange');

    // RenameFile: CopyObject then DeleteObject; DeleteFile.
    const copy = await s3.send({ method: 'PUT', path: `/${bucket}/logs/checkpoint.renamed`, contentSha256: unsigned, headers: { 'x-amz-copy-source': `/${bucket}/logs/checkpoint` } });
    t.equal(copy.status, 200, 'CopyObject', diag(copy));
    t.equal((await s3.send({ method: 'DELETE', path: `/${bucket}/logs/checkpoint`, contentSha256: unsigned })).status, 204, 'DeleteObject of the source');
    const renamed = await s3.send({ method: 'GET', path: `/${bucket}/logs/checkpoint.renamed`, contentSha256: unsigned });
    t.ok(renamed.body.equals(files.get('logs/checkpoint') as Buffer), 'the renamed file has the bytes');
    for (const name of [...files.keys()].filter((k) => k !== 'logs/checkpoint').concat('logs/checkpoint.renamed')) {
      t.equal((await s3.send({ method: 'DELETE', path: `/${bucket}/${name}`, contentSha256: unsigned })).status, 204, `DeleteFile ${name}`);
    }
    const empty = await s3.send({ method: 'GET', path: `/${bucket}`, query: [['prefix', 'logs/']], contentSha256: EMPTY_SHA256 });
    t.same(xmlValues(empty.text, 'Key'), [], 'nothing left');
    t.equal((await s3.send({ method: 'DELETE', path: `/${bucket}` })).status, 204, 'bucket deleted');
  });
}

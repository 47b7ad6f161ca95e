import { t } from 'tap';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { computeChecksum } from '../../src/gateway/s3/checksums/index.js';
import { bucketName, collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

const MiB = 1024 * 1024;
const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024 });
t.teardown(() => cluster.close());
const s3 = cluster.client();
const source = bucketName('src');
const target = bucketName('dst');
await s3.send(new CreateBucketCommand({ Bucket: source }));
await s3.send(new CreateBucketCommand({ Bucket: target }));

async function read(bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

const original = seededBytes(700_001, 11);
await s3.send(
  new PutObjectCommand({
    Bucket: source,
    Key: 'dir/original file+1.bin',
    Body: original,
    ContentType: 'application/x-original',
    Metadata: { origin: 'put' },
    CacheControl: 'max-age=5',
    Tagging: 'kind=original',
  }),
);
const sourceKey = encodeURIComponent('dir/original file+1.bin').replace(/%2F/g, '/');

t.test('CopyObject across buckets copies bytes, metadata and headers, and answers CopyObjectResult', async (t) => {
  const copied = await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'copy', CopySource: `${source}/${sourceKey}` }));
  t.equal(copied.CopyObjectResult?.ETag, `"${md5Hex(original)}"`, 'the copy has the MD5 ETag');
  t.ok(copied.CopyObjectResult?.LastModified instanceof Date);
  t.ok((await read(target, 'copy')).equals(original), 'bytes identical');
  const head = await s3.send(new HeadObjectCommand({ Bucket: target, Key: 'copy' }));
  t.equal(head.ContentType, 'application/x-original');
  t.same(head.Metadata, { origin: 'put' });
  t.equal(head.CacheControl, 'max-age=5');
  t.equal(head.TagCount, 1);
});

t.test('the copy source key is URL-decoded, with or without a leading slash', async (t) => {
  await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'slash', CopySource: `/${source}/${sourceKey}` }));
  t.ok((await read(target, 'slash')).equals(original));
  const unicode = 'ünï/cødé ?&=.txt';
  await s3.send(new PutObjectCommand({ Bucket: source, Key: unicode, Body: 'unicode' }));
  await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'unicode', CopySource: `${source}/${encodeURIComponent(unicode)}` }));
  t.equal((await read(target, 'unicode')).toString(), 'unicode', 'reserved and non-ASCII characters survive');
});

t.test('x-amz-metadata-directive REPLACE takes metadata and headers from the request', async (t) => {
  await s3.send(
    new CopyObjectCommand({
      Bucket: target,
      Key: 'replaced',
      CopySource: `${source}/${sourceKey}`,
      MetadataDirective: 'REPLACE',
      ContentType: 'text/x-new',
      Metadata: { fresh: 'yes' },
    }),
  );
  const head = await s3.send(new HeadObjectCommand({ Bucket: target, Key: 'replaced' }));
  t.equal(head.ContentType, 'text/x-new');
  t.same(head.Metadata, { fresh: 'yes' });
  t.equal(head.CacheControl, undefined, 'stored headers are replaced too');
  t.ok((await read(target, 'replaced')).equals(original));
});

t.test('copying onto itself needs REPLACE: InvalidRequest otherwise, and the object is untouched', async (t) => {
  const error = await rawS3(cluster.endpoint, { method: 'PUT', bucket: source, key: 'dir/original file+1.bin', headers: { 'x-amz-copy-source': `${source}/${sourceKey}` } });
  t.equal(error.status, 400);
  t.equal(xmlField(error.body, 'Code'), 'InvalidRequest');
  t.match(xmlField(error.body, 'Message') ?? '', /copy an object to itself/);
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: source, Key: 'dir/original file+1.bin' }))).ContentType, 'application/x-original');
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'self', Body: 'self', ContentType: 'text/old' }));
  await s3.send(new CopyObjectCommand({ Bucket: source, Key: 'self', CopySource: `${source}/self`, MetadataDirective: 'REPLACE', ContentType: 'text/new' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: source, Key: 'self' }));
  t.equal(head.ContentType, 'text/new', 'REPLACE onto itself updates the metadata');
  t.equal((await read(source, 'self')).toString(), 'self');
});

t.test('copying onto itself with x-amz-storage-class is a change S3 accepts, and keeps the object as it was', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'reclassed', Body: 'reclassed', ContentType: 'text/kept', Metadata: { kept: 'yes' } }));
  const copied = await s3.send(new CopyObjectCommand({ Bucket: source, Key: 'reclassed', CopySource: `${source}/reclassed`, StorageClass: 'STANDARD' }));
  t.equal(copied.CopyObjectResult?.ETag, `"${md5Hex(Buffer.from('reclassed'))}"`);
  const head = await s3.send(new HeadObjectCommand({ Bucket: source, Key: 'reclassed' }));
  t.equal(head.ContentType, 'text/kept', 'the metadata directive is still COPY');
  t.same(head.Metadata, { kept: 'yes' });
  t.equal((await read(source, 'reclassed')).toString(), 'reclassed');
});

t.test('x-amz-copy-source-if-* conditions: 412 on failure, copy on success, with S3 precedence', async (t) => {
  const head = await s3.send(new HeadObjectCommand({ Bucket: source, Key: 'dir/original file+1.bin' }));
  const etag = head.ETag ?? '';
  const modified = head.LastModified ?? new Date();
  const before = new Date(modified.getTime() - 60_000);
  const copy = (conditions: Record<string, unknown>) =>
    sdkError(s3.send(new CopyObjectCommand({ Bucket: target, Key: 'conditional', CopySource: `${source}/${sourceKey}`, ...conditions })));
  t.same(await copy({ CopySourceIfMatch: '"nope"' }), { name: 'PreconditionFailed', status: 412 });
  t.same(await copy({ CopySourceIfNoneMatch: etag }), { name: 'PreconditionFailed', status: 412 });
  t.same(await copy({ CopySourceIfModifiedSince: modified }), { name: 'PreconditionFailed', status: 412 }, 'not modified since its own Last-Modified');
  t.same(await copy({ CopySourceIfUnmodifiedSince: before }), { name: 'PreconditionFailed', status: 412 });
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: target, Key: 'conditional' }))), { name: 'NotFound', status: 404 }, 'no failed copy stored anything');
  t.same(await copy({ CopySourceIfMatch: etag, CopySourceIfUnmodifiedSince: before }), { name: 'no error', status: undefined }, 'if-match true wins over unmodified-since false');
  t.same(await copy({ CopySourceIfNoneMatch: etag, CopySourceIfModifiedSince: before }), { name: 'PreconditionFailed', status: 412 }, 'if-none-match false wins over modified-since true');
  t.same(await copy({ CopySourceIfNoneMatch: '"other"', CopySourceIfModifiedSince: before }), { name: 'no error', status: undefined });
});

t.test('an x-amz-copy-source-if-modified-since later than now is ignored, as S3 ignores it, and the copy is made', async (t) => {
  const tomorrow = new Date(Date.now() + 24 * 3600_000);
  await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'modified-tomorrow', CopySource: `${source}/${sourceKey}`, CopySourceIfModifiedSince: tomorrow }));
  t.ok((await read(target, 'modified-tomorrow')).equals(original), 'CopyObject copied');
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: target, Key: 'modified-tomorrow-part' }));
  t.teardown(() => s3.send(new AbortMultipartUploadCommand({ Bucket: target, Key: 'modified-tomorrow-part', UploadId })));
  const part = await s3.send(
    new UploadPartCopyCommand({ Bucket: target, Key: 'modified-tomorrow-part', UploadId, PartNumber: 1, CopySource: `${source}/${sourceKey}`, CopySourceIfModifiedSince: tomorrow }),
  );
  t.equal(part.CopyPartResult?.ETag, `"${md5Hex(original)}"`, 'UploadPartCopy copied');
  const head = await s3.send(new HeadObjectCommand({ Bucket: source, Key: 'dir/original file+1.bin' }));
  t.same(
    await sdkError(s3.send(new CopyObjectCommand({ Bucket: target, Key: 'modified-tomorrow', CopySource: `${source}/${sourceKey}`, CopySourceIfModifiedSince: tomorrow, CopySourceIfNoneMatch: head.ETag }))),
    { name: 'PreconditionFailed', status: 412 },
    'an If-None-Match beside it still decides',
  );
});

t.test('copy source errors: missing key, missing bucket, versions, malformed header, bad directive', async (t) => {
  t.same(await sdkError(s3.send(new CopyObjectCommand({ Bucket: target, Key: 'x', CopySource: `${source}/absent` }))), { name: 'NoSuchKey', status: 404 });
  t.same(await sdkError(s3.send(new CopyObjectCommand({ Bucket: target, Key: 'x', CopySource: 'no-such-bucket-zz/k' }))), { name: 'NoSuchBucket', status: 404 });
  t.same(await sdkError(s3.send(new CopyObjectCommand({ Bucket: 'no-such-bucket-zz', Key: 'x', CopySource: `${source}/${sourceKey}` }))), { name: 'NoSuchBucket', status: 404 });
  t.same(await sdkError(s3.send(new CopyObjectCommand({ Bucket: target, Key: 'x', CopySource: `${source}/${sourceKey}?versionId=abc` }))), { name: 'NoSuchVersion', status: 404 });
  await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'null-version', CopySource: `${source}/${sourceKey}?versionId=null` }));
  t.ok((await read(target, 'null-version')).equals(original), 'versionId=null names the current version');
  const malformed = await rawS3(cluster.endpoint, { method: 'PUT', bucket: target, key: 'x', headers: { 'x-amz-copy-source': source } });
  t.equal(xmlField(malformed.body, 'Code'), 'InvalidArgument');
  const directive = await rawS3(cluster.endpoint, { method: 'PUT', bucket: target, key: 'x', headers: { 'x-amz-copy-source': `${source}/${sourceKey}`, 'x-amz-metadata-directive': 'MERGE' } });
  t.equal(xmlField(directive.body, 'Code'), 'InvalidArgument');
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: target, Key: 'x' }))), { name: 'NotFound', status: 404 }, 'nothing stored');
});

t.test('an empty versionId in the copy source is 400 InvalidArgument, for CopyObject and UploadPartCopy', async (t) => {
  const copySource = `${source}/${sourceKey}?versionId=`;
  const copy = await rawS3(cluster.endpoint, { method: 'PUT', bucket: target, key: 'empty-version', headers: { 'x-amz-copy-source': copySource } });
  t.equal(copy.status, 400);
  t.equal(xmlField(copy.body, 'Code'), 'InvalidArgument');
  t.equal(xmlField(copy.body, 'Message'), 'Version id cannot be the empty string');
  t.equal(xmlField(copy.body, 'ArgumentName'), 'x-amz-copy-source');
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: target, Key: 'empty-version' }))), { name: 'NotFound', status: 404 }, 'nothing stored');
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: target, Key: 'empty-version' }));
  t.teardown(() => s3.send(new AbortMultipartUploadCommand({ Bucket: target, Key: 'empty-version', UploadId })));
  t.same(
    await sdkError(s3.send(new UploadPartCopyCommand({ Bucket: target, Key: 'empty-version', UploadId, PartNumber: 1, CopySource: copySource }))),
    { name: 'InvalidArgument', status: 400 },
  );
});

t.test('CopyObject honours If-None-Match: * on the destination', async (t) => {
  await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'once', CopySource: `${source}/${sourceKey}`, IfNoneMatch: '*' }));
  t.same(await sdkError(s3.send(new CopyObjectCommand({ Bucket: target, Key: 'once', CopySource: `${source}/self`, IfNoneMatch: '*' }))), { name: 'PreconditionFailed', status: 412 });
  t.ok((await read(target, 'once')).equals(original), 'the refused copy changed nothing');
});

t.test('copying a multipart object streams every part into one new object with an MD5 ETag', async (t) => {
  const parts = [seededBytes(5 * MiB, 1), seededBytes(1 * MiB + 7, 2)];
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: source, Key: 'multi' }));
  const etags = [];
  for (const [i, Body] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: source, Key: 'multi', UploadId, PartNumber: i + 1, Body }))).ETag);
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: source, Key: 'multi', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
  const whole = Buffer.concat(parts);
  const copied = await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'multi-copy', CopySource: `${source}/multi` }));
  t.equal(copied.CopyObjectResult?.ETag, `"${md5Hex(whole)}"`);
  t.ok((await read(target, 'multi-copy')).equals(whole));
  // Rename as tools do it: copy, then delete the source.
  await s3.send(new DeleteObjectCommand({ Bucket: source, Key: 'multi' }));
  t.ok((await read(target, 'multi-copy')).equals(whole), 'the copy is independent of the source');
});

t.test('a copy keeps the source checksum algorithm, or computes the one asked for', async (t) => {
  const body = Buffer.from('checksummed copy');
  const put = await s3.send(new PutObjectCommand({ Bucket: source, Key: 'crc', Body: body, ChecksumAlgorithm: 'CRC32C' }));
  t.equal(put.ChecksumCRC32C, computeChecksum('CRC32C', body), 'PutObject answers its checksum');
  t.equal(put.ChecksumType, 'FULL_OBJECT');
  const kept = await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'crc', CopySource: `${source}/crc` }));
  t.equal(kept.CopyObjectResult?.ChecksumCRC32C, computeChecksum('CRC32C', body));
  const asked = await s3.send(new CopyObjectCommand({ Bucket: target, Key: 'sha', CopySource: `${source}/crc`, ChecksumAlgorithm: 'SHA256' }));
  t.equal(asked.CopyObjectResult?.ChecksumSHA256, computeChecksum('SHA256', body));
  const head = await s3.send(new HeadObjectCommand({ Bucket: target, Key: 'sha', ChecksumMode: 'ENABLED' }));
  t.equal(head.ChecksumSHA256, computeChecksum('SHA256', body));
  t.equal(head.ChecksumType, 'FULL_OBJECT');
});

t.test('UploadPartCopy with x-amz-copy-source-range builds an object from ranges of another', async (t) => {
  const big = seededBytes(10 * MiB + 100, 21);
  await s3.send(new PutObjectCommand({ Bucket: source, Key: 'big', Body: big }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: target, Key: 'assembled' }));
  const first = await s3.send(
    new UploadPartCopyCommand({ Bucket: target, Key: 'assembled', UploadId, PartNumber: 1, CopySource: `${source}/big`, CopySourceRange: `bytes=0-${5 * MiB - 1}` }),
  );
  t.equal(first.CopyPartResult?.ETag, `"${md5Hex(big.subarray(0, 5 * MiB))}"`);
  const second = await s3.send(new UploadPartCopyCommand({ Bucket: target, Key: 'assembled', UploadId, PartNumber: 2, CopySource: `${source}/big`, CopySourceRange: `bytes=${5 * MiB}-${10 * MiB + 99}` }));
  const third = await s3.send(new UploadPartCopyCommand({ Bucket: target, Key: 'assembled', UploadId, PartNumber: 3, CopySource: `${source}/${sourceKey}` }));
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: target,
      Key: 'assembled',
      UploadId,
      MultipartUpload: { Parts: [first, second, third].map((r, i) => ({ ETag: r.CopyPartResult?.ETag, PartNumber: i + 1 })) },
    }),
  );
  t.ok((await read(target, 'assembled')).equals(Buffer.concat([big, original])), 'ranges and a whole-object part in order');
});

t.test('UploadPartCopy refuses malformed and out-of-range ranges with 400 InvalidArgument, and a missing upload', async (t) => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: target, Key: 'ranges' }));
  t.teardown(() => s3.send(new AbortMultipartUploadCommand({ Bucket: target, Key: 'ranges', UploadId })));
  const copyPart = (range: string) =>
    sdkError(s3.send(new UploadPartCopyCommand({ Bucket: target, Key: 'ranges', UploadId, PartNumber: 1, CopySource: `${source}/self`, CopySourceRange: range })));
  t.same(await copyPart('bytes=0-4'), { name: 'InvalidArgument', status: 400 }, 'past the end of a 4-byte source: 400, not a GET\'s 416');
  t.same(await copyPart('bytes=9-12'), { name: 'InvalidArgument', status: 400 }, 'starting past the end');
  t.same(await copyPart('bytes=3-1'), { name: 'InvalidArgument', status: 400 }, 'inverted');
  t.same(await copyPart('bytes=-2'), { name: 'InvalidArgument', status: 400 }, 'suffix ranges are not copy ranges');
  const rawPart = (range: string) =>
    rawS3(cluster.endpoint, { method: 'PUT', bucket: target, key: 'ranges', query: { partNumber: '1', uploadId: UploadId ?? '' }, headers: { 'x-amz-copy-source': `${source}/self`, 'x-amz-copy-source-range': range } });
  const pastEnd = await rawPart('bytes=2-4');
  t.equal(pastEnd.status, 400);
  t.equal(xmlField(pastEnd.body, 'Code'), 'InvalidArgument');
  t.equal(xmlField(pastEnd.body, 'Message'), 'Range specified is not valid for source object of size: 4');
  t.equal(xmlField(pastEnd.body, 'ArgumentName'), 'x-amz-copy-source-range');
  t.equal(xmlField(pastEnd.body, 'ArgumentValue'), 'bytes=2-4');
  const open = await rawPart('bytes=1-');
  t.equal(xmlField(open.body, 'Code'), 'InvalidArgument');
  t.match(xmlField(open.body, 'Message') ?? '', /^The x-amz-copy-source-range value must be of the form bytes=first-last /);
  t.same(await copyPart('bytes=0-3'), { name: 'no error', status: undefined });
  t.same(
    await sdkError(s3.send(new UploadPartCopyCommand({ Bucket: target, Key: 'ranges', UploadId: 'f'.repeat(32), PartNumber: 1, CopySource: `${source}/self` }))),
    { name: 'NoSuchUpload', status: 404 },
  );
});

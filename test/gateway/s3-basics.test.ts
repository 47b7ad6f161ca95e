import { t } from 'tap';
import fc from 'fast-check';
import { S3_ERRORS, S3Error, compareUtf8 } from '../../src/gateway/index.js';
import * as handlers from '../../src/gateway/handlers/index.js';
import { OPERATIONS, resolveOperation } from '../../src/gateway/operations.js';
import { decideQuorum, readQuorum, writeQuorum } from '../../src/rpc/index.js';
import { parseRange, parseTarget, urlEncodeListField } from '../../src/gateway/s3/index.js';

t.test('every S3 error in the table has an HTTP error status and a message', async (t) => {
  for (const [code, entry] of Object.entries(S3_ERRORS)) {
    t.ok(entry.status >= 300 && entry.status < 600, `${code} status ${entry.status}`);
    t.ok(entry.message.length > 0, `${code} message`);
  }
  const err = new S3Error('NoSuchKey', { fields: { Key: 'k' } });
  t.equal(err.status, 404);
  t.equal(err.code, 'NoSuchKey');
});

t.test('UTF-8 byte order matches Buffer.compare for any strings, surrogates included', async (t) => {
  // S3 keys are valid UTF-8: code points without lone surrogates, weighted towards the ranges that differ.
  const codePoint = fc.oneof(
    fc.integer({ min: 0x20, max: 0x7f }),
    fc.integer({ min: 0xd000, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
  );
  const key = fc.array(codePoint, { maxLength: 6 }).map((points) => String.fromCodePoint(...points));
  fc.assert(
    fc.property(key, key, (a, b) => {
      const expected = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
      return Math.sign(compareUtf8(a, b)) === expected;
    }),
    { numRuns: 5000 },
  );
  t.ok(compareUtf8('\uffff', '\u{10000}') < 0, 'BMP private-use sorts before supplementary planes');
  t.ok(compareUtf8('a', 'a/') < 0);
});

t.test('ranges resolve as S3 does: suffix, open-ended, clamped, ignored when malformed, 416 past the end', async (t) => {
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  t.same(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  t.same(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
  t.same(parseRange('bytes=50-1000', 100), { start: 50, end: 99 });
  t.equal(parseRange('bytes=9-3', 100), undefined, 'inverted range is ignored');
  t.equal(parseRange('bytes=0-1,5-6', 100), undefined, 'multiple ranges are ignored');
  t.equal(parseRange('items=0-1', 100), undefined);
  t.equal(parseRange(undefined, 100), undefined);
  t.throws(() => parseRange('bytes=100-', 100), { code: 'InvalidRange' });
  t.throws(() => parseRange('bytes=0-', 0), { code: 'InvalidRange' });
  t.throws(() => parseRange('bytes=-0', 100), { code: 'InvalidRange' });
});

t.test('request targets split into bucket, key and query in path and virtual-host style', async (t) => {
  const path = parseTarget('/bucket/a%20b/c%2Bd?list-type=2&prefix=x+y', '127.0.0.1:9000', undefined);
  t.equal(path.bucket, 'bucket');
  t.equal(path.key, 'a b/c+d');
  t.equal(path.query.get('prefix'), 'x y');
  t.equal(parseTarget('/bucket/', undefined, undefined).key, undefined, 'a trailing slash names the bucket');
  t.equal(parseTarget('/bucket//double', undefined, undefined).key, '/double', 'keys may start with a slash');
  const vhost = parseTarget('/dir/file.txt', 'photos.s3.example.com:9000', 's3.example.com');
  t.same([vhost.bucket, vhost.key], ['photos', 'dir/file.txt']);
  t.same(parseTarget('/', undefined, undefined).bucket, undefined);
  t.throws(() => parseTarget(`/b/${'k'.repeat(1025)}`, undefined, undefined), { code: 'KeyTooLongError' });
  t.throws(() => parseTarget('/b/%E0%A4%A', undefined, undefined), { code: 'InvalidURI' });
  t.throws(() => parseTarget('/b/%C3%28', undefined, undefined), { code: 'InvalidURI' }, 'a key that is not UTF-8');
});

t.test('listing fields are URL-encoded the way botocore decodes them', async (t) => {
  t.equal(urlEncodeListField('a b+c%/é'), 'a%20b%2Bc%25/%C3%A9');
});

t.test('operations resolve from method, target and sub-resource; unknown sub-resources are refused', async (t) => {
  const op = (method: string, url: string) => resolveOperation(method, parseTarget(url, undefined, undefined)).name;
  t.equal(op('GET', '/'), 'ListBuckets');
  t.equal(op('PUT', '/b'), 'CreateBucket');
  t.equal(op('GET', '/b?list-type=2&prefix=a'), 'ListObjects');
  t.equal(op('POST', '/b?delete'), 'DeleteObjects');
  t.equal(op('PUT', '/b/k'), 'PutObject');
  t.equal(op('PUT', '/b/k?partNumber=1&uploadId=x'), 'UploadPart');
  t.equal(op('POST', '/b/k?uploads'), 'CreateMultipartUpload');
  t.equal(op('POST', '/b/k?uploadId=x'), 'CompleteMultipartUpload');
  t.equal(op('PUT', '/b/k?tagging'), 'PutObjectTagging', 'PUT ?tagging never overwrites the object');
  t.equal(op('PUT', '/b/k?acl'), 'PutObjectAcl');
  t.equal(op('GET', '/b/k?versionId=null'), 'GetObject', 'versionId is accepted on object reads');
  t.equal(op('GET', '/b/k?tagging&versionId=null'), 'GetObjectTagging');
  t.equal(op('PUT', '/b/k?retention'), 'PutObjectRetention', 'PUT ?retention never overwrites the object');
  t.equal(op('PUT', '/b/k?legal-hold&versionId=x'), 'PutObjectLegalHold');
  t.equal(op('PUT', '/b?object-lock'), 'PutObjectLockConfiguration');
  t.throws(() => op('PUT', '/b/k?torrent'), { code: 'NotImplemented' }, 'PUT ?torrent never overwrites the object');
  t.throws(() => op('PUT', '/b/k?versionId=x'), { code: 'NotImplemented' }, 'versionId is not accepted on writes');
  t.throws(() => op('POST', '/b/k'), { code: 'MethodNotAllowed' });
  const withCopy = (method: string, url: string) =>
    resolveOperation(method, parseTarget(url, undefined, undefined), { 'x-amz-copy-source': '/a/b' }).name;
  t.equal(withCopy('PUT', '/b/k'), 'CopyObject', 'x-amz-copy-source turns a PUT into a copy');
  t.equal(withCopy('PUT', '/b/k?partNumber=1&uploadId=x'), 'UploadPartCopy');
  t.equal(op('GET', '/b?policy'), 'GetBucketPolicy');
  t.equal(op('PUT', '/b?policy'), 'PutBucketPolicy');
  t.equal(op('GET', '/b?policyStatus'), 'GetBucketPolicyStatus');
  t.equal(op('GET', '/b?ownershipControls'), 'GetBucketOwnershipControls');
  t.equal(op('GET', '/b?lifecycle'), 'GetBucketLifecycleConfiguration');
  t.equal(op('PUT', '/b?lifecycle'), 'PutBucketLifecycleConfiguration');
  t.equal(op('GET', '/b?notification'), 'GetBucketNotificationConfiguration');
  t.equal(op('PUT', '/b?notification'), 'PutBucketNotificationConfiguration');
  t.equal(op('GET', '/b?replication'), 'GetBucketReplication');
  t.equal(op('PUT', '/b?replication'), 'PutBucketReplication');
  t.equal(op('DELETE', '/b?replication'), 'DeleteBucketReplication');
  t.equal(op('GET', '/b?website'), 'GetBucketUnconfigured');
  t.equal(op('GET', '/b?logging'), 'GetBucketLogging');
  t.equal(op('PUT', '/b?logging'), 'PutBucketLogging');
  t.equal(op('GET', '/b?accelerate'), 'GetBucketFixedConfiguration');
  t.equal(op('PUT', '/b?publicAccessBlock'), 'PutPublicAccessBlock');
  t.throws(() => op('PUT', '/b?website'), { code: 'NotImplemented' }, 'a website cannot be set');
});

t.test('the operation table names every handler, and each operation has one handler', async (t) => {
  const named = new Set(OPERATIONS.map((row) => row.handler));
  for (const [name, handler] of Object.entries(handlers)) t.ok(named.has(handler), `${name} serves a row of the table`);
  const byName = new Map<string, unknown>();
  for (const row of OPERATIONS) {
    t.equal(byName.get(row.name) ?? row.handler, row.handler, `${row.name} rows share one handler`);
    byName.set(row.name, row.handler);
  }
});

t.test('quorums: W = k (k + 1 when k = m), R = n - W + 1, and failures are listed per node', async (t) => {
  t.equal(writeQuorum(4, 2), 4);
  t.equal(readQuorum(4, 2), 3);
  t.equal(writeQuorum(2, 2), 3);
  t.equal(readQuorum(8, 4), 5);
  const decision = decideQuorum(
    [
      { nodeId: 'a', ok: true, value: 1 },
      { nodeId: 'b', ok: false, error: Object.assign(new Error('refused'), { code: 'Unavailable' }) },
    ],
    2,
  );
  t.equal(decision.met, false);
  t.same(decision.failures, [{ nodeId: 'b', reason: 'Unavailable: refused' }]);
});

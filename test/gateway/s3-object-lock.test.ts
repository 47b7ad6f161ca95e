import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { runUserCli } from '../../src/bin/user-cli.js';
import { silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { bucketName, collect } from '../helpers/bytes.js';
import { localS3Client, startCluster, type TestCluster } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField, type RawRequest } from './raw-s3.js';

/**
 * Object Lock as S3 behaves, against a real gateway and six real nodes: the bucket's lock configuration,
 * the lock of each version (retention, legal hold) set by headers, by default and by its own calls, and
 * the one thing it is for: a locked version cannot be removed, by any path, until its lock ends.
 */

const GATEWAY = { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 };
let cluster: TestCluster = await startCluster({ blockSizeBytes: 64 * 1024, gatewayOverrides: GATEWAY });
t.teardown(() => cluster.close());
let s3 = cluster.client();

const DAY_MS = 86_400_000;
const LOCKED = { name: 'AccessDenied', status: 403 };

function md5(body: string): string {
  return createHash('md5').update(body).digest('base64');
}

/** A raw signed request carrying a body with its Content-MD5 (unless `withDigest` is false). */
function raw(options: RawRequest & { withDigest?: boolean }): ReturnType<typeof rawS3> {
  const body = typeof options.body === 'string' ? options.body : '';
  const headers = { ...(options.withDigest === false || options.body === undefined ? {} : { 'content-md5': md5(body) }), ...options.headers };
  return rawS3(cluster.endpoint, { ...options, headers });
}

async function lockedBucket(defaultRetention?: { Mode: 'GOVERNANCE' | 'COMPLIANCE'; Days?: number; Years?: number }): Promise<string> {
  const bucket = bucketName('lock');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  if (defaultRetention !== undefined) {
    await s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: defaultRetention } } }));
  }
  return bucket;
}

async function versionCount(bucket: string): Promise<number> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  return (page.Versions ?? []).length + (page.DeleteMarkers ?? []).length;
}

async function text(bucket: string, key: string, versionId: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return (await collect(got.Body as AsyncIterable<Uint8Array>)).toString('utf8');
}

function deleteVersion(bucket: string, key: string, versionId: string, bypass = false, client: S3Client = s3): Promise<unknown> {
  return client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId, ...(bypass ? { BypassGovernanceRetention: true } : {}) }));
}

/** Polls `probe` until it holds (a condition, never a fixed sleep). */
async function eventually(probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

t.test('CreateBucket with x-amz-bucket-object-lock-enabled turns versioning on for good: Suspended is refused with InvalidBucketState', async (t) => {
  const bucket = await lockedBucket();
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Enabled');
  t.same((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' });
  const suspended = await raw({
    method: 'PUT',
    bucket,
    query: { versioning: '' },
    body: '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>',
  });
  t.equal(suspended.status, 409);
  t.equal(xmlField(suspended.body, 'Code'), 'InvalidBucketState');
  t.equal(xmlField(suspended.body, 'Message'), 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Enabled', 'still Enabled');
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
});

t.test('PutObjectLockConfiguration is validated as S3 validates it, and a refused one changes nothing', async (t) => {
  const bucket = await lockedBucket({ Mode: 'GOVERNANCE', Days: 2 });
  const put = (body: string, withDigest = true) => raw({ method: 'PUT', bucket, query: { 'object-lock': '' }, body, withDigest });
  const doc = (inner: string) => `<ObjectLockConfiguration>${inner}</ObjectLockConfiguration>`;
  const retention = (inner: string) => doc(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>${inner}</DefaultRetention></Rule>`);
  const cases: [string, string, number, string][] = [
    ['no ObjectLockEnabled', doc('<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule>'), 400, 'MalformedXML'],
    ['ObjectLockEnabled other than Enabled', doc('<ObjectLockEnabled>Disabled</ObjectLockEnabled>'), 400, 'MalformedXML'],
    ['a Rule without DefaultRetention', doc('<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule></Rule>'), 400, 'MalformedXML'],
    ['both Days and Years', retention('<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>'), 400, 'MalformedXML'],
    ['neither Days nor Years', retention('<Mode>GOVERNANCE</Mode>'), 400, 'MalformedXML'],
    ['an unknown Mode', retention('<Mode>FOREVER</Mode><Days>1</Days>'), 400, 'MalformedXML'],
    ['no Mode', retention('<Days>1</Days>'), 400, 'MalformedXML'],
    ['zero Days', retention('<Mode>GOVERNANCE</Mode><Days>0</Days>'), 400, 'InvalidRetentionPeriod'],
    ['negative Years', retention('<Mode>COMPLIANCE</Mode><Years>-1</Years>'), 400, 'InvalidRetentionPeriod'],
    ['zero Years', retention('<Mode>COMPLIANCE</Mode><Years>0</Years>'), 400, 'InvalidRetentionPeriod'],
    ['negative Days', retention('<Mode>GOVERNANCE</Mode><Days>-3</Days>'), 400, 'InvalidRetentionPeriod'],
    ['more than 100 Years', retention('<Mode>COMPLIANCE</Mode><Years>101</Years>'), 400, 'InvalidArgument'],
    ['more than 36500 Days', retention('<Mode>COMPLIANCE</Mode><Days>36501</Days>'), 400, 'InvalidArgument'],
    ['Days that are not a number', retention('<Mode>COMPLIANCE</Mode><Days>one</Days>'), 400, 'MalformedXML'],
    ['not XML', 'not xml', 400, 'MalformedXML'],
  ];
  for (const [what, body, status, code] of cases) {
    const answer = await put(body);
    t.equal(answer.status, status, what);
    t.equal(xmlField(answer.body, 'Code'), code, what);
  }
  const noDigest = await put(retention('<Mode>COMPLIANCE</Mode><Years>1</Years>'), false);
  t.equal(xmlField(noDigest.body, 'Code'), 'InvalidRequest', 'Content-MD5 or a checksum is required');
  t.same((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration?.Rule, { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } }, 'unchanged');
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Years: 1 } } } }));
  const got = await raw({ method: 'GET', bucket, query: { 'object-lock': '' } });
  t.match(got.body, /<ObjectLockConfiguration xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><ObjectLockEnabled>Enabled<\/ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE<\/Mode><Years>1<\/Years><\/DefaultRetention><\/Rule><\/ObjectLockConfiguration>/);
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
  t.same((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' }, 'no Rule: no default retention');
});

t.test('Object Lock is enabled on an existing bucket only once versioning is Enabled, as S3 allows', async (t) => {
  const bucket = bucketName('late');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  t.same(await sdkError(s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))), { name: 'ObjectLockConfigurationNotFoundError', status: 404 });
  const enable = () => s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
  t.same(await sdkError(enable()), { name: 'InvalidBucketState', status: 409 }, 'refused while versioning was never enabled');
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
  t.same(await sdkError(enable()), { name: 'InvalidBucketState', status: 409 }, 'refused while versioning is suspended');
  t.same(await sdkError(s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))), { name: 'ObjectLockConfigurationNotFoundError', status: 404 }, 'nothing was enabled');
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const before = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'old', Body: 'from before the lock' }))).VersionId ?? '';
  await enable();
  t.equal((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled');
  t.same(await sdkError(s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }))), { name: 'InvalidBucketState', status: 409 });
  // A version from before the lock can be locked afterwards.
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'old', VersionId: before, LegalHold: { Status: 'ON' } }));
  t.same(await sdkError(deleteVersion(bucket, 'old', before)), LOCKED);
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'old', VersionId: before, LegalHold: { Status: 'OFF' } }));
  await deleteVersion(bucket, 'old', before);
});

t.test('lock headers on a bucket without Object Lock are InvalidRequest "Bucket is missing Object Lock Configuration"', async (t) => {
  const bucket = bucketName('nolock');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const refused = await raw({ method: 'PUT', bucket, key: 'k', body: 'x', headers: { 'x-amz-object-lock-legal-hold': 'ON' } });
  t.equal(refused.status, 400);
  t.equal(xmlField(refused.body, 'Code'), 'InvalidRequest');
  t.equal(xmlField(refused.body, 'Message'), 'Bucket is missing Object Lock Configuration');
  const version = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }))).VersionId ?? '';
  const calls: [string, () => Promise<unknown>][] = [
    ['PutObjectRetention', () => s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', VersionId: version, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + DAY_MS) } }))],
    ['GetObjectRetention', () => s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k' }))],
    ['PutObjectLegalHold', () => s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'k', LegalHold: { Status: 'ON' } }))],
    ['GetObjectLegalHold', () => s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'k' }))],
    ['CreateMultipartUpload', () => s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'm', ObjectLockLegalHoldStatus: 'ON' }))],
  ];
  for (const [what, call] of calls) t.same(await sdkError(call()), { name: 'InvalidRequest', status: 400 }, what);
  t.equal(await versionCount(bucket), 1, 'only the plain write stored anything');
});

t.test('PutObject lock headers: validated as S3 does (nothing stored on a refusal), kept on the version, answered on GET and HEAD', async (t) => {
  const bucket = await lockedBucket();
  const future = new Date(Date.now() + DAY_MS).toISOString();
  const cases: [string, Record<string, string>, boolean, string, string][] = [
    ['a mode without a date', { 'x-amz-object-lock-mode': 'GOVERNANCE' }, true, 'InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied'],
    ['a date without a mode', { 'x-amz-object-lock-retain-until-date': future }, true, 'InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied'],
    ['an unknown mode', { 'x-amz-object-lock-mode': 'forever', 'x-amz-object-lock-retain-until-date': future }, true, 'InvalidArgument', 'Unknown wormMode directive.'],
    ['a date that is not ISO 8601', { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': 'tomorrow' }, true, 'InvalidArgument', 'The retain until date must be provided in ISO 8601 format'],
    ['a date in the past', { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': '2020-01-01T00:00:00Z' }, true, 'InvalidArgument', 'The retain until date must be in the future!'],
    ['a legal hold other than ON or OFF', { 'x-amz-object-lock-legal-hold': 'YES' }, true, 'InvalidArgument', "Legal Hold must be either of 'ON' or 'OFF'"],
    ['no Content-MD5 or checksum', { 'x-amz-object-lock-legal-hold': 'ON' }, false, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters'],
  ];
  for (const [what, headers, withDigest, code, message] of cases) {
    const answer = await raw({ method: 'PUT', bucket, key: 'k', body: 'x', headers, withDigest });
    t.equal(answer.status, 400, what);
    t.equal(xmlField(answer.body, 'Code'), code, what);
    t.equal(xmlField(answer.body, 'Message')?.replaceAll('&apos;', "'"), message, what);
  }
  t.equal(await versionCount(bucket), 0, 'no refused write stored a version');

  const until = new Date(Date.now() + DAY_MS);
  until.setUTCMilliseconds(0);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'locked', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until, ObjectLockLegalHoldStatus: 'ON' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(head.ObjectLockMode, 'COMPLIANCE');
  t.equal(head.ObjectLockRetainUntilDate?.getTime(), until.getTime());
  t.equal(head.ObjectLockLegalHoldStatus, 'ON');
  const got = await raw({ method: 'GET', bucket, key: 'k', query: { versionId: put.VersionId ?? '' } });
  t.equal(got.headers['x-amz-object-lock-mode'], 'COMPLIANCE');
  t.equal(got.headers['x-amz-object-lock-retain-until-date'], until.toISOString());
  t.equal(got.headers['x-amz-object-lock-legal-hold'], 'ON');
  t.equal(got.body, 'locked');
  // A checksum header stands in for Content-MD5, as S3 now accepts.
  const crc = await raw({ method: 'PUT', bucket, key: 'crc', body: 'x', withDigest: false, headers: { 'x-amz-object-lock-legal-hold': 'OFF', 'x-amz-checksum-sha256': createHash('sha256').update('x').digest('base64') } });
  t.equal(crc.status, 200, crc.body);
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'crc' }))).ObjectLockLegalHoldStatus, 'OFF');
  const plain = await raw({ method: 'HEAD', bucket, key: 'plain-missing' });
  t.equal(plain.status, 404);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'p' }));
  const unlocked = await raw({ method: 'HEAD', bucket, key: 'plain' });
  t.equal(unlocked.headers['x-amz-object-lock-mode'], undefined, 'a version without a lock has no lock headers');
  t.equal(unlocked.headers['x-amz-object-lock-legal-hold'], undefined);
});

t.test('the bucket default retention applies to PutObject, CopyObject and completed multipart uploads; explicit headers win', async (t) => {
  const bucket = await lockedBucket({ Mode: 'GOVERNANCE', Days: 1 });
  const before = Date.now();
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'put', Body: 'p' }));
  const put = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'put' }));
  t.equal(put.ObjectLockMode, 'GOVERNANCE');
  const putUntil = put.ObjectLockRetainUntilDate?.getTime() ?? 0;
  t.ok(putUntil >= before + DAY_MS && putUntil <= Date.now() + DAY_MS, 'one day from the write');
  t.equal(put.ObjectLockLegalHoldStatus, undefined, 'a default sets no legal hold');

  const explicit = new Date(Date.now() + 3 * DAY_MS);
  explicit.setUTCMilliseconds(0);
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/put`, ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: explicit, ObjectLockLegalHoldStatus: 'ON' }));
  const copy = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy' }));
  t.same([copy.ObjectLockMode, copy.ObjectLockRetainUntilDate?.getTime(), copy.ObjectLockLegalHoldStatus], ['COMPLIANCE', explicit.getTime(), 'ON'], 'the copy request\'s own lock');
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy2', CopySource: `${bucket}/copy` }));
  const copy2 = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy2' }));
  t.equal(copy2.ObjectLockMode, 'GOVERNANCE', 'the source\'s lock does not travel: the default applies');
  t.equal(copy2.ObjectLockLegalHoldStatus, undefined);

  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: explicit, ObjectLockLegalHoldStatus: 'ON' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mpu', UploadId: upload.UploadId, PartNumber: 1, Body: 'part one' }));
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mpu', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  const mpu = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mpu' }));
  t.same([mpu.ObjectLockMode, mpu.ObjectLockRetainUntilDate?.getTime(), mpu.ObjectLockLegalHoldStatus], ['COMPLIANCE', explicit.getTime(), 'ON'], 'the upload\'s requested lock');
  t.same(await sdkError(deleteVersion(bucket, 'mpu', done.VersionId ?? '', true)), LOCKED, 'the completed object is locked');

  const plainUpload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu-default' }));
  const bare = await raw({ method: 'PUT', bucket, key: 'mpu-default', query: { uploadId: plainUpload.UploadId ?? '', partNumber: '1' }, body: 'p', withDigest: false });
  t.equal(xmlField(bare.body, 'Code'), 'InvalidRequest', 'a part of an object the default will lock needs Content-MD5 or a checksum');
  const plainPart = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mpu-default', UploadId: plainUpload.UploadId, PartNumber: 1, Body: 'p' }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mpu-default', UploadId: plainUpload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: plainPart.ETag }] } }));
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mpu-default' }))).ObjectLockMode, 'GOVERNANCE', 'the default applies at completion');

  const years = await lockedBucket({ Mode: 'COMPLIANCE', Years: 1 });
  await s3.send(new PutObjectCommand({ Bucket: years, Key: 'y', Body: 'y' }));
  const yearUntil = (await s3.send(new HeadObjectCommand({ Bucket: years, Key: 'y' }))).ObjectLockRetainUntilDate?.getTime() ?? 0;
  t.ok(yearUntil >= before + 365 * DAY_MS && yearUntil <= Date.now() + 366 * DAY_MS, 'a calendar year from the write');
});

t.test('Put/GetObjectRetention and Put/GetObjectLegalHold act on the named version; retention is extended, never shortened', async (t) => {
  const bucket = await lockedBucket();
  const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'one' }))).VersionId ?? '';
  const v2 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'two' }))).VersionId ?? '';
  t.same(await sdkError(s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }))), { name: 'NoSuchObjectLockConfiguration', status: 404 });
  t.same(await sdkError(s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }))), { name: 'NoSuchObjectLockConfiguration', status: 404 });
  t.same(await sdkError(s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'missing' }))), { name: 'NoSuchKey', status: 404 });

  const day = new Date(Date.now() + DAY_MS);
  day.setUTCMilliseconds(0);
  const twoDays = new Date(day.getTime() + DAY_MS);
  const setRetention = (versionId: string, mode: 'GOVERNANCE' | 'COMPLIANCE', until: Date, bypass = false) =>
    s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', VersionId: versionId, Retention: { Mode: mode, RetainUntilDate: until }, ...(bypass ? { BypassGovernanceRetention: true } : {}) }));
  await setRetention(v1, 'COMPLIANCE', day);
  t.same((await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }))).Retention, { Mode: 'COMPLIANCE', RetainUntilDate: day });
  t.same(await sdkError(s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k' }))), { name: 'NoSuchObjectLockConfiguration', status: 404 }, 'the current version (v2) has none');
  await setRetention(v1, 'COMPLIANCE', twoDays);
  t.same((await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }))).Retention?.RetainUntilDate, twoDays, 'COMPLIANCE extended');
  t.same(await sdkError(setRetention(v1, 'COMPLIANCE', day, true)), LOCKED, 'COMPLIANCE is never shortened, bypass or not');
  t.same(await sdkError(setRetention(v1, 'GOVERNANCE', twoDays, true)), LOCKED, 'nor turned into GOVERNANCE');
  const remove = await raw({ method: 'PUT', bucket, key: 'k', query: { retention: '', versionId: v1 }, body: '<Retention/>', headers: { 'x-amz-bypass-governance-retention': 'true' } });
  t.equal(remove.status, 403, 'nor removed');

  await setRetention(v2, 'GOVERNANCE', twoDays);
  await setRetention(v2, 'GOVERNANCE', new Date(twoDays.getTime() + 1000));
  t.same(await sdkError(setRetention(v2, 'GOVERNANCE', day)), LOCKED, 'GOVERNANCE is not shortened without the bypass');
  t.same(await sdkError(setRetention(v2, 'COMPLIANCE', twoDays)), LOCKED, 'nor changed in mode without it');
  await setRetention(v2, 'GOVERNANCE', day, true);
  t.same((await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k' }))).Retention, { Mode: 'GOVERNANCE', RetainUntilDate: day }, 'shortened with the bypass');
  const removed = await raw({ method: 'PUT', bucket, key: 'k', query: { retention: '' }, body: '<Retention/>', headers: { 'x-amz-bypass-governance-retention': 'true' } });
  t.equal(removed.status, 200, removed.body);
  t.same(await sdkError(s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k' }))), { name: 'NoSuchObjectLockConfiguration', status: 404 }, 'removed with the bypass');
  t.equal((await raw({ method: 'HEAD', bucket, key: 'k' })).headers['x-amz-object-lock-mode'], undefined);

  const bad: [string, string, string][] = [
    ['an unknown mode', `<Retention><Mode>SOMETIMES</Mode><RetainUntilDate>${day.toISOString()}</RetainUntilDate></Retention>`, 'MalformedXML'],
    ['a mode without a date', '<Retention><Mode>GOVERNANCE</Mode></Retention>', 'MalformedXML'],
    ['a date that is not one', '<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>', 'MalformedXML'],
    ['a date in the past', '<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2001-01-01T00:00:00Z</RetainUntilDate></Retention>', 'InvalidArgument'],
  ];
  for (const [what, body, code] of bad) {
    const answer = await raw({ method: 'PUT', bucket, key: 'k', query: { retention: '' }, body });
    t.equal(xmlField(answer.body, 'Code'), code, what);
  }
  const noDigest = await raw({ method: 'PUT', bucket, key: 'k', query: { retention: '' }, body: `<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>${day.toISOString()}</RetainUntilDate></Retention>`, withDigest: false });
  t.equal(xmlField(noDigest.body, 'Code'), 'InvalidRequest', 'Content-MD5 or a checksum is required');

  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'k', VersionId: v1, LegalHold: { Status: 'ON' } }));
  t.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }))).LegalHold?.Status, 'ON');
  t.same(await sdkError(s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'k' }))), { name: 'NoSuchObjectLockConfiguration', status: 404 }, 'v2 has no legal hold');
  const badHold = await raw({ method: 'PUT', bucket, key: 'k', query: { 'legal-hold': '', versionId: v1 }, body: '<LegalHold><Status>MAYBE</Status></LegalHold>' });
  t.equal(xmlField(badHold.body, 'Code'), 'MalformedXML');
  t.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }))).LegalHold?.Status, 'ON', 'unchanged by the refused request');
  t.equal(await text(bucket, 'k', v1), 'one', 'lock changes leave the data alone');
  t.same(await sdkError(s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'k', VersionId: '0'.repeat(32), LegalHold: { Status: 'ON' } }))), { name: 'NoSuchVersion', status: 404 });
});

t.test('a locked version cannot be deleted by id (DeleteObject, DeleteObjects); a delete without an id still writes a marker', async (t) => {
  const bucket = await lockedBucket();
  const until = new Date(Date.now() + DAY_MS);
  const governance = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'gov', Body: 'g', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until }))).VersionId ?? '';
  const compliance = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'comp', Body: 'c', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until }))).VersionId ?? '';
  const held = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'held', Body: 'h', ObjectLockLegalHoldStatus: 'ON' }))).VersionId ?? '';
  const free = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'free', Body: 'f' }))).VersionId ?? '';

  const refused = await raw({ method: 'DELETE', bucket, key: 'comp', query: { versionId: compliance } });
  t.equal(refused.status, 403);
  t.equal(xmlField(refused.body, 'Code'), 'AccessDenied');
  t.equal(xmlField(refused.body, 'Message'), 'Access Denied because object protected by object lock.');
  t.same(await sdkError(deleteVersion(bucket, 'comp', compliance, true)), LOCKED, 'COMPLIANCE: the bypass changes nothing');
  t.same(await sdkError(deleteVersion(bucket, 'gov', governance)), LOCKED, 'GOVERNANCE without the bypass');
  t.same(await sdkError(deleteVersion(bucket, 'held', held, true)), LOCKED, 'a legal hold: the bypass changes nothing');

  const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'comp' }));
  t.equal(marker.DeleteMarker, true, 'a delete without a versionId writes a marker');
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'comp' }))), { name: 'NoSuchKey', status: 404 });
  t.equal(await text(bucket, 'comp', compliance), 'c', 'the locked version stays behind the marker');
  await deleteVersion(bucket, 'comp', marker.VersionId ?? '');
  t.equal(await text(bucket, 'comp', compliance), 'c');

  const batch = await s3.send(
    new DeleteObjectsCommand({
      Bucket: bucket,
      Delete: { Objects: [{ Key: 'comp', VersionId: compliance }, { Key: 'gov', VersionId: governance }, { Key: 'held', VersionId: held }, { Key: 'free', VersionId: free }, { Key: 'gov' }] },
    }),
  );
  t.same((batch.Errors ?? []).map((e) => [e.Key, e.Code]).sort(), [['comp', 'AccessDenied'], ['gov', 'AccessDenied'], ['held', 'AccessDenied']]);
  t.same((batch.Deleted ?? []).map((d) => [d.Key, d.VersionId ?? null, d.DeleteMarker ?? false]).sort(), [['free', free, false], ['gov', null, true]]);

  const bypassBatch = await s3.send(
    new DeleteObjectsCommand({ Bucket: bucket, BypassGovernanceRetention: true, Delete: { Objects: [{ Key: 'comp', VersionId: compliance }, { Key: 'gov', VersionId: governance }] } }),
  );
  t.same((bypassBatch.Errors ?? []).map((e) => [e.Key, e.Code]), [['comp', 'AccessDenied']], 'COMPLIANCE holds in a batch too');
  t.same((bypassBatch.Deleted ?? []).map((d) => d.VersionId), [governance], 'GOVERNANCE goes with the bypass');
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'gov', VersionId: governance }))), { name: 'NoSuchVersion', status: 404 });

  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'held', VersionId: held, LegalHold: { Status: 'OFF' } }));
  await deleteVersion(bucket, 'held', held);
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'held', VersionId: held }))), { name: 'NoSuchVersion', status: 404 }, 'deletable once the hold is lifted');
});

t.test('nodes themselves refuse to remove a locked version, whoever asks', async (t) => {
  const bucket = await lockedBucket();
  const versionId = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + DAY_MS) }))).VersionId ?? '';
  // Six nodes, 4+2: every node holds every key.
  for (const [i, node] of cluster.nodes.entries()) {
    const client = new NodeClient({ nodeId: `node-${i}`, address: `127.0.0.1:${node.address.port}`, clusterSecret: cluster.config.clusterSecret, connections: 1 });
    try {
      const refusal = await client.deleteVersion({ bucket, key: 'k', versionId }).then(
        () => 'removed',
        (err: { code?: string }) => err.code,
      );
      t.equal(refusal, 'Conflict', `node-${i} refuses`);
    } finally {
      await client.close();
    }
  }
  t.equal(await text(bucket, 'k', versionId), 'x');
});

t.test('a gateway whose cached bucket record predates the lock is still refused, by the nodes, with AccessDenied', async (t) => {
  const bucket = bucketName('stale');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const versionId = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }))).VersionId ?? '';
  const other = new Gateway({ config: cluster.config, logger: silentLogger() });
  const { port } = await other.start();
  t.teardown(() => other.close());
  const viaOther = localS3Client(`http://127.0.0.1:${port}`, { accessKeyId: 'test-access-key', secretAccessKey: 'test-secret-key' }, { maxAttempts: 1 });
  t.teardown(() => viaOther.destroy());
  // The other gateway caches the bucket record without a lock; the lock and a legal hold come through this one.
  await viaOther.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'k', VersionId: versionId, LegalHold: { Status: 'ON' } }));
  t.same(await sdkError(deleteVersion(bucket, 'k', versionId, true, viaOther)), LOCKED);
  t.equal(await text(bucket, 'k', versionId), 'x', 'the version is kept');
});

t.test('the GOVERNANCE bypass needs s3:BypassGovernanceRetention, lock headers their own permissions: a user without them bypasses, sets and sees nothing', async (t) => {
  const bucket = await lockedBucket();
  const configFile = join(cluster.dataDir, 'gateway.json');
  await writeFile(configFile, JSON.stringify({ credentials: [{ accessKeyId: 'test-access-key', secretAccessKey: 'test-secret-key' }], clusterSecret: cluster.config.clusterSecret, nodes: cluster.config.nodes.map((n) => ({ id: n.id, address: n.address })) }));
  let printed = '';
  const code = await runUserCli('user', ['add', 'carol', '--config', configFile], {}, { stdout: (s) => void (printed += s), stderr: () => undefined });
  t.equal(code, 0);
  const accessKeyId = /^access key: (\S+)$/m.exec(printed)?.[1] ?? '';
  const secretAccessKey = /^secret key: (\S+)$/m.exec(printed)?.[1] ?? '';
  const carol = localS3Client(cluster.endpoint, { accessKeyId, secretAccessKey }, { maxAttempts: 1 });
  t.teardown(() => carol.destroy());
  const policy = (actions: string[]) =>
    s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/carol' }, Action: actions, Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }] }),
      }),
    );
  const allowed = ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention'];
  await policy(allowed);
  const until = new Date(Date.now() + DAY_MS);
  const versionId = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until }))).VersionId ?? '';
  t.ok(await eventually(async () => (await sdkError(carol.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })))).name === 'no error'), 'carol can read once the policy is in force');
  const asked = await rawS3(cluster.endpoint, { method: 'DELETE', bucket, key: 'k', query: { versionId }, headers: { 'x-amz-bypass-governance-retention': 'true' }, credentials: { accessKeyId, secretAccessKey } });
  t.equal(asked.status, 403);
  t.equal(xmlField(asked.body, 'Message'), 'Access Denied because object protected by object lock.', 'asking for the bypass without the permission: the lock refuses');
  t.same(
    await sdkError(carol.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', VersionId: versionId, BypassGovernanceRetention: true, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 60_000) } }))),
    LOCKED,
    'nor shorten it',
  );
  await carol.send(new PutObjectCommand({ Bucket: bucket, Key: 'mine', Body: 'm', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until }));
  t.same(await sdkError(carol.send(new PutObjectCommand({ Bucket: bucket, Key: 'held', Body: 'h', ObjectLockLegalHoldStatus: 'ON' }))), { name: 'AccessDenied', status: 403 }, 'a legal hold header needs s3:PutObjectLegalHold');
  const unseen = await carol.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  t.equal(unseen.ObjectLockMode, undefined, 'without s3:GetObjectRetention HEAD shows no retention');
  await policy([...allowed, 's3:BypassGovernanceRetention', 's3:GetObjectRetention']);
  t.ok(await eventually(async () => (await carol.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).ObjectLockMode === 'GOVERNANCE'), 'with it, HEAD shows the retention');
  t.ok(await eventually(async () => (await sdkError(deleteVersion(bucket, 'k', versionId, true, carol))).name === 'no error'), 'with the permission the bypass removes it');
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: versionId }))), { name: 'NoSuchVersion', status: 404 });
});

t.test('time passing releases GOVERNANCE and COMPLIANCE retention: refused before the retain-until date, allowed after', async (t) => {
  const bucket = await lockedBucket();
  const until = new Date(Date.now() + 3_000);
  const ids: Record<string, string> = {};
  for (const mode of ['GOVERNANCE', 'COMPLIANCE'] as const) {
    ids[mode] = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: mode, Body: mode, ObjectLockMode: mode, ObjectLockRetainUntilDate: until }))).VersionId ?? '';
  }
  for (const mode of ['GOVERNANCE', 'COMPLIANCE'] as const) {
    t.same(await sdkError(deleteVersion(bucket, mode, ids[mode] ?? '')), LOCKED, `${mode} before its date`);
  }
  for (const mode of ['GOVERNANCE', 'COMPLIANCE'] as const) {
    t.ok(await eventually(async () => (await sdkError(deleteVersion(bucket, mode, ids[mode] ?? ''))).name === 'no error'), `${mode} deletable after its date`);
    t.ok(Date.now() >= until.getTime(), 'not before the date');
    t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: mode, VersionId: ids[mode] }))), { name: 'NoSuchVersion', status: 404 });
  }
  // Expired retention is no constraint on a new, shorter one either.
  const v = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'again', Body: 'a', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 1_500) }))).VersionId ?? '';
  t.ok(await eventually(async () => (await sdkError(deleteVersion(bucket, 'again', v))).name === 'no error'), 'deletable after its date');
});

t.test('a node stopped, then the whole cluster restarted: every lock is still enforced', async (t) => {
  const bucket = await lockedBucket({ Mode: 'COMPLIANCE', Days: 1 });
  const versionId = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'kept' }))).VersionId ?? '';
  const held = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'h', Body: 'held', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + DAY_MS) }))).VersionId ?? '';
  await cluster.stopNode(0);
  t.same(await sdkError(deleteVersion(bucket, 'k', versionId, true)), LOCKED, 'with a node down');
  // A legal hold set while node-0 is down: the others hold it.
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'h', VersionId: held, LegalHold: { Status: 'ON' } }));
  t.same(await sdkError(deleteVersion(bucket, 'h', held, true)), LOCKED, 'the legal hold holds against the bypass');

  const dataDir = cluster.dataDir;
  await cluster.close({ keepData: true });
  cluster = await startCluster({ blockSizeBytes: 64 * 1024, gatewayOverrides: GATEWAY, dataDir });
  s3 = cluster.client();
  t.same((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration?.Rule?.DefaultRetention, { Mode: 'COMPLIANCE', Days: 1 }, 'the bucket configuration survived');
  t.same(await sdkError(deleteVersion(bucket, 'k', versionId, true)), LOCKED, 'COMPLIANCE after the restart');
  t.same(await sdkError(deleteVersion(bucket, 'h', held, true)), LOCKED, 'the legal hold after the restart');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'h', VersionId: held }));
  t.same([head.ObjectLockMode, head.ObjectLockLegalHoldStatus], ['GOVERNANCE', 'ON']);
  t.same(await sdkError(s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }))), { name: 'InvalidBucketState', status: 409 });
  t.equal(await text(bucket, 'k', versionId), 'kept');
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'h', VersionId: held, LegalHold: { Status: 'OFF' } }));
  await deleteVersion(bucket, 'h', held, true);
  t.same(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'h', VersionId: held }))), { name: 'NoSuchVersion', status: 404 }, 'hold lifted, GOVERNANCE bypassed: removed');
});

import { createHash, randomBytes } from 'node:crypto';
import { t } from 'tap';

const tap = t;
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketReplicationCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
  type ReplicationRule,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { freePorts } from '../helpers/ports.js';
import { defineSite, devClient, versionedBucket } from '../helpers/replication-sites.js';
import { startDevServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';

/**
 * Bucket replication between two embedded clusters side by side (two `tessera dev`, two data
 * directories, two ports), as docs/replication.md describes it: new versions arrive with their bytes,
 * metadata, tags and version ids, multipart objects with the source's ETag, delete markers and tag
 * changes when the rule says so; the source shows COMPLETED and the destination REPLICA; what was
 * written while the destination was down arrives once it is back, and what a killed source had
 * answered arrives after its restart; two clusters replicating to each other do not loop.
 */

const ARRIVAL_MS = 60_000;

async function replicateTo(s3: S3Client, bucket: string, rules: ReplicationRule[]): Promise<void> {
  await s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: { Role: 'arn:aws:iam::000000000000:role/replication', Rules: rules } }));
}

function everything(arn: string, id = 'all'): ReplicationRule {
  return { ID: id, Priority: 1, Status: 'Enabled', Filter: { Prefix: '' }, DeleteMarkerReplication: { Status: 'Enabled' }, Destination: { Bucket: arn } };
}

/** The bytes of `key` (a version of it when `versionId` is given), or undefined when it cannot be read. */
async function bodyOf(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<Buffer | undefined> {
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }));
    return Buffer.from(await answer.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

async function statusOf(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<string | undefined> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }));
  return head.ReplicationStatus;
}

async function versionsOf(s3: S3Client, bucket: string, key: string): Promise<{ versions: string[]; markers: string[] }> {
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return {
    versions: (listed.Versions ?? []).filter((v) => v.Key === key).map((v) => v.VersionId ?? ''),
    markers: (listed.DeleteMarkers ?? []).filter((m) => m.Key === key).map((m) => m.VersionId ?? ''),
  };
}

// One pair of sites for the file (each start costs seconds of CPU); each test has buckets and targets of
// its own, and the tests that stop a site come last: B is stopped and restarted on its port, then A is killed.
const [port] = await freePorts(1);
const siteBListen = `127.0.0.1:${String(port)}`;
let [siteA, siteB] = await Promise.all([startDevServer(t), startDevServer(t, { listen: siteBListen })]);

t.test('new versions, a multipart object, a tag change and a delete marker arrive at the other cluster as the rule selects them', async (t) => {
  const a = devClient(siteA);
  const b = devClient(siteB);
  t.teardown(() => {
    a.destroy();
    b.destroy();
  });
  const source = bucketName('repl-src');
  const replicas = bucketName('repl-dst');
  await versionedBucket(a, source);
  await versionedBucket(b, replicas);
  const arn = await defineSite(t, siteA, siteB, 'site-b', replicas);
  await replicateTo(a, source, [
    { ID: 'data', Priority: 1, Status: 'Enabled', Filter: { Prefix: 'data/' }, DeleteMarkerReplication: { Status: 'Enabled' }, Destination: { Bucket: arn } },
  ]);

  const body = randomBytes(300_000);
  const put = await a.send(
    new PutObjectCommand({
      Bucket: source,
      Key: 'data/one.bin',
      Body: body,
      ContentType: 'application/x-test',
      CacheControl: 'max-age=60',
      Metadata: { origin: 'site-a', shard: '7' },
      Tagging: 'team=ml&stage=raw',
    }),
  );
  await a.send(new PutObjectCommand({ Bucket: source, Key: 'other/skipped.bin', Body: 'not selected' }));
  t.equal(await statusOf(a, source, 'data/one.bin'), 'PENDING', 'a selected version is PENDING on the source until it is delivered');
  t.equal(await statusOf(a, source, 'other/skipped.bin'), undefined, 'a version no rule selects has no replication status');

  await until('data/one.bin arrives at site B', async () => (await bodyOf(b, replicas, 'data/one.bin'))?.equals(body) === true, ARRIVAL_MS);
  const replica = await b.send(new HeadObjectCommand({ Bucket: replicas, Key: 'data/one.bin' }));
  t.equal(replica.VersionId, put.VersionId, 'the replica keeps the source version id');
  t.equal(replica.ETag, put.ETag, 'the replica has the source ETag');
  t.equal(replica.ContentType, 'application/x-test', 'Content-Type arrives');
  t.equal(replica.CacheControl, 'max-age=60', 'Cache-Control arrives');
  t.same(replica.Metadata, { origin: 'site-a', shard: '7' }, 'user metadata arrives');
  t.equal(replica.ReplicationStatus, 'REPLICA', 'the destination shows REPLICA');
  const tags = await b.send(new GetObjectTaggingCommand({ Bucket: replicas, Key: 'data/one.bin' }));
  t.same(Object.fromEntries((tags.TagSet ?? []).map((tag) => [tag.Key, tag.Value])), { team: 'ml', stage: 'raw' }, 'tags arrive');
  await until('the source version shows COMPLETED', async () => (await statusOf(a, source, 'data/one.bin')) === 'COMPLETED', ARRIVAL_MS);

  // A multipart object arrives by parts of the same sizes, so its ETag is the source's.
  const MiB = 1024 * 1024;
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(123_457)];
  const upload = await a.send(new CreateMultipartUploadCommand({ Bucket: source, Key: 'data/multi.bin', ContentType: 'application/x-multi' }));
  const etags: string[] = [];
  for (const [i, part] of parts.entries()) {
    const answer = await a.send(new UploadPartCommand({ Bucket: source, Key: 'data/multi.bin', UploadId: upload.UploadId, PartNumber: i + 1, Body: part }));
    etags.push(answer.ETag ?? '');
  }
  const completed = await a.send(
    new CompleteMultipartUploadCommand({
      Bucket: source,
      Key: 'data/multi.bin',
      UploadId: upload.UploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }),
  );
  const whole = Buffer.concat(parts);
  await until('data/multi.bin arrives at site B', async () => (await bodyOf(b, replicas, 'data/multi.bin'))?.equals(whole) === true, ARRIVAL_MS);
  const multi = await b.send(new HeadObjectCommand({ Bucket: replicas, Key: 'data/multi.bin' }));
  t.equal(multi.ETag, completed.ETag, `the multipart replica has the source's multipart ETag ${completed.ETag}`);
  t.equal(multi.ContentType, 'application/x-multi', 'the upload headers arrive with it');
  t.equal(createHash('md5').update(whole).digest('hex').length, 32);

  // A tag change of a replicated version reaches that version of the replica.
  await a.send(new PutObjectTaggingCommand({ Bucket: source, Key: 'data/one.bin', VersionId: put.VersionId, Tagging: { TagSet: [{ Key: 'stage', Value: 'clean' }] } }));
  await until(
    'the tag change arrives at site B',
    async () => {
      const now = await b.send(new GetObjectTaggingCommand({ Bucket: replicas, Key: 'data/one.bin', VersionId: put.VersionId }));
      return JSON.stringify(now.TagSet) === JSON.stringify([{ Key: 'stage', Value: 'clean' }]);
    },
    ARRIVAL_MS,
  );

  // A delete marker goes when the rule says so, under the source's marker id.
  const deleted = await a.send(new DeleteObjectCommand({ Bucket: source, Key: 'data/one.bin' }));
  t.ok(deleted.DeleteMarker, 'the source made a delete marker');
  await until('the delete marker arrives at site B', async () => (await versionsOf(b, replicas, 'data/one.bin')).markers.includes(deleted.VersionId ?? '-'), ARRIVAL_MS);
  t.same((await versionsOf(b, replicas, 'data/one.bin')).versions, [put.VersionId], 'the replicated version stays under the marker');

  // Delivery is in log order per key, and every change above was delivered: a key the rule does not select never went.
  t.equal(await bodyOf(b, replicas, 'other/skipped.bin'), undefined, 'a key outside the rule is not replicated');
});

t.test('two clusters replicating one bucket to each other copy each write once and do not loop', async (t) => {
  const a = devClient(siteA);
  const b = devClient(siteB);
  t.teardown(() => {
    a.destroy();
    b.destroy();
  });
  const bucket = bucketName('repl-both');
  await versionedBucket(a, bucket);
  await versionedBucket(b, bucket);
  await replicateTo(a, bucket, [everything(await defineSite(t, siteA, siteB, 'site-b-both', bucket))]);
  await replicateTo(b, bucket, [everything(await defineSite(t, siteB, siteA, 'site-a', bucket))]);

  const fromA = await a.send(new PutObjectCommand({ Bucket: bucket, Key: 'from-a', Body: 'written at A' }));
  const fromB = await b.send(new PutObjectCommand({ Bucket: bucket, Key: 'from-b', Body: 'written at B' }));
  await until('from-a arrives at B', async () => (await bodyOf(b, bucket, 'from-a'))?.toString() === 'written at A', ARRIVAL_MS);
  await until('from-b arrives at A', async () => (await bodyOf(a, bucket, 'from-b'))?.toString() === 'written at B', ARRIVAL_MS);
  await until('both sources show COMPLETED', async () => (await statusOf(a, bucket, 'from-a')) === 'COMPLETED' && (await statusOf(b, bucket, 'from-b')) === 'COMPLETED', ARRIVAL_MS);
  // A replica is never replicated again: were it sent back, its source would gain a second version (or
  // rewrite its own as REPLICA). A later write's arrival bounds the time a loop would have had.
  const later = await a.send(new PutObjectCommand({ Bucket: bucket, Key: 'later', Body: 'later' }));
  await until('a later write arrives at B', async () => (await bodyOf(b, bucket, 'later'))?.toString() === 'later', ARRIVAL_MS);
  await until('the later write is COMPLETED', async () => (await statusOf(a, bucket, 'later')) === 'COMPLETED', ARRIVAL_MS);
  for (const [client, site] of [
    [a, 'A'],
    [b, 'B'],
  ] as const) {
    t.same((await versionsOf(client, bucket, 'from-a')).versions, [fromA.VersionId], `site ${site} holds from-a once, under its version id`);
    t.same((await versionsOf(client, bucket, 'from-b')).versions, [fromB.VersionId], `site ${site} holds from-b once, under its version id`);
  }
  t.equal(await statusOf(a, bucket, 'from-a'), 'COMPLETED', 'the original stays COMPLETED at its source');
  t.equal(await statusOf(a, bucket, 'from-b'), 'REPLICA', 'the copy at A is a REPLICA');
  t.equal(later.VersionId?.length !== undefined, true);
});

t.test('writes made while the destination is down arrive once it is back', async (t) => {
  const a = devClient(siteA);
  t.teardown(() => a.destroy());
  const source = bucketName('repl-down-src');
  const replicas = bucketName('repl-down-dst');
  await versionedBucket(a, source);
  const firstB = devClient(siteB);
  await versionedBucket(firstB, replicas);
  firstB.destroy();
  const arn = await defineSite(t, siteA, siteB, 'site-b-down', replicas);
  await replicateTo(a, source, [everything(arn)]);

  siteB.process.child.kill('SIGTERM');
  await siteB.process.exited;
  const written = new Map<string, Buffer>();
  for (let i = 0; i < 8; i += 1) {
    const body = randomBytes(1_000 + i);
    await a.send(new PutObjectCommand({ Bucket: source, Key: `while-down/${i}`, Body: body }));
    written.set(`while-down/${i}`, body);
  }
  t.equal(await statusOf(a, source, 'while-down/0'), 'PENDING', 'with the destination down the versions stay PENDING');

  siteB = await startDevServer(tap, { dataDir: siteB.dataDir, listen: siteBListen });
  const b = devClient(siteB);
  t.teardown(() => b.destroy());
  for (const [key, body] of written) {
    await until(`${key} arrives after the destination is back`, async () => (await bodyOf(b, replicas, key))?.equals(body) === true, 120_000);
  }
  t.pass('every write made while the destination was down arrived');
  await until('the source shows COMPLETED', async () => (await statusOf(a, source, 'while-down/7')) === 'COMPLETED', ARRIVAL_MS);
});

t.test('a source killed with SIGKILL after answering its writes delivers them after its restart', async (t) => {
  const source = bucketName('repl-kill-src');
  const replicas = bucketName('repl-kill-dst');
  const a = devClient(siteA);
  const b = devClient(siteB);
  t.teardown(() => b.destroy());
  await versionedBucket(a, source);
  await versionedBucket(b, replicas);
  const arn = await defineSite(t, siteA, siteB, 'site-b-kill', replicas);
  await replicateTo(a, source, [everything(arn)]);
  const written = new Map<string, Buffer>();
  // A large object first: the kill lands while it is on its way, or before.
  const large = randomBytes(24 * 1024 * 1024);
  await a.send(new PutObjectCommand({ Bucket: source, Key: 'large.bin', Body: large }));
  written.set('large.bin', large);
  for (let i = 0; i < 6; i += 1) {
    const body = randomBytes(2_000 + i);
    await a.send(new PutObjectCommand({ Bucket: source, Key: `small/${i}`, Body: body }));
    written.set(`small/${i}`, body);
  }
  a.destroy();
  siteA.process.child.kill('SIGKILL');
  t.match(await siteA.process.exited, { signal: 'SIGKILL' }, 'the source was killed');

  siteA = await startDevServer(tap, { dataDir: siteA.dataDir });
  for (const [key, body] of written) {
    await until(`${key} arrives after the source restarted`, async () => (await bodyOf(b, replicas, key))?.equals(body) === true, 120_000);
  }
  t.pass('every answered write arrived, whole');
});

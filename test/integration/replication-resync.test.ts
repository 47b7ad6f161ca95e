import { randomBytes } from 'node:crypto';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketReplicationCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { defineSite, devClient, versionedBucket } from '../helpers/replication-sites.js';
import { startDevServer, type DevServer } from '../helpers/server.js';

/**
 * `tessera admin replicate resync` between two embedded clusters side by side (docs/replication.md):
 * versions written before the bucket had a replication configuration (so no change of theirs was logged
 * for replication), a noncurrent version, a multipart object and a delete marker among them, arrive at
 * the destination with their version ids and ETags, oldest first; the source marks them COMPLETED; a
 * second run sends nothing; a target the rules do not name is refused; a destination that is down makes
 * failures, counted, with nothing marked.
 */

/** Runs `tessera admin ARGS --data DIR` in this process; its exit code and what it wrote. */
async function admin(dev: DevServer, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCli([...args, '--data', dev.dataDir], env, { stdout: (text) => void (out += text), stderr: (text) => void (err += text), isTerminal: false });
  return { code, out, err };
}

async function statusOf(s3: S3Client, bucket: string, key: string, versionId: string): Promise<string | undefined> {
  return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).ReplicationStatus;
}

/** Every version and marker of the bucket: `key versionId` -> ETag (markers: `marker`). */
async function versionsOf(s3: S3Client, bucket: string): Promise<Map<string, string>> {
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  const all = new Map<string, string>();
  for (const version of listed.Versions ?? []) all.set(`${version.Key} ${version.VersionId}`, version.ETag ?? '');
  for (const marker of listed.DeleteMarkers ?? []) all.set(`${marker.Key} ${marker.VersionId}`, 'marker');
  return all;
}

async function bodyOf(s3: S3Client, bucket: string, key: string, versionId: string): Promise<Buffer> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return Buffer.from(await answer.Body!.transformToByteArray());
}

t.test('resync sends the versions written before the rule, once, and marks them COMPLETED', async (t) => {
  const [siteA, siteB] = await Promise.all([startDevServer(t), startDevServer(t)]);
  const a = devClient(siteA);
  const b = devClient(siteB);
  t.teardown(() => {
    a.destroy();
    b.destroy();
  });
  const source = bucketName('resync-src');
  const replicas = bucketName('resync-dst');
  await versionedBucket(a, source);
  await versionedBucket(b, replicas);

  // Written before the bucket has a replication configuration: no change of these is logged for replication.
  const bodies = new Map<string, Buffer>();
  const put = async (key: string, body: Buffer): Promise<string> => {
    const answer = await a.send(new PutObjectCommand({ Bucket: source, Key: key, Body: body, ContentType: 'application/x-resync' }));
    bodies.set(`${key} ${answer.VersionId}`, body);
    return answer.VersionId ?? '';
  };
  const older = await put('data/doc.txt', randomBytes(40_000));
  const newer = await put('data/doc.txt', randomBytes(70_000));
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(300_000)];
  const upload = await a.send(new CreateMultipartUploadCommand({ Bucket: source, Key: 'data/multi.bin' }));
  const etags: string[] = [];
  for (const [i, part] of parts.entries()) {
    etags.push((await a.send(new UploadPartCommand({ Bucket: source, Key: 'data/multi.bin', UploadId: upload.UploadId, PartNumber: i + 1, Body: part }))).ETag ?? '');
  }
  const multi = await a.send(
    new CompleteMultipartUploadCommand({ Bucket: source, Key: 'data/multi.bin', UploadId: upload.UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
  );
  bodies.set(`data/multi.bin ${multi.VersionId}`, Buffer.concat(parts));
  const removed = await put('data/removed.txt', randomBytes(1_000));
  const marker = await a.send(new DeleteObjectCommand({ Bucket: source, Key: 'data/removed.txt' }));
  await put('other/outside.txt', randomBytes(500));

  const arn = await defineSite(t, siteA, siteB, 'site-b', replicas);
  await a.send(
    new PutBucketReplicationCommand({
      Bucket: source,
      ReplicationConfiguration: {
        Role: 'arn:aws:iam::000000000000:role/replication',
        Rules: [{ ID: 'data', Priority: 1, Status: 'Enabled', Filter: { Prefix: 'data/' }, DeleteMarkerReplication: { Status: 'Enabled' }, Destination: { Bucket: arn } }],
      },
    }),
  );
  t.equal(await statusOf(a, source, 'data/doc.txt', older), undefined, 'a version written before the rule has no replication status');

  await t.test('the first run sends every selected version and marker, with its version id and ETag', async (t) => {
    const run = await admin(siteA, ['replicate', 'resync', source, '--target', 'site-b']);
    t.equal(run.code, 0, `exit 0: ${run.err}`);
    const total = 5 * 1024 * 1024 + 300_000 + 40_000 + 70_000 + 1_000;
    t.match(run.out, /\[#{20}\] 100% 5\/5 versions/, 'the progress line reaches every version');
    t.match(run.out, new RegExp(`resync ${source} -> site-b: 5 versions \\(${(total / 1024 / 1024).toFixed(1)} MiB\\) sent in [0-9.]+ s, [0-9.]+ MiB/s; 0 already there; 0 failed\\n$`), 'the closing line');

    const arrived = await versionsOf(b, replicas);
    const sourceVersions = await versionsOf(a, source);
    for (const [id, etag] of sourceVersions) {
      if (id.startsWith('other/')) t.notOk(arrived.has(id), `${id}: a key the rule does not select is not sent`);
      else t.equal(arrived.get(id), etag, `${id} arrived with its version id and ETag`);
    }
    t.equal(arrived.get(`data/removed.txt ${marker.VersionId}`), 'marker', 'the delete marker arrived under its id');
    t.equal(arrived.get(`data/removed.txt ${removed}`) !== undefined, true, 'the version beneath it too');
    for (const [id, body] of bodies) {
      const [key, versionId] = id.split(' ') as [string, string];
      if (key.startsWith('other/')) continue;
      t.ok((await bodyOf(b, replicas, key, versionId)).equals(body), `${id}: the bytes arrived`);
      t.equal(await statusOf(a, source, key, versionId), 'COMPLETED', `${id} is COMPLETED at the source`);
      t.equal(await statusOf(b, replicas, key, versionId), 'REPLICA', `${id} is a REPLICA at the destination`);
    }
    const latest = await b.send(new HeadObjectCommand({ Bucket: replicas, Key: 'data/doc.txt' }));
    t.equal(latest.VersionId, newer, 'the newer version is the current one at the destination');
    t.equal(latest.ContentType, 'application/x-resync', 'with its headers');
    t.equal((await b.send(new HeadObjectCommand({ Bucket: replicas, Key: 'data/multi.bin' }))).ETag, multi.ETag, "the multipart object has the source's multipart ETag");
  });

  await t.test('a second run sends nothing: every version is already there', async (t) => {
    const before = await versionsOf(b, replicas);
    const run = await admin(siteA, ['replicate', 'resync', source, '--target', 'site-b', '--concurrency', '2']);
    t.equal(run.code, 0, `exit 0: ${run.err}`);
    t.match(run.out, new RegExp(`resync ${source} -> site-b: 0 versions \\(0\\.0 MiB\\) sent in [0-9.]+ s, [0-9.]+ MiB/s; 5 already there; 0 failed\\n$`));
    t.same(await versionsOf(b, replicas), before, 'the destination is unchanged');
  });

  await t.test('a target that does not exist, or that no rule of the bucket names, is refused with exit 2', async (t) => {
    const unknown = await admin(siteA, ['replicate', 'resync', source, '--target', 'nowhere']);
    t.equal(unknown.code, 2);
    t.match(unknown.err, /no target nowhere/);
    await defineSite(t, siteA, siteB, 'site-c', bucketName('resync-unused'));
    const unnamed = await admin(siteA, ['replicate', 'resync', source, '--target', 'site-c']);
    t.equal(unnamed.code, 2);
    t.match(unnamed.err, /no enabled replication rule of bucket .* has target site-c/);
    const noBucket = await admin(siteA, ['replicate', 'resync', bucketName('resync-none'), '--target', 'site-b']);
    t.equal(noBucket.code, 2);
    t.match(noBucket.err, /no bucket/);
    const usage = await admin(siteA, ['replicate', 'resync', source]);
    t.equal(usage.code, 2);
    t.match(usage.err, /--target NAME/);
  });

  await t.test('with the destination down, the failures are counted, exit 1, and nothing is marked', async (t) => {
    siteB.process.child.kill('SIGTERM');
    await siteB.process.exited;
    // Written once the destination is down, so the delivery of its logged change cannot have sent it either.
    const pending = await put('data/while-down.txt', randomBytes(2_000));
    const run = await admin(siteA, ['replicate', 'resync', source, '--target', 'site-b']);
    t.equal(run.code, 1, 'exit 1');
    // Five versions cannot be checked at the destination; the delete marker is known to be there by its COMPLETED status.
    t.match(run.out, /: 0 versions \(0\.0 MiB\) sent in [0-9.]+ s, [0-9.]+ MiB\/s; 1 already there; 5 failed\n$/, 'what could not be checked or sent counts as failed');
    t.equal(await statusOf(a, source, 'data/doc.txt', older), 'COMPLETED', 'a version sent before keeps its status');
    t.not(await statusOf(a, source, 'data/while-down.txt', pending), 'COMPLETED', 'a version not sent is not marked COMPLETED');
  });
});

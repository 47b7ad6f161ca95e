import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { LIFECYCLE_DEADLINE_MS, missing, putRules, startLifecycleCluster, versionsOf } from '../storage-node/lifecycle-cluster.js';
import { formatStatus } from '../../src/bin/admin-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { until } from '../helpers/until.js';

/**
 * The lifecycle worker end to end: six nodes whose lifecycle "day" is one second, a gateway, and rules
 * set through S3. Every expectation waits for its condition with a deadline; nothing sleeps a fixed time.
 * The collector is off, so what disappears is the lifecycle worker's doing alone.
 */

const cluster = await startLifecycleCluster(t);
const { s3 } = cluster;



async function lifecycleTotals(): Promise<{ expired: number; noncurrentRemoved: number; markersRemoved: number; uploadsAborted: number; passes: number }> {
  const sum = { expired: 0, noncurrentRemoved: 0, markersRemoved: 0, uploadsAborted: 0, passes: 0 };
  for (let i = 0; i < 6; i += 1) {
    const figures = (await cluster.node(i).workStatus({ signal: AbortSignal.timeout(5_000) })).figures.lifecycle;
    if (figures === undefined) throw new Error(`node ${i} reports no lifecycle figures`);
    for (const name of Object.keys(sum) as (keyof typeof sum)[]) sum[name] += figures[name];
  }
  return sum;
}


t.test('without versioning, an expired object is deleted and objects no rule selects stay', async (t) => {
  const bucket = bucketName('lcplain');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/scratch.bin', Body: Buffer.alloc(100_000, 1) }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/data.bin', Body: 'kept' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'past/report.txt', Body: 'old' }));
  await putRules(s3, bucket, [
    { ID: 'tmp-1d', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } },
    { ID: 'past-date', Status: 'Enabled', Filter: { Prefix: 'past/' }, Expiration: { Date: new Date('2020-01-01T00:00:00Z') } },
  ]);
  await until('tmp/scratch.bin is expired', () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tmp/scratch.bin' }))), LIFECYCLE_DEADLINE_MS);
  await until('past/report.txt is expired by a Date already passed', () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'past/report.txt' }))), LIFECYCLE_DEADLINE_MS);
  const kept = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'keep/data.bin' }));
  t.equal(await kept.Body?.transformToString(), 'kept', 'an object outside the rule is untouched');
  t.same(await versionsOf(s3, bucket, 'tmp/'), { versions: [], markers: [], latestIsMarker: false }, 'no version remains visible in an unversioned bucket');
  // A read misses the key once a quorum holds the tombstone; the leader's commits to the rest may still be on their way.
  const noObjectLeft = async (): Promise<boolean> => (await cluster.statuses(bucket, 'tmp/scratch.bin')).every((s) => s === null || s.record.deleted);
  await until('every node holds the tombstone of tmp/scratch.bin (or nothing)', noObjectLeft, LIFECYCLE_DEADLINE_MS);
  t.ok(await noObjectLeft(), 'every node holds the tombstone (or nothing), none the object');
});

t.test('in a versioned bucket the worker writes markers, expires noncurrent versions keeping the newest, removes lone markers', async (t) => {
  const bucket = bucketName('lcver');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const current = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cur/report.csv', Body: 'a,b' }));
  const history: string[] = [];
  for (const body of ['one', 'two', 'three']) history.push((await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'nc/model.bin', Body: body }))).VersionId ?? '');
  const doomed = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dm/old.txt', Body: 'gone soon' }))).VersionId ?? '';
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'dm/old.txt' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/z.txt', Body: 'z' }));
  t.same((await versionsOf(s3, bucket, 'dm/')).versions, [doomed], 'before the rules: dm/old.txt has a version under its marker');

  await putRules(s3, bucket, [
    { ID: 'expire-current', Status: 'Enabled', Filter: { Prefix: 'cur/' }, Expiration: { Days: 1 } },
    { ID: 'keep-one-noncurrent', Status: 'Enabled', Filter: { Prefix: 'nc/' }, NoncurrentVersionExpiration: { NoncurrentDays: 1, NewerNoncurrentVersions: 1 } },
    { ID: 'clean-markers', Status: 'Enabled', Filter: { Prefix: 'dm/' }, Expiration: { ExpiredObjectDeleteMarker: true }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
  ]);

  await until('cur/report.csv is hidden by a delete marker', async () => (await versionsOf(s3, bucket, 'cur/')).latestIsMarker, LIFECYCLE_DEADLINE_MS);
  const cur = await versionsOf(s3, bucket, 'cur/');
  t.same(cur.versions, [current.VersionId], 'the expired version stays as a noncurrent version');
  t.equal(cur.markers.length, 1, 'one delete marker');
  t.ok(await missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cur/report.csv' }))), 'GET answers 404');
  const byId = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cur/report.csv', VersionId: current.VersionId }));
  t.equal(await byId.Body?.transformToString(), 'a,b', 'the old version still reads by id');

  await until('nc/model.bin keeps its current and one noncurrent version', async () => (await versionsOf(s3, bucket, 'nc/')).versions.length === 2, LIFECYCLE_DEADLINE_MS);
  t.same((await versionsOf(s3, bucket, 'nc/')).versions, [history[2], history[1]], 'the oldest version went; the newest noncurrent one is kept');
  const latest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'nc/model.bin' }));
  t.equal(await latest.Body?.transformToString(), 'three');

  await until('dm/old.txt has neither versions nor markers left', async () => {
    const dm = await versionsOf(s3, bucket, 'dm/');
    return dm.versions.length === 0 && dm.markers.length === 0;
  }, LIFECYCLE_DEADLINE_MS);
  const nothingLeft = async (): Promise<boolean> => (await cluster.statuses(bucket, 'dm/old.txt')).every((s) => s === null);
  await until('no node holds anything of dm/old.txt', nothingLeft, LIFECYCLE_DEADLINE_MS);
  t.ok(await nothingLeft(), 'no node holds anything of dm/old.txt');

  const keep = await versionsOf(s3, bucket, 'keep/');
  t.same([keep.versions.length, keep.markers.length], [1, 0], 'a key no rule selects is untouched');
  const totals = await lifecycleTotals();
  t.ok(totals.expired >= 1, `expirations counted (${totals.expired})`);
  t.ok(totals.noncurrentRemoved >= 2, `noncurrent removals counted (${totals.noncurrentRemoved})`);
  t.ok(totals.markersRemoved >= 1, `lone markers counted (${totals.markersRemoved})`);
});

t.test('while versioning is suspended an expired null version is replaced by a null delete marker', async (t) => {
  const bucket = bucketName('lcsusp');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const kept = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'exp/k', Body: 'versioned' }))).VersionId ?? '';
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'exp/k', Body: 'null version' }));
  await putRules(s3, bucket, [{ ID: 'expire', Status: 'Enabled', Filter: { Prefix: 'exp/' }, Expiration: { Days: 1 } }]);
  await until('exp/k is hidden by a marker', async () => (await versionsOf(s3, bucket, 'exp/')).latestIsMarker, LIFECYCLE_DEADLINE_MS);
  t.same(await versionsOf(s3, bucket, 'exp/'), { versions: [kept], markers: ['null'], latestIsMarker: true }, 'the null version is gone, the null marker is latest, the Enabled-era version stays');
});

t.test('incomplete multipart uploads are aborted past DaysAfterInitiation; others stay open', async (t) => {
  const bucket = bucketName('lcmpu');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const doomed = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'staging/big.bin' }));
  const kept = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'final/big.bin' }));
  await putRules(s3, bucket, [{ ID: 'abort-staging', Status: 'Enabled', Filter: { Prefix: 'staging/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }]);
  const open = async (): Promise<string[]> => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => u.UploadId ?? '');
  await until('the staging upload is aborted', async () => !(await open()).includes(doomed.UploadId ?? ''), LIFECYCLE_DEADLINE_MS);
  t.same(await open(), [kept.UploadId], 'the upload no rule selects is still open');
  t.ok((await lifecycleTotals()).uploadsAborted >= 1, 'the abort is counted');
});

t.test('admin status and the nodes\' /metrics show the lifecycle worker on every node', async (t) => {
  const rows = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => cluster.node(i).workStatus({ signal: AbortSignal.timeout(5_000) })));
  t.ok(rows.every((row) => row.workers.lifecycle?.running === true), 'running everywhere');
  const text = formatStatus(rows);
  t.equal(text.match(/^ {2}lifecycle {2}passes \d+/gm)?.length, 6, 'one lifecycle line per node');
  t.match(text, /lifecycle .*uploads aborted [1-9]/, 'a node counts the abort');
  let aborted = 0;
  for (let i = 0; i < 6; i += 1) {
    const metrics = await (await fetch(`http://${cluster.node(i).address}/metrics`)).text();
    t.match(metrics, /^tessera_node_lifecycle_passes_total \d+/m, `node ${i} exports its lifecycle passes`);
    aborted += Number(/^tessera_node_lifecycle_uploads_aborted_total (\d+)/m.exec(metrics)?.[1] ?? 0);
  }
  t.ok(aborted >= 1, 'the abort appears in the nodes\' /metrics');
});

t.test('admin status shows the resolver of abandoned bucket index writes on every node', async (t) => {
  const rows = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => cluster.node(i).workStatus({ signal: AbortSignal.timeout(5_000) })));
  t.ok(rows.every((row) => row.workers.intents?.running === true), 'running everywhere');
  t.equal(formatStatus(rows).match(/^ {2}intents {4}passes \d+; abandoned writes resolved \d+/gm)?.length, 6, 'one line per node');
});

t.test('a version under Object Lock outlives the rule that expires its unlocked neighbours', async (t) => {
  const bucket = bucketName('lclock');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const put = async (body: string, held: boolean): Promise<string> => {
    const out = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'held/a', Body: body, ChecksumAlgorithm: 'CRC32', ...(held ? { ObjectLockLegalHoldStatus: 'ON' as const } : {}) }),
    );
    return out.VersionId ?? '';
  };
  const locked = await put('v1, under a legal hold', true);
  const unlocked = await put('v2', false);
  const current = await put('v3', false);
  await putRules(s3, bucket, [{ ID: 'old-versions', Status: 'Enabled', Filter: { Prefix: 'held/' }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }]);
  await until('the unlocked noncurrent version is expired', async () => !(await versionsOf(s3, bucket, 'held/')).versions.includes(unlocked), LIFECYCLE_DEADLINE_MS);
  t.same((await versionsOf(s3, bucket, 'held/')).versions.sort(), [locked, current].sort(), 'the held version and the current one remain');
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'held/a', VersionId: locked }));
  t.equal(await got.Body?.transformToString(), 'v1, under a legal hold', 'the held version still reads back');
});


t.test('an expiry waits while a conditional write holds the key, and applies once the key is given back', async (t) => {
  const bucket = bucketName('lclease');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const key of ['tmp/held', 'tmp/free']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  const set = await cluster.setOf(bucket, 'tmp/held');
  const leader = set[0] as number;
  // What a conditional write holds from its last check to its commit, through any gateway: the key's exclusive lease.
  const lease = { bucket, key: 'tmp/held', token: 'conditional-write', ttlMs: 120_000 };
  for (const i of set) t.ok((await cluster.node(i).leaseAnswer({ ...lease, mode: 'exclusive' })).granted, `node ${i} grants the exclusive lease`);
  await putRules(s3, bucket, [{ ID: 'tmp-1d', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }]);
  await until('tmp/free is expired', () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tmp/free' }))), LIFECYCLE_DEADLINE_MS);
  const leaderPasses = async (): Promise<number> => ((await cluster.node(leader).workStatus()).figures['lifecycle'] as { passes: number }).passes;
  const seen = await leaderPasses();
  await until("two more of the held key's leader's passes", async () => (await leaderPasses()) >= seen + 2, LIFECYCLE_DEADLINE_MS);
  const held = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tmp/held' }));
  t.equal(await held.Body?.transformToString(), 'tmp/held', 'the held key is not expired under the lease');
  for (const i of set) await cluster.node(i).lease({ ...lease, release: true });
  await until('tmp/held is expired once the lease is given back', () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tmp/held' }))), LIFECYCLE_DEADLINE_MS);
});

t.test('with a member of the set down, the leader still expires through a write quorum, and every live member agrees', async (t) => {
  const bucket = bucketName('lcdown');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const key = 'old/run-42.ckpt';
  const version = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(200_000, 7) }))).VersionId ?? '';
  const set = await cluster.setOf(bucket, key);
  const down = set[1] as number;
  await cluster.stopNode(down);
  await putRules(s3, bucket, [{ ID: 'old', Status: 'Enabled', Filter: { Prefix: 'old/' }, Expiration: { Days: 1 } }]);
  await until(`${key} is hidden by a marker`, async () => (await versionsOf(s3, bucket, 'old/')).latestIsMarker, LIFECYCLE_DEADLINE_MS);
  const markerOnEveryLiveMember = async (): Promise<boolean> => {
    const statuses = await Promise.all(set.filter((i) => i !== down).map((i) => cluster.node(i).objectStatus(bucket, key, { signal: AbortSignal.timeout(5_000) })));
    return statuses.every((s) => s?.record.deleted === true);
  };
  // A listing shows the marker once a quorum holds it; the leader's commit to the other live members may still be on its way.
  await until('every live member holds the delete marker', markerOnEveryLiveMember, LIFECYCLE_DEADLINE_MS);
  t.ok(await markerOnEveryLiveMember(), 'every live member holds the delete marker as the current version');
  t.same((await versionsOf(s3, bucket, 'old/')).versions, [version], 'the expired version is kept as noncurrent');
});

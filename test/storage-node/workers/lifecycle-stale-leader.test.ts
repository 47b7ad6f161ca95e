import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { LIFECYCLE_DEADLINE_MS, missing, putRules, startLifecycleCluster, versionsOf } from '../lifecycle-cluster.js';
import { HybridClock } from '../../../src/common/index.js';
import { bucketName } from '../../helpers/bytes.js';
import { until } from '../../helpers/until.js';

/**
 * The lifecycle worker decides on what a write quorum of a key's set holds, not on its own copy: here
 * the key's leader missed a write the other five members took (a delete by id, a tag change, a legal
 * hold), as a node cut off as a straggler does, and the audit that would mend it is far off (its
 * default interval). Each case waits for a neighbour key the same rule does act on, then for more of
 * the stale key's leader's passes, so "left alone" is judged after the leader had every chance to act.
 */

const cluster = await startLifecycleCluster(t);
const { s3 } = cluster;


async function body(bucket: string, key: string, versionId?: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }));
  return (await got.Body?.transformToString()) ?? '';
}



/** Waits for `count` more finished lifecycle passes of node `index` than it has now. */
async function morePasses(index: number, count: number): Promise<void> {
  const passes = async (): Promise<number> => ((await cluster.node(index).workStatus()).figures['lifecycle'] as { passes: number }).passes;
  const seen = await passes();
  await until(`${count} more lifecycle passes of node ${index}`, async () => (await passes()) >= seen + count, LIFECYCLE_DEADLINE_MS);
}

/** The key's set as [leader, every other member]. */
async function leaderAndOthers(bucket: string, key: string): Promise<{ leader: number; others: number[] }> {
  const [leader = 0, ...others] = await cluster.setOf(bucket, key);
  return { leader, others };
}

/** The id of a key's current version as its leader holds it (an unversioned bucket's PUT answers none). */
async function currentId(bucket: string, key: string): Promise<string> {
  const statuses = await cluster.statuses(bucket, key);
  const id = statuses.find((s) => s !== null)?.record.versionId;
  if (id === undefined) throw new Error(`no node holds ${bucket}/${key}`);
  return id;
}

t.test('a noncurrent expiry does not delete the version that became current when the leader missed a delete by id', async (t) => {
  const bucket = bucketName('lcstaledel');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const key = 'nc/k';
  const ids: string[] = [];
  for (const text of ['v1', 'v2 must survive', 'v3 a mistake']) ids.push((await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }))).VersionId ?? '');
  const [v1 = '', v2 = '', v3 = ''] = ids;
  const { leader, others } = await leaderAndOthers(bucket, key);
  // The client's DeleteObject?versionId=v3 met its quorum without the leader: on the key's nodes, and
  // on the bucket index's replicas (every node here), as the gateway settles it.
  const incarnation = (await cluster.store(0).bucketRecord(bucket))?.createdMs ?? 0;
  for (const i of others) {
    await cluster.node(i).deleteVersion({ bucket, key, versionId: v3 });
    await cluster.store(i).indexRows.apply([{ op: 'settle', bucket, incarnation, key, gone: v3 }]);
  }
  t.equal(await body(bucket, key), 'v2 must survive', 'before the rule v2 is current to clients');

  await putRules(s3, bucket, [{ ID: 'nc', Status: 'Enabled', Filter: { Prefix: 'nc/' }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }]);
  await until('the truly noncurrent v1 is expired', async () => !(await versionsOf(s3, bucket, 'nc/')).versions.includes(v1), LIFECYCLE_DEADLINE_MS);
  await morePasses(leader, 2);
  t.equal(await body(bucket, key), 'v2 must survive', 'GET still answers v2');
  t.same((await versionsOf(s3, bucket, 'nc/')).versions, [v2], 'v2 is the one version listed');
  for (const i of others) t.not(await cluster.node(i).versionStatus(bucket, key, v2), null, `node ${i} still holds v2`);
});

t.test('an expiry filtered on tags follows the tags a write quorum holds, not the leader\'s stale copy', async (t) => {
  const bucket = bucketName('lcstaletag');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/retagged', Body: 'keep me', Tagging: 'expire=yes' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/control', Body: 'expire me', Tagging: 'expire=yes' }));
  const key = 'tmp/retagged';
  const versionId = await currentId(bucket, key);
  const { leader, others } = await leaderAndOthers(bucket, key);
  // PutObjectTagging expire=no met its quorum without the leader.
  const tagsRevision = new HybridClock().next();
  for (const i of others) await cluster.node(i).updateTags({ bucket, key, versionId, tags: { expire: 'no' }, tagsRevision });

  await putRules(s3, bucket, [{ ID: 'tagged', Status: 'Enabled', Filter: { Tag: { Key: 'expire', Value: 'yes' } }, Expiration: { Days: 1 } }]);
  await until('tmp/control, still tagged expire=yes, is expired', () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tmp/control' }))), LIFECYCLE_DEADLINE_MS);
  await morePasses(leader, 2);
  t.equal(await body(bucket, key), 'keep me', 'the retagged object is not expired');
  const statuses = await cluster.statuses(bucket, key);
  t.ok(statuses.every((s) => s === null || (s.record.versionId === versionId && !s.record.deleted)), 'no member holds a tombstone over it');
});

t.test('a legal hold the leader missed keeps a noncurrent version from being removed, on the leader too', async (t) => {
  const bucket = bucketName('lcstalehold');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const put = async (key: string, text: string): Promise<string> => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ChecksumAlgorithm: 'CRC32' }))).VersionId ?? '';
  const key = 'old/evidence';
  const held = await put(key, 'held by a legal hold');
  await put(key, 'current');
  const control = await put('old/control', 'control v1');
  await put('old/control', 'control v2');
  const { leader, others } = await leaderAndOthers(bucket, key);
  // PutObjectLegalHold ON met its quorum without the leader.
  const tagsRevision = new HybridClock().next();
  for (const i of others) await cluster.node(i).updateTags({ bucket, key, versionId: held, tags: {}, tagsRevision, legalHold: true });

  await putRules(s3, bucket, [{ ID: 'nc', Status: 'Enabled', Filter: { Prefix: 'old/' }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }]);
  await until('the unheld noncurrent control version is expired', async () => !(await versionsOf(s3, bucket, 'old/control')).versions.includes(control), LIFECYCLE_DEADLINE_MS);
  await morePasses(leader, 2);
  t.ok((await versionsOf(s3, bucket, key)).versions.includes(held), 'the held version is still listed');
  t.equal(await body(bucket, key, held), 'held by a legal hold', 'the held version reads by id');
  t.not(await cluster.node(leader).versionStatus(bucket, key, held), null, 'the leader still holds its copy');
});

t.test('a locked current version in a versioned bucket gets a delete marker, and the locked version stays', async (t) => {
  const bucket = bucketName('lclockedcur');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const held = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cur/held', Body: 'held', ChecksumAlgorithm: 'CRC32', ObjectLockLegalHoldStatus: 'ON' }))).VersionId ?? '';
  await putRules(s3, bucket, [{ ID: 'cur', Status: 'Enabled', Filter: { Prefix: 'cur/' }, Expiration: { Days: 1 } }]);
  await until('cur/held is hidden by a delete marker', async () => (await versionsOf(s3, bucket, 'cur/')).latestIsMarker, LIFECYCLE_DEADLINE_MS);
  t.ok(await missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cur/held' }))), 'GET answers 404');
  t.same((await versionsOf(s3, bucket, 'cur/')).versions, [held], 'the locked version stays as a noncurrent version');
  t.equal(await body(bucket, 'cur/held', held), 'held', 'the locked version reads by id');
});

t.test('an Expiration Days rule removes a lone delete marker older than its days', async (t) => {
  const bucket = bucketName('lcdaysdm');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const version = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dm/k', Body: 'x' }))).VersionId ?? '';
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'dm/k' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'dm/k', VersionId: version }));
  t.equal((await versionsOf(s3, bucket, 'dm/')).markers.length, 1, 'before the rule: one lone marker');
  await putRules(s3, bucket, [{ ID: 'days', Status: 'Enabled', Filter: { Prefix: 'dm/' }, Expiration: { Days: 1 } }]);
  await until('the lone marker is removed', async () => (await versionsOf(s3, bucket, 'dm/')).markers.length === 0, LIFECYCLE_DEADLINE_MS);
  t.same(await versionsOf(s3, bucket, 'dm/'), { versions: [], markers: [], latestIsMarker: false }, 'nothing of dm/k is listed');
});

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { RingLocator, parseRing } from '../../../src/placement/index.js';
import type { ObjectRecord } from '../../../src/rpc/index.js';
import { MetadataStore } from '../../../src/storage-node/index.js';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { startGcCluster, type GcCluster } from '../gc-cluster.js';
import { until } from '../../helpers/until.js';

/**
 * Audit of a versioned bucket's every version on six real nodes (4+2, every node in every set): a node
 * that lost a noncurrent version (its record and its shard file) or a delete marker gets them back from
 * the audit, byte-identical; a node that was down while a version was deleted by id has it removed when
 * it returns, and no audit or repair brings the version back anywhere. Object Lock holds throughout.
 */

async function read(s3: S3Client, bucket: string, key: string, versionId: string): Promise<Buffer> {
  return collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Body as AsyncIterable<Uint8Array>);
}

/** Starts an audit pass on every node and waits until each has finished one more, and repair has nothing left. */
async function auditAll(cluster: GcCluster): Promise<void> {
  const passes = async (i: number): Promise<number> => ((await cluster.node(i).workStatus()).figures.audit as { passes: number }).passes;
  const before = await Promise.all([0, 1, 2, 3, 4, 5].map(passes));
  for (let i = 0; i < 6; i += 1) await cluster.node(i).startScrub(true);
  await until('every node finished another audit pass', async () => (await Promise.all([0, 1, 2, 3, 4, 5].map(passes))).every((n, i) => n > (before[i] as number)), 120_000);
  await until(
    'repair has nothing pending',
    async () => (await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await cluster.node(i).workStatus()).figures.repair.pending))).every((n) => n === 0),
    120_000,
  );
}

/** Removes a version's row and shard data from a stopped node's store, as a lost disk sector or a bad restore would. */
async function loseVersion(dataDir: string, bucket: string, key: string, versionId: string): Promise<{ hadFile: boolean; shardIndex: number | null }> {
  const metadata = new MetadataStore(join(dataDir, 'meta'));
  await metadata.open();
  try {
    const stored = await metadata.getVersion(bucket, key, versionId);
    if (stored === undefined) throw new Error('the node does not hold the version');
    await metadata.dropNoncurrent(stored);
    // A segment image needs nothing more: with its rows gone, no row names its place.
    if (stored.file !== null && !stored.file.startsWith('seg/')) await rm(join(dataDir, 'shards', stored.file));
    return { hadFile: stored.file !== null, shardIndex: stored.shardIndex };
  } finally {
    await metadata.close();
  }
}

t.test('a node that lost a noncurrent version and a delete marker gets both back from the audit, every version byte-identical', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 10 * 60 * 1000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const bodies = new Map<string, Buffer>();
  const put = async (key: string, body: Buffer): Promise<string> => {
    const id = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId ?? '';
    bodies.set(`${key} ${id}`, body);
    return id;
  };
  const big = await put('model', seededBytes(700_000, 1));
  await put('model', seededBytes(9_000, 2));
  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'model' }))).VersionId ?? '';
  await put('model', seededBytes(500_000, 3));
  await put('other', seededBytes(300_000, 4));
  await put('other', seededBytes(100, 5));

  const victim = 2;
  await cluster.stopNode(victim);
  const lost = await loseVersion(cluster.dataDirs[victim] as string, bucket, 'model', big);
  t.ok(lost.hadFile && lost.shardIndex !== null, 'the lost version had a shard file on the node');
  await loseVersion(cluster.dataDirs[victim] as string, bucket, 'model', marker);
  await cluster.startNode(victim);
  t.equal(await cluster.node(victim).versionStatus(bucket, 'model', big), null, 'the node no longer holds the old version');

  await auditAll(cluster);
  const back = await cluster.node(victim).versionStatus(bucket, 'model', big);
  t.equal(back?.shardIndex, lost.shardIndex, 'the audit put the old version and its shard back on the node');
  t.ok((await cluster.node(victim).versionStatus(bucket, 'model', marker))?.record.deleted, 'the delete marker is back on the node');
  const status = await cluster.node(victim).objectStatus(bucket, 'model');
  t.not(status?.record.versionId, big, 'the old version came back as noncurrent');
  // Every version, read through the gateway with the other shard holders' copies checked on the node itself.
  const shard = await collect(await cluster.node(victim).readShard({ bucket, key: 'model', versionId: big, ...(back?.record.dataId === undefined ? {} : { dataId: back.record.dataId }), shardIndex: lost.shardIndex as number }, 0, 1e9));
  t.ok(shard.length > 0, 'the rebuilt shard reads back through its checksums');
  for (const [slot, body] of bodies) {
    const [key = '', id = ''] = slot.split(' ');
    t.ok((await read(s3, bucket, key, id)).equals(body), `${key} version ${id} reads back byte-identical`);
  }
  await cluster.stopNode((victim + 1) % 6);
  await cluster.stopNode((victim + 2) % 6);
  t.ok((await read(s3, bucket, 'model', big)).equals(bodies.get(`model ${big}`) as Buffer), 'the old version reads with two other nodes down, so the rebuilt shard is used');
});

t.test('a version deleted by id while a node was down stays deleted when it returns, through listings, reads by id and audits', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 10 * 60 * 1000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const first = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: seededBytes(400_000, 7) }))).VersionId ?? '';
  const doomed = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: seededBytes(250_000, 8) }))).VersionId ?? '';
  const latest = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: seededBytes(5_000, 9) }))).VersionId ?? '';
  // Another key's old version goes through DeleteObjects in the same window.
  const sheetOld = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc-sheet', Body: seededBytes(150_000, 10) }))).VersionId ?? '';
  const sheetNew = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc-sheet', Body: 'new' }))).VersionId ?? '';

  // Not the partition's leader, whose restart would start an audit of it at once.
  const absent = (await cluster.setOf(bucket, 'doc'))[1] as number;
  await cluster.stopNode(absent);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: doomed }));
  const batch = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'doc-sheet', VersionId: sheetOld }] } }));
  t.same(batch.Errors ?? [], [], 'DeleteObjects removed the other version');
  await cluster.startNode(absent);
  t.ok(await cluster.node(absent).versionStatus(bucket, 'doc', doomed), 'the node that was away still holds the deleted version');
  const sheetVersions = async (): Promise<string[]> => ((await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'doc-sheet' }))).Versions ?? []).map((v) => v.VersionId ?? '');
  t.same(await sheetVersions(), [sheetNew], 'the version DeleteObjects removed is not listed either');
  const listedEarly = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  t.same(
    [...(listedEarly.Versions ?? []), ...(listedEarly.DeleteMarkers ?? [])].filter((v) => v.Key === 'doc').map((v) => v.VersionId),
    [latest, first],
    'before any audit, the listing hides the version the returning node still holds',
  );
  const missingEarly = await read(s3, bucket, 'doc', doomed).then(
    () => 'found',
    (err: { name?: string }) => err.name,
  );
  t.equal(missingEarly, 'NoSuchVersion', 'before any audit, GET by the deleted id answers NoSuchVersion');

  await auditAll(cluster);
  const holders = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => cluster.node(i).versionStatus(bucket, 'doc', doomed)));
  t.same(holders, [null, null, null, null, null, null], 'after the audit no node holds the deleted version');
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  t.same([...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].filter((v) => v.Key === 'doc').map((v) => v.VersionId), [latest, first], 'the listing shows the other versions only');
  t.same(await Promise.all([0, 1, 2, 3, 4, 5].map((i) => cluster.node(i).versionStatus(bucket, 'doc-sheet', sheetOld))), [null, null, null, null, null, null], 'no node holds the version DeleteObjects removed');
  const missing = await read(s3, bucket, 'doc', doomed).then(
    () => 'found',
    (err: { name?: string }) => err.name,
  );
  t.equal(missing, 'NoSuchVersion', 'GET by the deleted id answers NoSuchVersion');
  t.ok((await read(s3, bucket, 'doc', first)).equals(seededBytes(400_000, 7)), 'the older version still reads back');

  // A repair of the deleted version (from a source that has not heard of the delete) is refused by every node.
  await auditAll(cluster);
  t.same(await Promise.all([0, 1, 2, 3, 4, 5].map((i) => cluster.node(i).versionStatus(bucket, 'doc', doomed))), [null, null, null, null, null, null], 'a second audit brought nothing back');
});

t.test('every node keeps a tombstone of a version deleted by id that refuses a late commit of it, until the collector drops it after the grace', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 200, gcTombstoneGraceMs: 10_000, gcSettleMs: 1_000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'log' }))).VersionId ?? '';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'log', Body: 'kept' }));
  const record = (await cluster.node(0).versionStatus(bucket, 'log', marker))?.record;
  t.ok(record?.deleted, 'the delete marker is held before its delete');
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'log', VersionId: marker }));

  const locator = new RingLocator(parseRing(JSON.stringify(await cluster.node(0).fetchRing())));
  const { partition } = locator.locate(bucket, 'log');
  const tombstones = async (i: number): Promise<string[]> =>
    (await cluster.node(i).partitionGone(partition, locator.ring.partitionBits, null, 100)).gone.filter((g) => g.key === 'log').map((g) => g.versionId);
  t.same(await Promise.all([0, 1, 2, 3, 4, 5].map(tombstones)), Array.from({ length: 6 }, () => [marker]), 'every node records the delete');
  await cluster.node(3).commit({ record: record as ObjectRecord, shardIndex: null });
  t.equal(await cluster.node(3).versionStatus(bucket, 'log', marker), null, 'a late commit of the deleted marker is acknowledged and dropped');

  await until('every node dropped the tombstone after the grace', async () => (await Promise.all([0, 1, 2, 3, 4, 5].map(tombstones))).every((ids) => ids.length === 0), 60_000);
  t.equal((await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).DeleteMarkers, undefined, 'the marker stays deleted');
});

t.test('Object Lock holds through audits: a lost locked version comes back locked, and a delete a node missed does not take its still-held copy', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 10 * 60 * 1000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3 } = cluster;
  const bucket = `${cluster.bucket}-lock`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const held = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'evidence', Body: seededBytes(300_000, 11), ObjectLockLegalHoldStatus: 'ON' }))).VersionId ?? '';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'evidence', Body: 'newer' }));
  const set = await cluster.setOf(bucket, 'evidence');

  // A node loses the held (noncurrent) version; the audit restores it with its hold.
  const loser = set[2] as number;
  await cluster.stopNode(loser);
  await loseVersion(cluster.dataDirs[loser] as string, bucket, 'evidence', held);
  await cluster.startNode(loser);
  await auditAll(cluster);
  t.equal((await cluster.node(loser).versionStatus(bucket, 'evidence', held))?.record.legalHold, true, 'the restored version carries its legal hold');
  const refused = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'evidence', VersionId: held })).then(
    () => 'deleted',
    (err: { name?: string }) => err.name,
  );
  t.equal(refused, 'AccessDenied', 'the held version cannot be deleted');

  // A node away while the hold is lifted and the version deleted keeps its copy under the hold it knows.
  const away = set[1] as number;
  await cluster.stopNode(away);
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'evidence', VersionId: held, LegalHold: { Status: 'OFF' } }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'evidence', VersionId: held }));
  await cluster.startNode(away);
  await auditAll(cluster);
  t.equal((await cluster.node(away).versionStatus(bucket, 'evidence', held))?.record.legalHold, true, 'the node that missed the lift refuses the spread delete of a version it holds under a hold');
  const others = await Promise.all(set.filter((i) => i !== away).map((i) => cluster.node(i).versionStatus(bucket, 'evidence', held)));
  t.ok(others.every((s) => s === null), 'no other node got the deleted version back');
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  t.same((listed.Versions ?? []).map((v) => v.VersionId).filter((id) => id === held), [], 'the deleted version is not listed');
});

t.test('a read or listing of the key finds the right latest version while a node that missed a delete of the latest by id still names it', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 10 * 60 * 1000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const body = seededBytes(200_000, 21);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'page', Body: body }));
  const mistake = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'page', Body: 'mistake' }))).VersionId ?? '';
  const absent = (await cluster.setOf(bucket, 'page'))[1] as number;
  const listed = async (): Promise<[string, number][]> =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => [o.Key ?? '', o.Size ?? -1]);
  const getLatest = async (): Promise<Buffer> => collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'page' }))).Body as AsyncIterable<Uint8Array>);

  await cluster.stopNode(absent);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'page', VersionId: mistake }));
  await cluster.startNode(absent);
  t.equal((await cluster.node(absent).objectStatus(bucket, 'page'))?.record.versionId, mistake, 'the returning node still names the deleted version as latest');
  t.ok((await getLatest()).equals(body), 'GET of the key reads the version that is latest again');
  t.same(await listed(), [['page', body.length]], 'ListObjects shows the key at the version that is latest again');

  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'page' }))).VersionId ?? '';
  await cluster.stopNode(absent);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'page', VersionId: marker }));
  await cluster.startNode(absent);
  t.equal((await cluster.node(absent).objectStatus(bucket, 'page'))?.record.versionId, marker, 'the returning node still names the removed delete marker as latest');
  t.ok((await getLatest()).equals(body), 'GET of the key reads the object the removed marker hid');
  t.same(await listed(), [['page', body.length]], 'ListObjects shows the key the removed marker hid');
});

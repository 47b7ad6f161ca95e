import { GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t, type Test } from 'tap';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { until } from '../../helpers/until.js';
import { startGcCluster, type GcCluster } from '../gc-cluster.js';
import { rotShardImage, shardImagesOf } from '../../helpers/shard-images.js';

/**
 * Scrub to repair for noncurrent versions on six real nodes, with no client read: a scrub pass finds a
 * rotten shard of a noncurrent version, quarantines it under that version, and repair rebuilds that
 * version's shard in place (not the current version's), byte-identical to the one that rotted.
 */

const SIZE = 1_200_000;

/**
 * Rots shard 0 of the noncurrent version `versionId` (S3's id) of `key` on the first node of its set,
 * scrubs that node, and checks repair rebuilds exactly that shard while the current version is untouched.
 */
async function scrubAndRepair(t: Test, cluster: GcCluster, key: string, versionId: string, body: Buffer): Promise<void> {
  const { s3, bucket } = cluster;
  const victim = (await cluster.setOf(bucket, key))[0] as number;
  const node = cluster.node(victim);
  const stored = await node.versionStatus(bucket, key, versionId);
  const internalId = stored?.record.versionId ?? '';
  const current = await node.objectStatus(bucket, key);
  t.not(current?.record.versionId, internalId, 'the version is noncurrent on the victim');
  const ref = { bucket, key, versionId: internalId, shardIndex: 0 };
  const currentRef = { bucket, key, versionId: current?.record.versionId ?? '', shardIndex: 0 };
  const shardOf = async (which: typeof ref): Promise<Buffer> => collect(await node.readShard(which, 0, 1_000_000_000));
  const healthy = await shardOf(ref);
  const currentShard = await shardOf(currentRef);
  const [image] = await shardImagesOf(cluster.dataDirs[victim] as string, stored?.record.dataId ?? internalId);
  t.ok(image, 'the noncurrent version\'s shard is on its node\'s disk');
  if (image !== undefined) await rotShardImage(image);

  const figures = async (): Promise<Record<string, Record<string, number>>> => (await node.workStatus()).figures as unknown as Record<string, Record<string, number>>;
  const before = await figures();
  await node.startScrub(true);
  await until('the scrub found the rotten shard', async () => ((await figures())['scrub']?.['checksumFailures'] ?? 0) > (before['scrub']?.['checksumFailures'] ?? 0), 60_000);
  await until('repair rebuilt it', async () => ((await figures())['repair']?.['shardsRebuilt'] ?? 0) > (before['repair']?.['shardsRebuilt'] ?? 0), 60_000);
  await until('no shard is left in quarantine', async () => (await node.health()).quarantinedShards === 0, 30_000);
  const after = await figures();
  t.equal(after['repair']?.['shardsRebuilt'], (before['repair']?.['shardsRebuilt'] ?? 0) + 1, 'one shard rebuilt: the rotten one');
  t.ok((await shardOf(ref)).equals(healthy), 'the rebuilt shard is byte-identical to the one that rotted');
  t.ok((await shardOf(currentRef)).equals(currentShard), 'the current version\'s shard is untouched');
  t.equal((await node.objectStatus(bucket, key))?.record.versionId, current?.record.versionId, 'the current version is still current');
  const read = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  t.ok((await collect(read.Body as AsyncIterable<Uint8Array>)).equals(body), 'the noncurrent version reads back byte-identical');
}

t.test('a scrub pass finds a rotten noncurrent shard and repair rebuilds that version in place', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 60_000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const old = seededBytes(SIZE, 5);
  const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'model', Body: old }))).VersionId ?? '';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'model', Body: seededBytes(SIZE, 6) }));
  await scrubAndRepair(t, cluster, 'model', v1, old);
});

t.test('an object written before versioning was enabled, kept as the null version, is scrubbed and repaired too', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 60_000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  const old = seededBytes(SIZE, 7);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy', Body: old }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy', Body: seededBytes(SIZE, 8) }));
  await scrubAndRepair(t, cluster, 'legacy', 'null', old);
});

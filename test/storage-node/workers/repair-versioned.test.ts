import { GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { startGcCluster } from '../gc-cluster.js';
import { rotShardImage, shardImagesOf } from '../../helpers/shard-images.js';
import { until } from '../../helpers/until.js';

/**
 * Repair of a versioned bucket's noncurrent version on six real nodes: a rotten shard of an older
 * version is found by a read, quarantined and rebuilt in place from the other nodes, and the version
 * then reads back byte-identical, the rebuilt shard equal to the one that rotted.
 */

t.test('a rotten shard of a noncurrent version is quarantined on read and rebuilt in place by repair', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 60_000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const old = seededBytes(1_200_000, 5);
  const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'model', Body: old }))).VersionId ?? '';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'model', Body: 'current' }));
  const set = await cluster.setOf(bucket, 'model');
  const victim = set[0] as number;
  const ref = { bucket, key: 'model', versionId: v1, shardIndex: 0 };
  const shardOnVictim = async (): Promise<Buffer> => collect(await cluster.node(victim).readShard(ref, 0, 1_000_000_000));
  const healthy = await shardOnVictim();
  // Shard headers name the id a version's data was written under, which its record keeps as dataId.
  const stored = await cluster.node(victim).versionStatus(bucket, 'model', v1);
  const [image] = await shardImagesOf(cluster.dataDirs[victim] as string, stored?.record.dataId ?? v1);
  t.ok(image, 'the first data shard of the old version is on its node\'s disk');
  if (image !== undefined) await rotShardImage(image);

  const read = async (): Promise<Buffer> => collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'model', VersionId: v1 }))).Body as AsyncIterable<Uint8Array>);
  t.ok((await read()).equals(old), 'the read itself is served from parity');
  await until('repair rebuilt the quarantined shard', async () => (await cluster.node(victim).workStatus()).figures.repair.shardsRebuilt >= 1, 60_000);
  await until('no shard is left in quarantine', async () => (await cluster.node(victim).health()).quarantinedShards === 0, 30_000);
  t.ok((await shardOnVictim()).equals(healthy), 'the rebuilt shard is byte-identical to the one that rotted');
  t.ok((await read()).equals(old), 'the old version still reads back byte-identical');
  const statuses = await cluster.statuses(bucket, 'model');
  t.ok(statuses.every((status) => status !== null && status.record.versionId !== v1), 'the old version stayed noncurrent on every node');
});

import { DeleteObjectCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { morePasses, startGcCluster } from '../gc-cluster.js';
import { until } from '../../helpers/until.js';

/**
 * The collector and bucket versioning on six real nodes: delete markers and noncurrent versions of a
 * versioned bucket are versions S3 keeps, so no collector pass may take them, however old they are,
 * while a plain tombstone of the same age in the same run is collected.
 */
const ALL = [0, 1, 2, 3, 4, 5];

t.test('the collector never takes a delete marker or a noncurrent version of a versioned bucket', async (t) => {
  const cluster = await startGcCluster(t, { gcTombstoneGraceMs: 200, gcSettleMs: 100, gcIntervalMs: 200, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  const old = seededBytes(300_000, 1);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'x' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'plain' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: old }))).VersionId ?? '';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: 'newer' }));
  const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'kept' }));

  await until('the plain tombstone is collected everywhere', async () => (await cluster.statuses(bucket, 'plain')).every((status) => status === null), 20_000);
  await morePasses(cluster, ALL, 3, 30_000);
  const statuses = await cluster.statuses(bucket, 'kept');
  t.ok(statuses.every((status) => status?.record.deleted === true && status.record.versionId === marker.VersionId), 'every member still holds the delete marker');
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'kept', VersionId: v1 }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(old), 'the oldest version still reads back byte-identical');
});

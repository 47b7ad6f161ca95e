import { GetObjectCommand, ListObjectsV2Command, PutBucketLifecycleConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { startGcCluster } from '../storage-node/gc-cluster.js';
import { missing } from '../storage-node/lifecycle-cluster.js';
import { until } from '../helpers/until.js';

/**
 * Lifecycle expiry runs on the nodes, not through a gateway: its delete markers go through the bucket's
 * index as a client's delete does (docs/bucket-index.md), so listings drop expired keys and no intent
 * of an expiry stays behind.
 */

t.test('an expired key leaves the listing, and its expiry settles on every index replica', async (t) => {
  const cluster = await startGcCluster(t, { lifecycleDaySeconds: 1, lifecycleIntervalMs: 200, lifecycleKeysPerSecond: 0, gc: false, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  for (const key of ['tmp/a', 'tmp/b', 'keep/c']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: 'expire-tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }] },
    }),
  );
  for (const key of ['tmp/a', 'tmp/b']) await until(`${key} expired`, () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))), 60_000);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same((listed.Contents ?? []).map((object) => object.Key), ['keep/c'], 'only the key no rule expires is listed');

  const record = await cluster.store(0).bucketRecord(bucket);
  const incarnation = record?.createdMs ?? 0;
  await until(
    'every replica holds the expiries settled',
    async () => {
      for (let i = 0; i < 6; i += 1) {
        const page = await cluster.store(i).indexRows.list({ bucket, incarnation, prefix: 'tmp/', after: '', afterIsPrefix: false, limit: 10 });
        if (page.rows.length !== 2 || page.rows.some((row) => row.intent === true || row.entry?.deleted !== true)) return false;
      }
      return true;
    },
    30_000,
  );
  t.pass('each replica lists both keys as deleted, with no intent left');
});

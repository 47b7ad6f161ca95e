import { t } from 'tap';
import { CreateBucketCommand, DeleteObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DEFAULTS } from '../../src/common/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { bucketName } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { defineTarget } from '../helpers/event-targets.js';
import { until } from '../helpers/until.js';
import { Webhook } from '../helpers/webhook.js';

/**
 * Bucket event notifications end to end (docs/events.md): S3 writes through a real gateway to six real
 * nodes, a bucket configuration naming a webhook target, and a real HTTP listener receiving the
 * events the nodes deliver from their change logs.
 */

t.test('S3 writes to a bucket with a notification configuration reach the webhook as S3 events, in order per key, once', async (t) => {
  const webhook = await Webhook.start(t);
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const nodes = cluster.config.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: cluster.config.clusterSecret, connections: 1 }));
  t.teardown(() => Promise.all(nodes.map((node) => node.close())));
  const arn = await defineTarget(nodes, 'hook', { type: 'webhook', url: webhook.url });
  const s3 = cluster.client();
  const bucket = bucketName('events');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: { QueueConfigurations: [{ Id: 'all', QueueArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] }] },
    }),
  );
  const written: { key: string; eventName: string; etag?: string | undefined }[] = [];
  for (let i = 0; i < 3; i += 1) {
    const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/day one.txt', Body: `entry ${i}` }));
    written.push({ key: 'logs/day+one.txt', eventName: 'ObjectCreated:Put', etag: out.ETag?.replace(/"/g, '') });
  }
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other', Body: 'x' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'logs/day one.txt' }));
  written.push({ key: 'logs/day+one.txt', eventName: 'ObjectRemoved:Delete' });
  await until('the webhook receives every event', async () => webhook.received.length >= 5, 30_000);
  await until('every node removed its copies', async () => (await Promise.all(nodes.map((node) => node.listChanges({ limit: 10 })))).every((log) => log.length === 0), 30_000);
  t.equal(webhook.received.length, 5, 'each event once');
  const records = webhook.received.map(({ Records: [record] }) => record);
  const ofKey = records.filter((record) => record.s3.object.key === 'logs/day+one.txt');
  t.same(
    ofKey.map((record) => ({ key: record.s3.object.key, eventName: record.eventName, ...(record.s3.object.eTag === undefined ? {} : { etag: record.s3.object.eTag }) })),
    written,
    "one key's events in the order its writes were made, with their ETags",
  );
  const sequencers = ofKey.map((record) => record.s3.object.sequencer as string);
  t.same([...sequencers].sort(), sequencers, 'their sequencers increase');
  t.match(records[0], { eventSource: 'aws:s3', awsRegion: DEFAULTS.region, s3: { configurationId: 'all', bucket: { name: bucket } } });
});

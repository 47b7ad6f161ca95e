import { GetObjectCommand, PutBucketLifecycleConfigurationCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import type { LoggedChange } from '../../src/rpc/index.js';
import { defineTarget } from '../helpers/event-targets.js';
import { until } from '../helpers/until.js';
import { startGcCluster } from '../storage-node/gc-cluster.js';
import { missing } from '../storage-node/lifecycle-cluster.js';

/**
 * Lifecycle expiry runs on the nodes, and its changes reach the change log as a client's do
 * (docs/events.md): each expiry's commit carries its note when the bucket's notification rules want
 * the event, named as the service's, and every member of the key's set logs it.
 */

t.test("an expiry is logged on every member of the key's set as s3:LifecycleExpiration, only for the keys a configuration wants", async (t) => {
  const cluster = await startGcCluster(t, { lifecycleDaySeconds: 1, lifecycleIntervalMs: 200, lifecycleKeysPerSecond: 0, gc: false, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  const nodes = Array.from({ length: 6 }, (_, i) => cluster.node(i));
  // A target nothing listens on: the changes stay logged for this test to read.
  const arn = await defineTarget(nodes, 'expiries', { type: 'webhook', url: 'http://127.0.0.1:9/' });
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: { QueueConfigurations: [{ Id: 'expired-tmp', QueueArn: arn, Events: ['s3:LifecycleExpiration:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'tmp/a' }] } } }] },
    }),
  );
  for (const key of ['tmp/a', 'tmp/b']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: 'expire-tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }] },
    }),
  );
  for (const key of ['tmp/a', 'tmp/b']) await until(`${key} expired`, () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))), 60_000);

  const logs: LoggedChange[][] = [];
  await until(
    'every member logged the expiry',
    async () => {
      logs.splice(0, logs.length, ...(await Promise.all(nodes.map((node) => node.listChanges({ limit: 100 })))));
      return logs.every((changes) => changes.length >= 1);
    },
    30_000,
  );
  const ids = new Set(logs.flatMap((changes) => changes.map((change) => change.note.id)));
  t.equal(ids.size, 1, 'one change, the same id on every member');
  const [change] = logs[0] ?? [];
  t.equal(change?.key, 'tmp/a', 'the key the configuration filters for; tmp/b, expired too, is not logged');
  t.equal(change?.note.eventName, 's3:LifecycleExpiration:Delete', 'an expiry without versioning removes the key: Delete');
  t.equal(change?.note.principalId, 'tessera:lifecycle', 'made by the service');
  t.same(change?.note.destinations, [{ configurationId: 'expired-tmp', arn }], 'addressed to the configuration and its target');
  t.notOk(change?.note.versionId, 'no version id in a bucket never versioned');
});

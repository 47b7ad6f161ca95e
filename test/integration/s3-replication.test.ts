import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteBucketReplicationCommand,
  GetBucketReplicationCommand,
  GetBucketVersioningCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
  type ReplicationConfiguration,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, userClients, writeGatewayConfig } from '../helpers/cluster.js';
import { refusal } from '../helpers/sdk-refusal.js';

/**
 * PutBucketReplication, GetBucketReplication and DeleteBucketReplication through a real gateway and
 * real nodes, with the AWS SDK: a configuration needs Enabled versioning and keeps it Enabled, and each
 * destination must be an s3 target the operator defined (`tessera admin target add --type s3`).
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configPath = await writeGatewayConfig(cluster);
const s3 = cluster.client();

/** Runs `tessera admin target ARGS` on the cluster; what it printed. */
async function target(args: string[], env: Record<string, string> = {}): Promise<string> {
  let out = '';
  let err = '';
  const code = await runAdminCli(['target', ...args, '--config', configPath], env, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  if (code !== 0) throw new Error(`tessera admin target ${args[0] ?? ''} exited ${code}: ${err}`);
  return out.trim();
}

const SECRET = { SITE_B_SECRET: 'site-b-secret-key' };
const siteB = await target(['add', 'site-b', '--type', 's3', '--endpoint', 'http://127.0.0.1:9', '--bucket', 'replicas', '--access-key', 'AKIDSITEB', '--secret-key-env', 'SITE_B_SECRET'], SECRET);
const queue = await target(['add', 'builds', '--type', 'nats', '--url', 'nats://127.0.0.1:4222', '--subject', 'tessera.builds']);

async function versionedBucket(status: 'Enabled' | 'Suspended' | 'never' = 'Enabled'): Promise<string> {
  const bucket = bucketName('repl');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  if (status !== 'never') await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
  return bucket;
}

const simple = (arn: string): ReplicationConfiguration => ({
  Role: 'arn:aws:iam::123456789012:role/replication',
  Rules: [{ ID: 'all', Priority: 1, Status: 'Enabled', Filter: {}, DeleteMarkerReplication: { Status: 'Disabled' }, Destination: { Bucket: arn } }],
});

t.test('the ARN target add prints for an s3 target is its replication ARN', async (t) => {
  t.equal(siteB, 'arn:tessera:replication::site-b:replicas');
});

t.test('a configuration is stored with its rules and Role, read back, and removed', async (t) => {
  const bucket = await versionedBucket();
  t.same(await refusal(s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))), { name: 'ReplicationConfigurationNotFoundError', status: 404, message: 'The replication configuration was not found' });
  const configuration: ReplicationConfiguration = {
    Role: 'arn:aws:iam::123456789012:role/replication',
    Rules: [
      {
        ID: 'models',
        Priority: 2,
        Status: 'Enabled',
        Filter: { Prefix: 'models/' },
        DeleteMarkerReplication: { Status: 'Enabled' },
        ExistingObjectReplication: { Status: 'Enabled' },
        Destination: { Bucket: siteB, StorageClass: 'STANDARD_IA' },
      },
      {
        ID: 'gold',
        Priority: 1,
        Status: 'Disabled',
        Filter: { And: { Prefix: 'logs/', Tags: [{ Key: 'tier', Value: 'gold' }] } },
        DeleteMarkerReplication: { Status: 'Disabled' },
        Destination: { Bucket: 'arn:minio:replication::site-b:replicas' },
      },
    ],
  };
  await s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: configuration }));
  const got = await s3.send(new GetBucketReplicationCommand({ Bucket: bucket }));
  t.same(got.ReplicationConfiguration, configuration, "every field as given, MinIO's ARN form kept as written");
  const deleted = await s3.send(new DeleteBucketReplicationCommand({ Bucket: bucket }));
  t.equal(deleted.$metadata.httpStatusCode, 204);
  t.match(await refusal(s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))), { name: 'ReplicationConfigurationNotFoundError', status: 404 });
  t.equal((await s3.send(new DeleteBucketReplicationCommand({ Bucket: bucket }))).$metadata.httpStatusCode, 204, 'deleting none is no error');
});

t.test('a rule without an ID is given one', async (t) => {
  const bucket = await versionedBucket();
  await s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: { Role: '', Rules: [{ Priority: 0, Status: 'Enabled', Filter: { Prefix: '' }, DeleteMarkerReplication: { Status: 'Disabled' }, Destination: { Bucket: siteB } }] } }));
  const got = await s3.send(new GetBucketReplicationCommand({ Bucket: bucket }));
  t.match(got.ReplicationConfiguration?.Rules?.[0]?.ID ?? '', /^[0-9a-f-]{36}$/);
});

t.test('replication needs versioning Enabled, and keeps it so while configured', async (t) => {
  const message = "Versioning must be 'Enabled' on the bucket to apply a replication configuration";
  for (const status of ['never', 'Suspended'] as const) {
    const bucket = await versionedBucket(status);
    t.same(await refusal(s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: simple(siteB) }))), { name: 'InvalidRequest', status: 400, message }, `versioning ${status}`);
    t.match(await refusal(s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))), { name: 'ReplicationConfigurationNotFoundError' }, 'nothing was stored');
  }
  const bucket = await versionedBucket();
  await s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: simple(siteB) }));
  t.match(await refusal(s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }))), { name: 'InvalidBucketState', status: 409 });
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Enabled', 'the suspension was refused');
  await s3.send(new DeleteBucketReplicationCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Suspended', 'without replication it may be suspended');
});

t.test('a destination must be a defined s3 target with the bucket the ARN names', async (t) => {
  const bucket = await versionedBucket();
  const put = (arn: string): Promise<unknown> => s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: simple(arn) }));
  t.same(await refusal(put('arn:tessera:replication::nobody:replicas')), { name: 'InvalidRequest', status: 400, message: 'Destination bucket must exist.' }, 'an unknown target');
  t.same(await refusal(put('arn:tessera:replication::site-b:other-bucket')), { name: 'InvalidRequest', status: 400, message: 'Destination bucket must exist.' }, "a bucket the target does not write to");
  t.same(await refusal(put('arn:tessera:replication::builds:replicas')), { name: 'InvalidRequest', status: 400, message: 'Destination bucket must exist.' }, 'an event target is no replication target');
  t.same(await refusal(put(queue)), { name: 'InvalidArgument', status: 400, message: 'Invalid bucket ARN.' }, "an event target's own ARN");
  t.same(await refusal(put('arn:aws:s3:::replicas')), { name: 'InvalidArgument', status: 400, message: 'Invalid bucket ARN.' }, "an AWS bucket ARN");
  t.match(await refusal(s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))), { name: 'ReplicationConfigurationNotFoundError' }, 'the refused documents stored nothing');
  const fresh = await target(['add', 'site-fresh', '--type', 's3', '--endpoint', 'https://s3.fresh.example', '--bucket', 'dr', '--access-key', 'AKIDF', '--secret-key-env', 'SITE_B_SECRET'], SECRET);
  await put(fresh);
  t.equal((await s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))).ReplicationConfiguration?.Rules?.[0]?.Destination?.Bucket, fresh, 'a target defined a moment ago is found at once');
});

t.test("replication is the bucket owner's alone", async (t) => {
  const bucket = await versionedBucket();
  await s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: simple(siteB) }));
  const { client } = await (await userClients(t, cluster))('replication-stranger');
  t.match(await refusal(client.send(new GetBucketReplicationCommand({ Bucket: bucket }))), { name: 'AccessDenied', status: 403 });
  t.match(await refusal(client.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: simple(siteB) }))), { name: 'AccessDenied', status: 403 });
  t.match(await refusal(client.send(new DeleteBucketReplicationCommand({ Bucket: bucket }))), { name: 'AccessDenied', status: 403 });
  t.ok((await s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))).ReplicationConfiguration, 'the configuration is still there');
});

t.test('a configuration of 1,000 rules, the most S3 allows, is stored and read back whole', async (t) => {
  const bucket = await versionedBucket();
  const rules = Array.from({ length: 1000 }, (_, i) => ({
    ID: `rule-${i}`,
    Priority: i,
    Status: 'Enabled' as const,
    Filter: { Prefix: `datasets/${String(i).padStart(4, '0')}/` },
    DeleteMarkerReplication: { Status: 'Disabled' as const },
    Destination: { Bucket: siteB },
  }));
  await s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: { Role: '', Rules: rules } }));
  const got = await s3.send(new GetBucketReplicationCommand({ Bucket: bucket }));
  t.same(got.ReplicationConfiguration?.Rules, rules);
  t.match(await refusal(s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: { Role: '', Rules: [...rules, { ...rules[0]!, ID: 'one-more', Priority: 1000 }] } }))), {
    name: 'InvalidRequest',
    status: 400,
  });
  const long = rules.map((rule) => ({ ...rule, Filter: { Prefix: `${'p'.repeat(1000)}/${rule.ID}` } }));
  t.match(await refusal(s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: { Role: '', Rules: long } }))), { name: 'MalformedXML', status: 400 }, 'a body past 512 KiB is not read');
  t.same((await s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))).ReplicationConfiguration?.Rules, rules, 'the refusals changed nothing');
});

t.test('an s3 target is no destination for event notifications', async (t) => {
  const bucket = await versionedBucket();
  t.match(
    await refusal(s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { QueueConfigurations: [{ QueueArn: 'arn:tessera:sqs::site-b:webhook', Events: ['s3:ObjectCreated:*'] }] } }))),
    { name: 'InvalidArgument', message: 'Unable to validate the following destination configurations' },
  );
  t.match(
    await refusal(s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { QueueConfigurations: [{ QueueArn: siteB, Events: ['s3:ObjectCreated:*'] }] } }))),
    { name: 'InvalidArgument' },
  );
});

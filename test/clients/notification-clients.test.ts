import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import {
  CreateBucketCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
  type NotificationConfiguration,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, runCommand, type CommandResult } from '../helpers/clients.js';
import { startDevServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';
import { refusal } from '../helpers/sdk-refusal.js';

/**
 * Bucket notification configurations against a real `tessera dev`, set with the AWS SDK for
 * JavaScript and aws-cli: destinations are event targets the operator defined (`tessera admin target
 * add`), and what S3 refuses (an unknown destination, an unknown event, overlapping configurations) is
 * refused with S3's InvalidArgument.
 */

const TIMEOUT_MS = 120_000;
const dev = await startDevServer(t);
const s3 = new S3Client({
  endpoint: dev.endpoint,
  region: dev.region,
  forcePathStyle: true,
  credentials: { accessKeyId: dev.accessKeyId, secretAccessKey: dev.secretAccessKey },
  maxAttempts: 1,
});
t.teardown(() => s3.destroy());
const work = await mkdtemp(join(tmpdir(), 'tessera-notification-clients-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

/** Runs `tessera admin target ARGS --data DIR` on the dev server's cluster; what it printed. */
async function target(...args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await runAdminCli(['target', ...args, '--data', dev.dataDir], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  if (code !== 0) throw new Error(`tessera admin target ${args[0] ?? ''} exited ${code}: ${err}`);
  return out.trim();
}

// Defined before any bucket names them, and named by the ARN `add` printed.
const queueArn = await target('add', 'builds', '--type', 'amqp', '--url', 'amqp://127.0.0.1:5672', '--exchange', 'tessera', '--routing-key', 'objects');
const topicArn = await target('add', 'audit', '--type', 'nats', '--url', 'nats://127.0.0.1:4222', '--subject', 'tessera.audit');

t.test('the SDK stores queue and topic configurations with events and key filters, and reads them back', async (t) => {
  const bucket = bucketName('notify');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const before = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  t.same(before.QueueConfigurations ?? [], [], 'a new bucket has none');
  const config: NotificationConfiguration = {
    QueueConfigurations: [
      {
        Id: 'new-shards',
        QueueArn: queueArn,
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'shards/' }, { Name: 'suffix', Value: '.tar' }] } },
      },
      { Id: 'removed-shards', QueueArn: queueArn, Events: ['s3:ObjectRemoved:Delete', 's3:ObjectRemoved:DeleteMarkerCreated'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'shards/' }] } } },
    ],
    TopicConfigurations: [{ Id: 'tags', TopicArn: topicArn, Events: ['s3:ObjectTagging:*', 's3:LifecycleExpiration:*'] }],
  };
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: config }));
  const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  t.same(
    got.QueueConfigurations?.map((c) => [c.Id, c.QueueArn, c.Events, c.Filter?.Key?.FilterRules]),
    [
      ['new-shards', queueArn, ['s3:ObjectCreated:*'], [{ Name: 'Prefix', Value: 'shards/' }, { Name: 'Suffix', Value: '.tar' }]],
      ['removed-shards', queueArn, ['s3:ObjectRemoved:Delete', 's3:ObjectRemoved:DeleteMarkerCreated'], [{ Name: 'Prefix', Value: 'shards/' }]],
    ],
  );
  t.same(got.TopicConfigurations?.map((c) => [c.Id, c.TopicArn, c.Events]), [['tags', topicArn, ['s3:ObjectTagging:*', 's3:LifecycleExpiration:*']]]);
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: {} }));
  const cleared = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  t.same([cleared.QueueConfigurations ?? [], cleared.TopicConfigurations ?? []], [[], []], 'an empty configuration removes them');
});

t.test('a configuration without an Id is given one, and MinIO-form ARNs of a defined target are accepted', async (t) => {
  const bucket = bucketName('notify');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: { QueueConfigurations: [{ QueueArn: 'arn:minio:sqs::builds:amqp', Events: ['s3:ObjectCreated:Put'] }] },
    }),
  );
  const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  t.equal(got.QueueConfigurations?.[0]?.QueueArn, 'arn:minio:sqs::builds:amqp');
  t.match(got.QueueConfigurations?.[0]?.Id ?? '', /^[A-Za-z0-9_-]{20,}$/);
});

t.test('S3 refuses what it cannot validate: unknown destinations, unknown events, overlapping configurations', async (t) => {
  const bucket = bucketName('notify');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const put = (config: NotificationConfiguration): Promise<unknown> => s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: config }));
  t.same(await refusal(put({ QueueConfigurations: [{ QueueArn: 'arn:tessera:sqs::nobody:amqp', Events: ['s3:ObjectCreated:*'] }] })), {
    name: 'InvalidArgument',
    status: 400,
    message: 'Unable to validate the following destination configurations',
  });
  t.match(await refusal(put({ QueueConfigurations: [{ QueueArn: 'arn:tessera:sqs::builds:redis', Events: ['s3:ObjectCreated:*'] }] })), { name: 'InvalidArgument' }, 'the ARN names the wrong type');
  t.match(await refusal(put({ QueueConfigurations: [{ QueueArn: 'arn:aws:sqs:us-east-1:123456789012:q', Events: ['s3:ObjectCreated:*'] }] })), { name: 'InvalidArgument' });
  t.match(await refusal(put({ QueueConfigurations: [{ QueueArn: queueArn, Events: ['s3:ObjectCreated:Teleported' as 's3:ObjectCreated:*'] }] })), {
    name: 'InvalidArgument',
    message: 'The event is not supported for notifications',
  });
  t.match(
    await refusal(
      put({
        QueueConfigurations: [
          { QueueArn: queueArn, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/' }] } } },
          { QueueArn: queueArn, Events: ['s3:ObjectCreated:Put'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/b/' }] } } },
        ],
      }),
    ),
    { name: 'InvalidArgument', message: /Configurations overlap/ },
  );
  t.match(
    await refusal(put({ QueueConfigurations: [{ QueueArn: queueArn, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a' }, { Name: 'prefix', Value: 'b' }] } } }] })),
    { name: 'InvalidArgument', message: /more than one prefix/ },
  );
  // Disjoint prefixes, or different event types, do not overlap.
  await put({
    QueueConfigurations: [
      { QueueArn: queueArn, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/' }] } } },
      { QueueArn: queueArn, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'b/' }] } } },
      { QueueArn: queueArn, Events: ['s3:ObjectRemoved:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/' }] } } },
    ],
  });
  const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  t.equal(got.QueueConfigurations?.length, 3, 'the refused documents changed nothing; the accepted one is stored');
});

t.test('a target defined a moment ago is found at once, and a removed one is refused', async (t) => {
  const bucket = bucketName('notify');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const arn = await target('add', 'fresh', '--type', 'mqtt', '--url', 'mqtt://127.0.0.1:1883', '--topic', 'tessera/events');
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { QueueConfigurations: [{ QueueArn: arn, Events: ['s3:ObjectCreated:*'] }] } }));
  await target('remove', 'fresh');
  // The gateway follows removals within its refresh interval; until then the old definition may still validate.
  await until('the removed target is refused', () =>
    s3
      .send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { QueueConfigurations: [{ QueueArn: arn, Events: ['s3:ObjectCreated:*'] }] } }))
      .then(() => false, (err: { name: string }) => err.name === 'InvalidArgument'),
  20_000);
  t.pass('a removed target is no destination');
});

for (const cli of [
  { name: 'aws-cli on PATH', command: 'aws' },
  { name: 'Debian aws-cli v2 (/usr/bin/aws)', command: '/usr/bin/aws' },
]) {
  t.test(`${cli.name}: s3api put- and get-bucket-notification-configuration`, async (t) => {
    const dir = await mkdtemp(join(work, 'cli-'));
    const env = await isolatedAwsEnv({ accessKeyId: dev.accessKeyId, secretAccessKey: dev.secretAccessKey }, dir);
    const probe = await probeClient(cli.command, ['--version'], env);
    if (!requireClient(t, cli.name, probe)) return;
    const aws = async (...args: string[]): Promise<CommandResult> =>
      runCommand(cli.command, ['--endpoint-url', dev.endpoint, '--region', dev.region, '--output', 'json', ...args], { env, timeoutMs: TIMEOUT_MS });
    const bucket = bucketName('clinotify');
    const created = await aws('s3api', 'create-bucket', '--bucket', bucket);
    t.equal(created.code, 0, 'create-bucket', commandOutput(created));
    const file = join(dir, 'notification.json');
    await writeFile(
      file,
      JSON.stringify({
        QueueConfigurations: [{ Id: 'tars', QueueArn: queueArn, Events: ['s3:ObjectCreated:Put', 's3:ObjectCreated:CompleteMultipartUpload'], Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.tar' }] } } }],
      }),
    );
    const put = await aws('s3api', 'put-bucket-notification-configuration', '--bucket', bucket, '--notification-configuration', `file://${file}`);
    t.equal(put.code, 0, 'put-bucket-notification-configuration', commandOutput(put));
    const got = await aws('s3api', 'get-bucket-notification-configuration', '--bucket', bucket);
    t.equal(got.code, 0, 'get-bucket-notification-configuration', commandOutput(got));
    t.same(JSON.parse(got.stdout), {
      QueueConfigurations: [
        { Id: 'tars', QueueArn: queueArn, Events: ['s3:ObjectCreated:Put', 's3:ObjectCreated:CompleteMultipartUpload'], Filter: { Key: { FilterRules: [{ Name: 'Suffix', Value: '.tar' }] } } },
      ],
    });
    await writeFile(file, JSON.stringify({ QueueConfigurations: [{ QueueArn: 'arn:tessera:sqs::nobody:amqp', Events: ['s3:ObjectCreated:*'] }] }));
    const refused = await aws('s3api', 'put-bucket-notification-configuration', '--bucket', bucket, '--notification-configuration', `file://${file}`);
    t.not(refused.code, 0);
    t.match(refused.stderr, /InvalidArgument.*Unable to validate the following destination configurations/s);
  });
}

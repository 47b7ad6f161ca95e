import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketLoggingCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { splitLogLine } from '../../src/gateway/access-log/index.js';
import { bucketName, collect } from '../helpers/bytes.js';
import { freePorts } from '../helpers/ports.js';
import { devClient } from '../helpers/replication-sites.js';
import { startDevServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';
import { Webhook } from '../helpers/webhook.js';

/**
 * A write's event survives a crash of the whole embedded default between the write's answer and the
 * event's delivery (docs/events.md): the change was logged in the write's own commit on the nodes, so
 * a `tessera dev` killed with SIGKILL and started again on its data delivers every event whose write
 * was answered, in order per key. The same crash takes the gateway down right after it answered
 * requests to a bucket with server access logging on (docs/access-logs.md): each of them has its log
 * line in the target bucket after the restart.
 */

const WRITES = 12;

t.test('every answered write reaches the webhook, and every answered logged request has its log line, after tessera dev is SIGKILLed and started again on its data', async (t) => {
  // The webhook's port is chosen now and listened on only after the crash: until then every delivery is refused.
  const [port] = await freePorts(1);
  const first = await startDevServer(t);
  let out = '';
  const code = await runAdminCli(['target', 'add', 'hook', '--type', 'webhook', '--url', `http://127.0.0.1:${String(port)}/events`, '--data', first.dataDir], {}, {
    stdout: (text) => void (out += text),
    stderr: (text) => void (out += text),
  });
  t.equal(code, 0, `the target is defined: ${out.trim()}`);
  const arn = out.trim().split('\n').at(-1) ?? '';

  const s3 = devClient(first);
  const bucket = bucketName('crash-events');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: { QueueConfigurations: [{ Id: 'all', QueueArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] }] },
    }),
  );
  const expected = new Map<string, string[]>();
  for (let i = 0; i < WRITES; i += 1) {
    const key = `k${i % 3}`;
    if (i % 4 === 3) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    else await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `write ${i}` }));
    expected.set(key, [...(expected.get(key) ?? []), i % 4 === 3 ? 'ObjectRemoved:Delete' : 'ObjectCreated:Put']);
  }
  const logged = bucketName('crash-logged');
  const logs = bucketName('crash-logs');
  await s3.send(new CreateBucketCommand({ Bucket: logged }));
  await s3.send(new CreateBucketCommand({ Bucket: logs }));
  await s3.send(new PutBucketLoggingCommand({ Bucket: logged, BucketLoggingStatus: { LoggingEnabled: { TargetBucket: logs, TargetPrefix: 'access/' } } }));
  // Side by side, so that several records share a log object; the kill follows the last answer at once.
  const answered = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => (await s3.send(new PutObjectCommand({ Bucket: logged, Key: `k${i}`, Body: `logged ${i}` }))).$metadata.requestId),
  );
  s3.destroy();

  // Every write was answered; none of its events could be delivered yet. The whole process goes at once.
  first.process.child.kill('SIGKILL');
  t.match(await first.process.exited, { signal: 'SIGKILL' }, 'tessera dev was killed');

  const webhook = await Webhook.start(t, port);
  const received = (): { key: string; eventName: string; sequencer: string }[] => webhook.events();

  const second = await startDevServer(t, { dataDir: first.dataDir });
  const after = devClient(second);
  t.teardown(() => after.destroy());
  const listed = await after.send(new ListObjectsV2Command({ Bucket: logs, Prefix: 'access/' }));
  const requestIds = new Set<string>();
  for (const object of listed.Contents ?? []) {
    const got = await after.send(new GetObjectCommand({ Bucket: logs, Key: object.Key }));
    const text = (await collect(got.Body as AsyncIterable<Uint8Array>)).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') requestIds.add(splitLogLine(line)[5] ?? '');
  }
  t.same(answered.filter((id) => !requestIds.has(id ?? '')), [], 'every answered logged request has its line');
  await until(`the webhook received the ${WRITES} events`, async () => new Set(received().map((event) => event.sequencer)).size >= WRITES, 120_000);
  for (const [key, events] of expected) {
    // At least once: a repeat (same sequencer) is allowed, a loss or a reordering is not.
    const seen: string[] = [];
    const sequencers = new Set<string>();
    for (const event of received().filter((e) => e.key === key)) {
      if (sequencers.has(event.sequencer)) continue;
      sequencers.add(event.sequencer);
      seen.push(event.eventName);
    }
    t.same(seen, events, `${key}: every event, in the order of its writes`);
  }
});

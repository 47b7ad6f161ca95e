import { t } from 'tap';
import {
  checkDefinedTarget,
  checkTargetDefinition,
  definedTargetArn,
  parseDefinedTarget,
  parseReplicationArn,
  parseTargetArn,
  parseTargetDefinition,
  publicTargetFields,
  redactUrl,
  replicationTargetArn,
  targetArn,
} from '../../src/events/index.js';

t.test("a target's ARN names it and its type, and reads back to both", async (t) => {
  t.equal(targetArn('builds', 'amqp'), 'arn:tessera:sqs::builds:amqp');
  t.same(parseTargetArn('arn:tessera:sqs::builds:amqp', 'us-east-1'), { name: 'builds', type: 'amqp' });
  t.same(parseTargetArn('arn:tessera:sqs:us-east-1:builds:amqp', 'us-east-1'), { name: 'builds', type: 'amqp' }, 'this region may be named');
  t.same(parseTargetArn('arn:minio:sqs::builds:webhook', 'us-east-1'), { name: 'builds', type: 'webhook' }, "MinIO's form, as clients written for it carry");
});

t.test('ARNs of other services, regions, types or shapes name no target', async (t) => {
  for (const arn of [
    'arn:aws:sqs:us-east-1:123456789012:queue',
    'arn:tessera:sns::builds:amqp',
    'arn:tessera:sqs:eu-west-1:builds:amqp',
    'arn:tessera:sqs::builds:kafka',
    'arn:tessera:sqs::bad name:amqp',
    'arn:tessera:sqs::builds:amqp:extra',
    '',
  ]) {
    t.equal(parseTargetArn(arn, 'us-east-1'), undefined, arn);
  }
});

t.test('each kind of target needs its own fields, and a URL of its scheme', async (t) => {
  t.same(checkTargetDefinition({ type: 'redis', url: 'redis://127.0.0.1:6379', key: 'events', format: 'stream' }), {
    type: 'redis',
    url: 'redis://127.0.0.1:6379',
    key: 'events',
    format: 'stream',
  });
  t.throws(() => checkTargetDefinition({ type: 'amqp', url: 'amqp://h', exchange: 'x' }), /routingKey is required/);
  t.throws(() => checkTargetDefinition({ type: 'nats', url: 'http://h', subject: 's' }), /nats: or tls:/);
  t.throws(() => checkTargetDefinition({ type: 'mqtt', url: 'mqtt://h', topic: 'a/#', qos: 1 }), /no \+ or #/);
  t.throws(() => checkTargetDefinition({ type: 'mqtt', url: 'mqtt://h', topic: 'a', qos: 3 }), /qos/);
  t.throws(() => checkTargetDefinition({ type: 'kafka', url: 'kafka://h' }), /type is one of/);
  t.throws(() => checkTargetDefinition({ type: 'nats', url: 'nats://h', subject: 'a\r\nPUB x' }), /control character/, 'no protocol text smuggled in a subject');
  t.throws(() => checkTargetDefinition({ type: 'nats', url: 'nats://h', subject: 'x'.repeat(1025) }), /longer than/);
  t.throws(() => parseTargetDefinition('{'), /JSON/);
});

t.test('what a listing shows of a target holds none of its secrets', async (t) => {
  const webhook = checkTargetDefinition({ type: 'webhook', url: 'https://hooks.example/in', bearerToken: 'tok-SECRET', caPem: '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n' });
  const shown = JSON.stringify(publicTargetFields(webhook));
  t.notMatch(shown, /SECRET/);
  t.match(publicTargetFields(webhook), { bearerToken: true, customCa: true });
  const amqp = checkTargetDefinition({ type: 'amqp', url: 'amqp://user:pa55word@rabbit:5672/vh', exchange: 'x', routingKey: 'r' });
  t.notMatch(JSON.stringify(publicTargetFields(amqp)), /pa55word/);
  t.equal(redactUrl('amqp://user:pa55word@rabbit:5672/vh'), 'amqp://user:***@rabbit:5672/vh');
  t.equal(redactUrl('not a url with secret'), '(not a URL)');
});

t.test("an s3 target's ARN names the target and its remote bucket, in Tessera's form or MinIO's", async (t) => {
  t.equal(replicationTargetArn('site-b', 'replicas'), 'arn:tessera:replication::site-b:replicas');
  t.same(parseReplicationArn('arn:tessera:replication::site-b:replicas', 'us-east-1'), { name: 'site-b', bucket: 'replicas' });
  t.same(parseReplicationArn('arn:minio:replication::site-b:replicas', 'us-east-1'), { name: 'site-b', bucket: 'replicas' });
  t.same(parseReplicationArn('arn:tessera:replication:us-east-1:site-b:replicas', 'us-east-1'), { name: 'site-b', bucket: 'replicas' }, 'this region may be named');
  for (const arn of [
    'arn:aws:s3:::replicas',
    'arn:tessera:sqs::site-b:amqp',
    'arn:tessera:replication:eu-west-1:site-b:replicas',
    'arn:tessera:replication::bad name:replicas',
    'arn:tessera:replication::site-b:bad/bucket',
    'arn:tessera:replication::site-b:..',
    'arn:tessera:replication::site-b:',
    'arn:tessera:replication::site-b:replicas:extra',
  ]) {
    t.equal(parseReplicationArn(arn, 'us-east-1'), undefined, arn);
  }
  t.equal(parseTargetArn('arn:tessera:sqs::site-b:s3', 'us-east-1'), undefined, 'an s3 target is no notification destination');
});

t.test('an s3 target needs an http(s) endpoint without credentials, a bucket and both keys; the region defaults to us-east-1', async (t) => {
  const base = { type: 's3', endpoint: 'https://s3.site-b.example:9000', bucket: 'replicas', accessKeyId: 'AKIDSITEB', secretAccessKey: 'sk-SECRET' };
  t.same(checkDefinedTarget(base), { ...base, region: 'us-east-1' });
  t.same(checkDefinedTarget({ ...base, region: 'eu-central-1' }), { ...base, region: 'eu-central-1' });
  t.equal(definedTargetArn('site-b', checkDefinedTarget(base)), 'arn:tessera:replication::site-b:replicas');
  t.equal(definedTargetArn('builds', checkDefinedTarget({ type: 'nats', url: 'nats://h', subject: 's' })), 'arn:tessera:sqs::builds:nats');
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ ...base, endpoint: 'ftp://s3.site-b.example' }, /http: or https:/],
    [{ ...base, endpoint: 'https://key:pw@s3.site-b.example' }, /no user or password/],
    [{ ...base, endpoint: 'https://s3.site-b.example/?x=1' }, /no query/],
    [{ ...base, endpoint: 'not a url' }, /not a URL/],
    [{ ...base, bucket: 'a/b' }, /bucket is a bucket name/],
    [{ ...base, bucket: '..' }, /bucket is a bucket name/],
    [{ ...base, bucket: undefined }, /bucket is required/],
    [{ ...base, region: 'us east' }, /region/],
    [{ ...base, accessKeyId: 'AKID\r\nX-Injected: 1' }, /control character/],
    [{ ...base, accessKeyId: 'A'.repeat(129) }, /longer than/],
    [{ ...base, secretAccessKey: undefined }, /secretAccessKey is required/],
    [{ ...base, secretAccessKey: 'x'.repeat(1025) }, /longer than/],
  ];
  for (const [definition, message] of refused) t.throws(() => checkDefinedTarget(definition), message, JSON.stringify(definition).slice(0, 80));
  t.throws(() => checkDefinedTarget({ type: 'kafka', url: 'kafka://h' }), /type is one of webhook, amqp, nats, redis, mqtt, s3/);
  t.throws(() => parseTargetDefinition(JSON.stringify(base)), /type is one of/, 'read as an event target, an s3 target is none');
  t.same(parseDefinedTarget(JSON.stringify(base)), { ...base, region: 'us-east-1' });
});

t.test('what a listing shows of an s3 target holds its access key id but never its secret key', async (t) => {
  const s3 = checkDefinedTarget({ type: 's3', endpoint: 'https://s3.site-b.example', bucket: 'replicas', accessKeyId: 'AKIDSITEB', secretAccessKey: 'sk-SECRET' });
  const shown = publicTargetFields(s3);
  t.notMatch(JSON.stringify(shown), /SECRET/);
  t.same(shown, { type: 's3', url: 'https://s3.site-b.example', bucket: 'replicas', region: 'us-east-1', accessKeyId: 'AKIDSITEB', secretAccessKey: true });
});

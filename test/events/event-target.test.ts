import { t } from 'tap';
import { checkTargetDefinition, parseTargetArn, parseTargetDefinition, publicTargetFields, redactUrl, targetArn } from '../../src/events/index.js';

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

import { t } from 'tap';
import { eventKey, eventMessages, matchingConfigurations, sequencerOf, type ObjectChange } from '../../../src/gateway/events/index.js';
import type { NotificationRule } from '../../../src/rpc/index.js';

const change: ObjectChange = {
  eventName: 's3:ObjectCreated:Put',
  bucket: 'models',
  key: 'shards/part 1+(a).tar',
  bucketOwnerId: 'owner-id',
  timeMs: Date.UTC(2026, 10, 27, 12, 0, 0, 5),
  orderId: '0189abcdef0123456789abcd',
  versionId: 'v-1',
  sizeBytes: 1234,
  etag: 'd41d8cd98f00b204e9800998ecf8427e',
  principalId: 'writer-id',
  sourceIp: '192.0.2.7',
  requestId: 'REQ1',
  hostId: 'HOST1',
};

t.test("an event message is S3's event JSON: Records of eventVersion 2.1 with the bucket, object and request", async (t) => {
  const rules: NotificationRule[] = [{ id: 'cfg-1', kind: 'Queue', arn: 'arn:tessera:sqs::builds:amqp', events: ['s3:ObjectCreated:*'] }];
  const [message, ...more] = eventMessages(change, rules, 'eu-central-1');
  t.same(more, [], 'one configuration matched, one message');
  t.equal(message?.arn, 'arn:tessera:sqs::builds:amqp');
  t.same(JSON.parse(JSON.stringify(message?.body)), {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-central-1',
        eventTime: '2026-11-27T12:00:00.005Z',
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'writer-id' },
        requestParameters: { sourceIPAddress: '192.0.2.7' },
        responseElements: { 'x-amz-request-id': 'REQ1', 'x-amz-id-2': 'HOST1' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'cfg-1',
          bucket: { name: 'models', ownerIdentity: { principalId: 'owner-id' }, arn: 'arn:aws:s3:::models' },
          object: { key: 'shards/part+1%2B%28a%29.tar', size: 1234, eTag: 'd41d8cd98f00b204e9800998ecf8427e', versionId: 'v-1', sequencer: '0189ABCDEF0123456789ABCD' },
        },
      },
    ],
  });
  t.same(Object.keys(message?.body.Records[0].s3.object ?? {}), ['key', 'size', 'eTag', 'versionId', 'sequencer'], "the object's fields in S3's order");
});

t.test('a removal carries no size or ETag, and an unversioned bucket no version id', async (t) => {
  const { sizeBytes: _s, etag: _e, versionId: _v, ...removal } = change;
  const rules: NotificationRule[] = [{ id: 'gone', kind: 'Topic', arn: 'arn:tessera:sqs::audit:nats', events: ['s3:ObjectRemoved:*'] }];
  const [message] = eventMessages({ ...removal, eventName: 's3:ObjectRemoved:Delete' }, rules, 'us-east-1');
  t.same(message?.body.Records[0].s3.object, { key: 'shards/part+1%2B%28a%29.tar', sequencer: '0189ABCDEF0123456789ABCD' });
  t.equal(message?.body.Records[0].eventName, 'ObjectRemoved:Delete');
});

t.test('keys are form-encoded as S3 writes them: space as +, slashes kept, UTF-8 bytes as %XX', async (t) => {
  t.equal(eventKey('a b/c.txt'), 'a+b/c.txt');
  t.equal(eventKey('a+b'), 'a%2Bb', 'a literal plus stays distinguishable from a space');
  t.equal(eventKey('x=1&y=2'), 'x%3D1%26y%3D2');
  t.equal(eventKey('café/日本'), 'caf%C3%A9/%E6%97%A5%E6%9C%AC');
  t.equal(eventKey('safe-name_1.2*'), 'safe-name_1.2*');
  t.equal(decodeURIComponent(eventKey('any key ü+%').replace(/\+/g, ' ')), 'any key ü+%', 'a form decoder gives the key back');
});

t.test('sequencers of one key order its events as its changes committed', async (t) => {
  const earlier = sequencerOf('0189abcdef0123456789abcd');
  const later = sequencerOf('0189abcdef0123456789abce');
  t.ok(earlier < later);
  t.throws(() => sequencerOf('not-hex'), { code: 'InvalidOrderId' });
});

t.test('an event goes to every configuration whose events cover it and whose prefix and suffix its key passes', async (t) => {
  const rules: NotificationRule[] = [
    { id: 'all-created', kind: 'Queue', arn: 'a1', events: ['s3:ObjectCreated:*'] },
    { id: 'tars', kind: 'Queue', arn: 'a2', events: ['s3:ObjectCreated:Put'], prefix: 'shards/', suffix: '.tar' },
    { id: 'copies', kind: 'Queue', arn: 'a3', events: ['s3:ObjectCreated:Copy'] },
    { id: 'removed', kind: 'Topic', arn: 'a4', events: ['s3:ObjectRemoved:*', 's3:LifecycleExpiration:*'], prefix: 'shards/' },
    { id: 'tags', kind: 'Topic', arn: 'a5', events: ['s3:ObjectTagging:Put'] },
  ];
  const ids = (name: Parameters<typeof matchingConfigurations>[1], key: string): string[] => matchingConfigurations(rules, name, key).map((r) => r.id);
  t.same(ids('s3:ObjectCreated:Put', 'shards/1.tar'), ['all-created', 'tars']);
  t.same(ids('s3:ObjectCreated:Put', 'shards/1.tar.gz'), ['all-created'], 'the suffix must end the key');
  t.same(ids('s3:ObjectCreated:Put', 'other/1.tar'), ['all-created'], 'the prefix must start the key');
  t.same(ids('s3:ObjectCreated:CompleteMultipartUpload', 'shards/1.tar'), ['all-created'], 'Put is not CompleteMultipartUpload');
  t.same(ids('s3:ObjectCreated:Copy', 'x'), ['all-created', 'copies']);
  t.same(ids('s3:ObjectRemoved:DeleteMarkerCreated', 'shards/x'), ['removed']);
  t.same(ids('s3:LifecycleExpiration:Delete', 'shards/x'), ['removed']);
  t.same(ids('s3:LifecycleExpiration:Delete', 'elsewhere'), []);
  t.same(ids('s3:ObjectTagging:Delete', 'x'), [], 'Put is not Delete');
  t.same(ids('s3:ObjectTagging:Put', 'x'), ['tags']);
});

t.test('a key with a pattern character is matched as text, never as a pattern', async (t) => {
  const rules: NotificationRule[] = [{ id: 'dots', kind: 'Queue', arn: 'a', events: ['s3:ObjectCreated:*'], prefix: 'a.*', suffix: '[x]' }];
  t.same(matchingConfigurations(rules, 's3:ObjectCreated:Put', 'a.*/[x]').length, 1);
  t.same(matchingConfigurations(rules, 's3:ObjectCreated:Put', 'abc/x').length, 0);
});

import { t } from 'tap';
import { eventKey, eventMessages, sequencerOf, type ObjectChange } from '../../src/events/index.js';

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
  const [message, ...more] = eventMessages(change, [{ configurationId: 'cfg-1', arn: 'arn:tessera:sqs::builds:amqp' }], 'eu-central-1');
  t.same(more, [], 'one destination, one message');
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
  const [message] = eventMessages({ ...removal, eventName: 's3:ObjectRemoved:Delete' }, [{ configurationId: 'gone', arn: 'arn:tessera:sqs::audit:nats' }], 'us-east-1');
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

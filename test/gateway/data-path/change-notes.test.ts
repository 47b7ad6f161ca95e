import { t } from 'tap';
import { SchemaCheck } from '../../../src/common/index.js';
import { ChangeNote, type NotificationRule, type ObjectRecord, type ReplicationConfiguration } from '../../../src/rpc/index.js';
import { noteOf, pendingChange, shownVersionId, versionNote, withReplicationStatus, type ChangeOrigin } from '../../../src/gateway/data-path/index.js';

/** The check a node runs on the note its request carries. */
const noteCheck = new SchemaCheck('change note', ChangeNote);
const origin: ChangeOrigin = { principalId: 'writer-id', sourceIp: '127.0.0.1', requestId: 'ABCDEF0123456789', hostId: 'host-id', bucketOwnerId: 'owner-id' };
const rules: NotificationRule[] = [
  { id: 'created-logs', kind: 'Queue', arn: 'arn:tessera:sqs::hook:webhook', events: ['s3:ObjectCreated:*'], prefix: 'logs/' },
  { id: 'removed-tars', kind: 'Topic', arn: 'arn:tessera:sqs::bus:nats', events: ['s3:ObjectRemoved:Delete'], suffix: '.tar' },
];

function record(fields: Partial<ObjectRecord>): ObjectRecord {
  return {
    bucket: 'b',
    key: 'logs/a.tar',
    versionId: '0000018c0000000000a1b2c3',
    deleted: false,
    sizeBytes: 42,
    etag: '"0123456789abcdef0123456789abcdef"',
    lastModifiedMs: 1_700_000_000_000,
    contentType: '',
    userMetadata: {},
    headers: {},
    checksums: {},
    erasure: { dataShards: 4, parityShards: 2, blockSizeBytes: 65536 },
    ...fields,
  } as ObjectRecord;
}

t.test('a change is pending only when a configuration selects its event and key', async (t) => {
  t.equal(pendingChange({}, 's3:ObjectCreated:Put', 'logs/a', origin), undefined, 'a bucket without configurations');
  t.equal(pendingChange({ notification: rules }, 's3:ObjectCreated:Put', 'other/a', origin), undefined, 'outside every prefix');
  t.equal(pendingChange({ notification: rules }, 's3:ObjectRemoved:DeleteMarkerCreated', 'x.tar', origin), undefined, 'an event no configuration names');
  t.same(pendingChange({ notification: rules }, 's3:ObjectCreated:Copy', 'logs/a', origin)?.destinations, [{ configurationId: 'created-logs', arn: rules[0]?.arn }]);
  t.same(pendingChange({ notification: rules }, 's3:ObjectRemoved:Delete', 'logs/a.tar', origin)?.destinations, [{ configurationId: 'removed-tars', arn: rules[1]?.arn }]);
});

t.test("a created version's note names its size, unquoted ETag and version; a removal neither size nor ETag", async (t) => {
  const created = pendingChange({ notification: rules }, 's3:ObjectCreated:Put', 'logs/a.tar', origin);
  const note = versionNote(created, record({ versioning: 'Enabled' }));
  t.ok(note !== undefined && noteCheck.is(note), 'a note the nodes accept');
  t.match(note, {
    eventName: 's3:ObjectCreated:Put',
    timeMs: 1_700_000_000_000,
    orderId: '0000018c0000000000a1b2c3',
    versionId: '0000018c0000000000a1b2c3',
    sizeBytes: 42,
    etag: '0123456789abcdef0123456789abcdef',
    bucketOwnerId: 'owner-id',
    principalId: 'writer-id',
    requestId: 'ABCDEF0123456789',
  });
  t.match(note?.id, /^[0-9a-f]{32}$/);
  t.not(versionNote(created, record({}))?.id, note?.id, 'each note has its own id');
  const removed = pendingChange({ notification: rules }, 's3:ObjectRemoved:Delete', 'logs/a.tar', origin);
  const removal = versionNote(removed, record({ deleted: true, sizeBytes: 0, etag: '""' }));
  t.ok(removal !== undefined && noteCheck.is(removal));
  t.equal(removal?.sizeBytes, undefined);
  t.equal(removal?.etag, undefined);
  t.equal(removal?.versionId, undefined, 'a bucket never versioned shows no version id');
  t.equal(versionNote(undefined, record({})), undefined, 'no change, no note');
});

t.test('the version id a note shows is the one a client sees', async (t) => {
  t.equal(shownVersionId(record({})), undefined);
  t.equal(shownVersionId(record({ versioning: 'Enabled' })), '0000018c0000000000a1b2c3');
  t.equal(shownVersionId(record({ versioning: 'Suspended' })), 'null');
  const change = pendingChange({ notification: rules }, 's3:ObjectRemoved:Delete', 'a.tar', origin);
  if (change === undefined) throw new Error('the change is selected');
  const note = noteOf(change, { timeMs: 5, orderId: '0000018c0000000100a1b2c3', versionId: 'null' });
  t.match(note, { orderId: '0000018c0000000100a1b2c3', versionId: 'null', timeMs: 5 });
  t.ok(noteCheck.is(note));
});

const SITE_B = 'arn:tessera:replication::site-b:replicas';
const replication: ReplicationConfiguration = {
  role: '',
  rules: [
    { id: 'models', enabled: true, form: 'Filter', priority: 2, filter: { prefix: 'models/' }, deleteMarkerReplication: 'Enabled', destination: { arn: SITE_B } },
    { id: 'gold', enabled: true, form: 'Filter', priority: 1, filter: { prefix: 'logs/', tags: { tier: 'gold' } }, deleteMarkerReplication: 'Disabled', destination: { arn: SITE_B } },
  ],
};

t.test('replication rules add their destinations to the changes they select, after the notification ones', async (t) => {
  const destinationsOf = (eventName: Parameters<typeof pendingChange>[1], key: string, subject = {}): unknown =>
    pendingChange({ notification: rules, replication }, eventName, key, origin, subject)?.destinations;
  t.same(destinationsOf('s3:ObjectCreated:Put', 'logs/a', { tags: { tier: 'gold' } }), [{ configurationId: 'created-logs', arn: rules[0]?.arn }, { configurationId: 'gold', arn: SITE_B }]);
  t.same(destinationsOf('s3:ObjectCreated:Put', 'logs/a', { tags: { tier: 'silver' } }), [{ configurationId: 'created-logs', arn: rules[0]?.arn }], 'the tag filter');
  t.same(destinationsOf('s3:ObjectCreated:CompleteMultipartUpload', 'models/m'), [{ configurationId: 'models', arn: SITE_B }], 'without a notification that selects it');
  t.same(destinationsOf('s3:ObjectRemoved:DeleteMarkerCreated', 'models/m'), [{ configurationId: 'models', arn: SITE_B }], 'a marker where its rule sends markers');
  t.equal(destinationsOf('s3:ObjectRemoved:DeleteMarkerCreated', 'logs/a', { tags: { tier: 'gold' } }), undefined, 'a marker where it does not');
  t.equal(destinationsOf('s3:ObjectRemoved:Delete', 'models/m'), undefined, 'a delete by version id never');
  t.same(destinationsOf('s3:ObjectTagging:Put', 'logs/a', { tags: {}, previousTags: { tier: 'gold' } }), [{ configurationId: 'gold', arn: SITE_B }], 'a tag change of a version the rule selected');
  t.equal(destinationsOf('s3:ObjectCreated:Put', 'models/m', { replicates: false }), undefined, "a replica's change");
  t.equal(pendingChange({ replication }, 's3:ObjectCreated:Put', 'other/x', origin), undefined, 'a key no rule selects');
});

t.test('a version committed with a replication destination is PENDING; other versions keep their status', async (t) => {
  const replicated = pendingChange({ replication }, 's3:ObjectCreated:Put', 'models/m', origin);
  const notified = pendingChange({ notification: rules }, 's3:ObjectCreated:Put', 'logs/a', origin);
  t.equal(replicated?.replicates, true);
  t.equal(withReplicationStatus(record({}), replicated).replicationStatus, 'PENDING');
  t.equal(withReplicationStatus(record({}), notified).replicationStatus, undefined);
  t.equal(withReplicationStatus(record({ replicationStatus: 'REPLICA' }), undefined).replicationStatus, 'REPLICA');
  const note = versionNote(replicated, record({ versioning: 'Enabled' }));
  t.ok(note !== undefined && noteCheck.is(note), 'a note the nodes accept');
});

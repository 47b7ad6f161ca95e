import { randomBytes } from 'node:crypto';
import { t, type Test } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { MAX_DONE_IDS, NodeClient, type ChangeNote, type ObjectRecord, type ReplicationOutcome } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { recordFor, shardRef, tempDir, versionId } from './store-fixture.js';

/**
 * How a change's replication ended reaches the versions (docs/replication.md): the leader's
 * POST /v1/changes/done names an outcome per change id, and a member that logged the change rewrites
 * the status of the version it is about in place (no new tag revision), before forgetting the change.
 * A real node over HTTP, on LevelDB.
 */

const REPLICATION = [{ configurationId: 'models', arn: 'arn:tessera:replication::site-b:replicas' }];

function note(eventName: ChangeNote['eventName'], order: number, overrides: Partial<ChangeNote> = {}): ChangeNote {
  return {
    id: randomBytes(16).toString('hex'),
    eventName,
    timeMs: 1_700_000_000_000 + order,
    orderId: versionId(order),
    versionId: versionId(order),
    bucketOwnerId: 'owner',
    principalId: 'writer',
    sourceIp: '192.0.2.1',
    requestId: 'REQ',
    hostId: 'HOST',
    destinations: REPLICATION,
    ...overrides,
  };
}

/** A started storage node on its own data directory (closed with `t`), and a client of it. */
async function startNode(t: Test, name: string): Promise<NodeClient> {
  const dataDir = await tempDir(t, name);
  const secret = `${name}-secret`;
  const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: secret, logger: silentLogger(), healing: false });
  t.teardown(() => node.close());
  await node.start();
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${node.address.port}`, clusterSecret: secret });
  t.teardown(() => client.close());
  return client;
}

function version(n: number, replicationStatus: ObjectRecord['replicationStatus'], deleted = false): ObjectRecord {
  return { ...recordFor(shardRef('k', n), 0, deleted), versioning: 'Enabled', ...(replicationStatus === undefined ? {} : { replicationStatus }) };
}

t.test('outcomes rewrite the status of the versions the changes are about, in place, and leave other versions alone', async (t) => {
  const client = await startNode(t, 'replication-outcomes');
  const statusOf = async (n: number): Promise<ObjectRecord | undefined> => (await client.versionStatus('b', 'k', versionId(n)))?.record;

  const first = note('s3:ObjectCreated:Put', 1);
  const marker = note('s3:ObjectRemoved:DeleteMarkerCreated', 2);
  const replica = note('s3:ObjectCreated:Put', 3, { destinations: [{ configurationId: 'events', arn: 'arn:tessera:sqs::hook:webhook' }] });
  const current = note('s3:ObjectCreated:Put', 4);
  await client.commit({ record: version(1, 'PENDING'), shardIndex: null, change: first });
  await client.commit({ record: version(2, 'PENDING', true), shardIndex: null, change: marker });
  await client.commit({ record: version(3, 'REPLICA'), shardIndex: null, change: replica });
  await client.commit({ record: version(4, 'PENDING'), shardIndex: null, change: current });
  // A tag change of the noncurrent version 1: ordered by its revision, about the version it names.
  const retagged = note('s3:ObjectTagging:Put', 5, { versionId: versionId(1) });
  await client.updateTags({ bucket: 'b', key: 'k', versionId: versionId(1), tags: { tier: 'gold' }, tagsRevision: versionId(5), change: retagged });
  // A delete of a version this node never held: logged, about no version here.
  const gone = note('s3:ObjectRemoved:Delete', 6, { versionId: versionId(9) });
  await client.deleteVersion({ bucket: 'b', key: 'k', versionId: versionId(9), change: gone });

  const removed = await client.changesDone([first.id, marker.id, current.id], {}, { [first.id]: 'COMPLETED', [marker.id]: 'FAILED', [current.id]: 'COMPLETED', [gone.id]: 'COMPLETED' });
  t.equal(removed, 3, 'the delivered changes leave the log');
  t.equal((await statusOf(1))?.replicationStatus, 'COMPLETED', 'a noncurrent version');
  t.equal((await statusOf(1))?.tagsRevision, versionId(5), 'without a new tag revision');
  t.same((await statusOf(1))?.tags, { tier: 'gold' }, 'and with its tags as they were');
  t.equal((await statusOf(2))?.replicationStatus, 'FAILED', 'a delete marker');
  t.equal((await statusOf(4))?.replicationStatus, 'COMPLETED', 'the current version');
  t.equal((await client.objectStatus('b', 'k'))?.record.replicationStatus, 'COMPLETED', 'as the current version is read');
  t.equal(await statusOf(9), undefined, 'a change about a version the node does not hold writes nothing');

  await client.changesDone([replica.id], {}, { [replica.id]: 'COMPLETED' });
  t.equal((await statusOf(3))?.replicationStatus, 'REPLICA', "a replica's status never changes");

  await client.changesDone([retagged.id], {}, { [retagged.id]: 'FAILED' });
  t.equal((await statusOf(1))?.replicationStatus, 'FAILED', "a tag change's outcome goes to the version it changed");
  t.equal((await statusOf(1))?.tagsRevision, versionId(5));

  await client.changesDone([first.id], {}, { [first.id]: 'COMPLETED' });
  t.equal((await statusOf(1))?.replicationStatus, 'FAILED', 'a change already forgotten names no version any more: a repeat writes nothing');
  t.same((await client.listChanges({ limit: 10 })).map((change) => change.note.id), [gone.id], 'only the change not declared done is left');
});

t.test('a done call with malformed or too many outcomes is refused whole', async (t) => {
  const client = await startNode(t, 'replication-outcomes-bad');
  const created = note('s3:ObjectCreated:Put', 1);
  await client.commit({ record: version(1, 'PENDING'), shardIndex: null, change: created });

  const refused = async (outcomes: Record<string, string>, why: string): Promise<void> => {
    await t.rejects(client.changesDone([created.id], {}, outcomes as Record<string, ReplicationOutcome>), { code: 'BadRequest' }, why);
  };
  await refused({ [created.id]: 'PENDING' }, 'an outcome that is no settled status');
  await refused({ 'not-a-change-id': 'COMPLETED' }, 'a key that is no change id');
  await refused(JSON.parse(`{"__proto__": "COMPLETED"}`) as Record<string, string>, 'a prototype key');
  const many: Record<string, string> = {};
  for (let i = 0; i <= MAX_DONE_IDS; i += 1) many[randomBytes(16).toString('hex')] = 'COMPLETED';
  await refused(many, `more than ${MAX_DONE_IDS} outcomes`);
  t.equal((await client.versionStatus('b', 'k', versionId(1)))?.record.replicationStatus, 'PENDING', 'nothing was written');
  t.equal((await client.listChanges({ limit: 10 })).length, 1, 'nothing was forgotten');
});

t.test("a resync's status call sets a version's status in place, also where it had none, and never a replica's", async (t) => {
  const client = await startNode(t, 'replication-status');
  const statusOf = async (n: number): Promise<ObjectRecord | undefined> => (await client.versionStatus('b', 'k', versionId(n)))?.record;
  await client.commit({ record: version(1, undefined), shardIndex: null });
  await client.commit({ record: version(2, 'PENDING', true), shardIndex: null });
  await client.commit({ record: version(3, 'REPLICA'), shardIndex: null });
  await client.commit({ record: version(4, undefined), shardIndex: null });
  await client.updateTags({ bucket: 'b', key: 'k', versionId: versionId(1), tags: { tier: 'gold' }, tagsRevision: versionId(5) });

  await client.setReplicationStatus({ bucket: 'b', key: 'k', versionId: versionId(1), status: 'COMPLETED' });
  t.equal((await statusOf(1))?.replicationStatus, 'COMPLETED', 'a noncurrent version written before any rule takes the status');
  t.equal((await statusOf(1))?.tagsRevision, versionId(5), 'without a new tag revision');
  t.same((await statusOf(1))?.tags, { tier: 'gold' }, 'and with its tags as they were');
  await client.setReplicationStatus({ bucket: 'b', key: 'k', versionId: versionId(2), status: 'FAILED' });
  t.equal((await statusOf(2))?.replicationStatus, 'FAILED', 'a pending delete marker');
  await client.setReplicationStatus({ bucket: 'b', key: 'k', versionId: versionId(4), status: 'COMPLETED' });
  t.equal((await client.objectStatus('b', 'k'))?.record.replicationStatus, 'COMPLETED', 'the current version, as it is read');
  await client.setReplicationStatus({ bucket: 'b', key: 'k', versionId: versionId(3), status: 'COMPLETED' });
  t.equal((await statusOf(3))?.replicationStatus, 'REPLICA', "a replica's status never changes");
  await client.setReplicationStatus({ bucket: 'b', key: 'k', versionId: versionId(9), status: 'COMPLETED' });
  t.equal(await statusOf(9), undefined, 'a version the node does not hold is not created');
  await t.rejects(
    client.setReplicationStatus({ bucket: 'b', key: 'k', versionId: versionId(1), status: 'REPLICA' as 'COMPLETED' }),
    { code: 'BadRequest' },
    'a status other than COMPLETED or FAILED is refused',
  );
  t.equal((await statusOf(1))?.replicationStatus, 'COMPLETED', 'and writes nothing');
});

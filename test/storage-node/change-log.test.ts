import { randomBytes } from 'node:crypto';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { NodeClient, type ChangeNote } from '../../src/rpc/index.js';
import { StorageNode, type MetadataOp, type ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, openStore, prepareBytes, recordFor, shardRef, tempDir, versionId } from './store-fixture.js';

/**
 * The node's change log (docs/events.md): a change whose request carries a note is logged in the batch
 * that makes the change, once however often the request is retried, in the order the key's changes
 * commit; a delivered change leaves the log, and an offer of it is then answered "delivered".
 */

function note(eventName: ChangeNote['eventName'], order: number, overrides: Partial<ChangeNote> = {}): ChangeNote {
  return {
    id: randomBytes(16).toString('hex'),
    eventName,
    timeMs: 1_700_000_000_000 + order,
    orderId: versionId(order),
    bucketOwnerId: 'owner',
    principalId: 'writer',
    sourceIp: '192.0.2.1',
    requestId: 'REQ',
    hostId: 'HOST',
    destinations: [{ configurationId: 'all', arn: 'arn:tessera:sqs::hook:webhook' }],
    ...overrides,
  };
}

/** How many of `ops` are change log rows (kind `c`). */
function changeRowsIn(ops: readonly MetadataOp[]): number {
  return ops.filter((op) => op.key[0] === 'c'.charCodeAt(0)).length;
}

/** The rows of `store`'s synced writes from now on, batch by batch. */
function recordWrites(store: ShardStore): MetadataOp[][] {
  const writes: MetadataOp[][] = [];
  store.metadata.observeWrites((ops, sync) => {
    if (sync) writes.push([...ops]);
  });
  return writes;
}

t.test('a commit carrying a note logs the change in the batch that commits the version, once however often it is retried', async (t) => {
  const store = await openStore(await tempDir(t, 'change-log-commit'));
  t.teardown(() => store.close());
  const writes = recordWrites(store);
  const ref = shardRef('model.bin', 1);
  const bytes = seededBytes(3_000, 1);
  await prepareBytes(store, ref, bytes);
  const created = note('s3:ObjectCreated:Put', 1, { sizeBytes: bytes.length * ERASURE.dataShards, etag: 'abc' });
  const request = { record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex, change: created };
  writes.length = 0;
  await store.commit(request);
  const committing = writes.find((ops) => ops.some((op) => op.key.toString('latin1').startsWith('o\0b\0model.bin')));
  t.ok(committing !== undefined && changeRowsIn(committing) === 2, 'the change rows (log and id) are in the batch that writes the version');

  await store.commit(request);
  const logged = await store.changes.page(undefined, 100);
  t.same(
    logged.map((change) => [change.bucket, change.key, change.note.id, change.note.eventName]),
    [['b', 'model.bin', created.id, 's3:ObjectCreated:Put']],
    'a retried commit logs nothing more',
  );
  t.same(logged[0]?.note, created, 'the note is logged as the commit carried it');
});

t.test("a key's changes are logged in the order they commit, a change whose version is hidden by a newer one included", async (t) => {
  const store = await openStore(await tempDir(t, 'change-log-order'));
  t.teardown(() => store.close());
  const notes = [note('s3:ObjectCreated:Put', 2), note('s3:ObjectRemoved:Delete', 3), note('s3:ObjectCreated:Put', 1)];
  await store.commit({ record: recordFor(shardRef('k', 2), 0, true), shardIndex: null, change: notes[0] as ChangeNote });
  await store.commit({ record: recordFor(shardRef('k', 3), 0, true), shardIndex: null, change: notes[1] as ChangeNote });
  // Version 1 commits last: the node drops it (version 3 hides it) but the client's write happened.
  await store.commit({ record: recordFor(shardRef('k', 1), 0, true), shardIndex: null, change: notes[2] as ChangeNote });
  const logged = await store.changes.page(undefined, 100);
  t.same(
    logged.map((change) => change.note.id),
    notes.map((n) => n.id),
    'in commit order',
  );
  const seqs = logged.map((change) => change.seq);
  t.same(seqs, [...seqs].sort(), 'with increasing sequence numbers');
  t.same(await store.changes.page(seqs[0], 100).then((page) => page.map((change) => change.seq)), seqs.slice(1), 'a page resumes after a sequence number');
});

t.test('a delete by id and a tag update carrying a note log it with the change; a refused delete logs nothing', async (t) => {
  const store = await openStore(await tempDir(t, 'change-log-delete'));
  t.teardown(() => store.close());
  const versioned = (n: number, deleted = false) => ({ ...recordFor(shardRef('v', n), 0, deleted), versioning: 'Enabled' as const });
  await store.commit({ record: versioned(1), shardIndex: null });
  await store.commit({ record: versioned(2), shardIndex: null });
  const tagged = note('s3:ObjectTagging:Put', 5);
  await store.updateTags({ bucket: 'b', key: 'v', versionId: versionId(2), tags: { k: 'v' }, tagsRevision: versionId(5), change: tagged });
  const removed = note('s3:ObjectRemoved:Delete', 6, { versionId: versionId(1) });
  await store.deleteVersion('b', 'v', versionId(1), { change: removed });
  const absent = note('s3:ObjectRemoved:Delete', 7, { versionId: versionId(9) });
  t.equal(await store.deleteVersion('b', 'v', versionId(9), { change: absent }), null, 'a version this node does not hold');
  const locked = { ...versioned(8), retention: { mode: 'COMPLIANCE' as const, retainUntilMs: Date.now() + 3_600_000 } };
  await store.commit({ record: locked, shardIndex: null });
  await t.rejects(store.deleteVersion('b', 'v', versionId(8), { change: note('s3:ObjectRemoved:Delete', 10) }), { code: 'Locked' });
  t.same(
    (await store.changes.page(undefined, 100)).map((change) => change.note.id),
    [tagged.id, removed.id, absent.id],
    'the tag update and both deletes are logged (a node that missed the version logs the delete too); the refused delete is not',
  );
});

t.test('a delivered change leaves the log, and an offer of it is answered delivered; an unknown one is taken on', async (t) => {
  const store = await openStore(await tempDir(t, 'change-log-done'));
  t.teardown(() => store.close());
  const first = note('s3:ObjectCreated:Put', 1);
  const second = note('s3:ObjectCreated:Put', 2);
  await store.commit({ record: recordFor(shardRef('a', 1), 0, true), shardIndex: null, change: first });
  await store.commit({ record: recordFor(shardRef('a', 2), 0, true), shardIndex: null, change: second });
  const [logged] = await store.changes.page(undefined, 1);
  await store.changes.markDelivered(logged?.seq ?? '', 'all');
  t.same((await store.changes.page(undefined, 1))[0]?.delivered, ['all'], 'progress per destination is kept');
  t.equal(await store.changes.done([first.id]), 1);
  t.same((await store.changes.page(undefined, 100)).map((change) => change.note.id), [second.id]);
  t.equal(await store.changes.offered('b', 'a', first), 'delivered', 'an offer of a delivered change');
  const elsewhere = note('s3:ObjectCreated:Put', 3);
  t.equal(await store.changes.offered('b', 'z', elsewhere), 'pending', 'an offer of a change this node never saw');
  t.same((await store.changes.page(undefined, 100)).map((change) => change.note.id), [second.id, elsewhere.id], 'is logged here to be delivered');
  // A commit retried after its change was delivered does not log it again.
  await store.commit({ record: recordFor(shardRef('a', 1), 0, true), shardIndex: null, change: first });
  t.equal(await store.changes.count(), 2);
  t.equal(await store.changes.dropMarkersBefore(Date.now() + 1), 1, 'delivered markers are collected');
});

t.test('a change an offer logged before its late commit arrived is logged twice, and done with the copy read removes both', async (t) => {
  const store = await openStore(await tempDir(t, 'change-log-offered-then-committed'));
  t.teardown(() => store.close());
  const ref = shardRef('late.bin', 1);
  const bytes = seededBytes(3_000, 2);
  await prepareBytes(store, ref, bytes);
  const created = note('s3:ObjectCreated:Put', 1);
  // A member offered the change first: this node logs it to deliver it.
  t.equal(await store.changes.offered('b', 'late.bin', created), 'pending');
  // Its commit then arrives with the shard still prepared: logged without a look at the log.
  await store.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex, change: created });
  const copies = await store.changes.page(undefined, 100);
  t.same(copies.map((change) => change.note.id), [created.id, created.id], 'two copies of the change');
  // The first copy read is delivered: done names where it was read, and no copy stays behind.
  t.equal(await store.changes.done([created.id], new Map([[created.id, copies[0]?.seq ?? '']])), 2);
  t.same(await store.changes.page(undefined, 100), [], 'no copy outlives its id');
});

t.test("a node serves its change log over HTTP, and refuses a note that is not one", async (t) => {
  const dataDir = await tempDir(t, 'change-log-node');
  const secret = 'change-log-secret';
  const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: secret, logger: silentLogger(), healing: false });
  t.teardown(() => node.close());
  await node.start();
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${node.address.port}`, clusterSecret: secret });
  t.teardown(() => client.close());
  const created = note('s3:ObjectCreated:Put', 1);
  await client.commit({ record: recordFor(shardRef('k', 1), 0, true), shardIndex: null, change: created });
  const removed = note('s3:ObjectRemoved:Delete', 2);
  await client.deleteVersion({ bucket: 'b', key: 'k', versionId: versionId(1), change: removed });
  const page = await client.listChanges({ limit: 10 });
  t.same(
    page.map((change) => change.note.id),
    [created.id, removed.id],
  );
  t.same(await client.listChanges({ after: page[0]?.seq, limit: 10 }).then((changes) => changes.map((change) => change.note.id)), [removed.id]);

  const bad = { ...note('s3:ObjectCreated:Put', 3), eventName: 's3:ObjectRestore:Completed' } as unknown as ChangeNote;
  await t.rejects(client.commit({ record: recordFor(shardRef('k', 3), 0, true), shardIndex: null, change: bad }), { code: 'BadRequest' }, 'an event no configuration can name');
  const control = note('s3:ObjectCreated:Put', 4, { sourceIp: '1.2.3.4\r\nX: y' });
  await t.rejects(client.commit({ record: recordFor(shardRef('k', 4), 0, true), shardIndex: null, change: control }), { code: 'BadRequest' }, 'a control character in a field');
  t.equal((await client.listChanges({ limit: 10 })).length, 2, 'neither was logged');
  t.notOk((await node.parts.store.objectStatus('b', 'k'))?.record.versionId === versionId(4), 'nor committed');
});

import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { indexEntryOf, NodeClient, type IndexIntent, type ObjectRecord } from '../../src/rpc/index.js';
import { StorageNode, type ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, openStore, prepareBytes, recordFor, shardRef, tempDir, versionId } from './store-fixture.js';

/**
 * A commit may carry its write's bucket index intent (docs/bucket-index.md): the node writes it with
 * the version, and acknowledges no commit without it, even one that had nothing else to write.
 */

const INCARNATION = 1_700_000_000_000;

function intent(key: string, n: number): IndexIntent {
  return { op: 'intent', bucket: 'b', incarnation: INCARNATION, key, id: versionId(n), expiresMs: Date.now() + 60_000 };
}

/** The intents the store holds, as `key:id-number`. */
async function intents(store: ShardStore): Promise<string[]> {
  const { ops } = await store.indexRows.exportPage(null, 100);
  return ops.flatMap((op) => (op.op === 'intent' ? [`${op.key}:${Number(BigInt(`0x${op.id.slice(0, 12)}`) - 1_700_000_000_000n)}`] : [])).sort();
}

t.test('a commit carrying an intent writes it with the version, and a commit with nothing to write writes it alone', async (t) => {
  const dir = await tempDir(t, 'carried-intent');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const ref = shardRef('with-shard', 2);
  const bytes = seededBytes(3_000, 1);
  await prepareBytes(store, ref, bytes);
  await store.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex, indexIntent: intent('with-shard', 10) });
  await store.commit({ record: recordFor(shardRef('marker', 3), 0, true), shardIndex: null, indexIntent: intent('marker', 11) });
  t.same(await intents(store), ['marker:11', 'with-shard:10'], 'both commits left their intent');

  // A retried commit of the visible version, and one older than it: nothing of the version is written.
  await store.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex, indexIntent: intent('with-shard', 12) });
  await store.commit({ record: recordFor(shardRef('marker', 1), 0, true), shardIndex: null, indexIntent: intent('marker', 13) });
  t.same(await intents(store), ['marker:11', 'marker:13', 'with-shard:10', 'with-shard:12'], 'the intent is written on its own');
});

t.test('a node refuses a commit whose intent names another key, and commits nothing', async (t) => {
  const dataDir = await tempDir(t, 'carried-intent-node');
  const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: 'carried-intent-secret', logger: silentLogger(), healing: false });
  t.teardown(() => node.close());
  await node.start();
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${node.address.port}`, clusterSecret: 'carried-intent-secret' });
  t.teardown(() => client.close());
  const record = recordFor(shardRef('k', 3), 0, true);
  await t.rejects(client.commit({ record, shardIndex: null, indexIntent: intent('another', 20) }), { code: 'BadRequest' });
  t.notOk(await node.parts.store.objectStatus('b', 'k'), 'the version was not committed');
  t.same(await intents(node.parts.store), [], 'nor the intent written');
});

t.test('a commit carrying an intent drops the index entries of the versions it replaces', async (t) => {
  const dir = await tempDir(t, 'carried-replaces');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const settleEntry = (record: ObjectRecord): Promise<void> =>
    store.indexRows.apply([{ op: 'settle', bucket: 'b', incarnation: INCARNATION, key: record.key, entry: indexEntryOf(record) }]);
  const entries = async (): Promise<string[]> =>
    (await store.indexRows.exportPage(null, 100)).ops.flatMap((op) => (op.op === 'settle' && op.entry !== undefined ? [`${op.key}@${op.entry.versionId === versionId(1) ? 1 : op.entry.versionId === versionId(2) ? 2 : '?'}`] : []));

  // Without versioning: version 2 replaces version 1, whose entry goes in the commit's batch.
  const first = recordFor(shardRef('plain', 1), 0, true);
  await store.commit({ record: first, shardIndex: null, indexIntent: intent('plain', 1) });
  await settleEntry(first);
  await store.commit({ record: recordFor(shardRef('plain', 2), 0, true), shardIndex: null, indexIntent: intent('plain', 2) });
  t.same(await entries(), [], 'the replaced version\'s entry left with the commit that replaced it');

  // Under versioning the older version stays, and so does its entry.
  const kept = { ...recordFor(shardRef('kept', 1), 0, true), versioning: 'Enabled' as const };
  await store.commit({ record: kept, shardIndex: null, indexIntent: intent('kept', 1) });
  await settleEntry(kept);
  await store.commit({ record: { ...recordFor(shardRef('kept', 2), 0, true), versioning: 'Enabled' }, shardIndex: null, indexIntent: intent('kept', 2) });
  t.same(await entries(), ['kept@1'], 'a version kept as noncurrent keeps its entry');
});

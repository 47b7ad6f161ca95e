import { PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { formatVersionId, parseVersionId, silentLogger } from '../../../src/common/index.js';
import { indexShardKey, type IndexOp, type ObjectRecord } from '../../../src/rpc/index.js';
import { IntentResolver } from '../../../src/storage-node/workers/intent-resolver.js';
import { PeerClients } from '../../../src/storage-node/workers/peer-clients.js';
import { bucketOn, startCluster, type TestCluster } from '../../helpers/cluster.js';
import { until } from '../../helpers/until.js';

/**
 * A node's resolver of abandoned bucket index writes (intent-resolver.ts) on a real in-process cluster:
 * the settles of writes that committed never arrived, and the intents' deadlines passed.
 */

type Node = TestCluster['nodes'][number];

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const peers = new PeerClients(cluster.config.clusterSecret);
t.teardown(() => peers.close());

/** The bucket's index shard replicas (all six nodes here) and its incarnation. */
async function replicasOf(bucket: string): Promise<{ replicas: Node[]; createdMs: number }> {
  const record = await (cluster.nodes[0] as Node).parts.store.bucketRecord(bucket);
  const locator = (cluster.nodes[0] as Node).parts.rings.locator;
  if (record === undefined || locator === undefined) throw new Error('no bucket or ring');
  const ids = new Set(locator.locate(bucket, indexShardKey(record.createdMs, 0)).nodes.map((node) => node.id));
  return { replicas: cluster.nodes.filter((_, i) => ids.has(`node-${i}`)), createdMs: record.createdMs };
}

/** One replica's row for `key`, as `@etag`, `+intent`, `-gone`. */
async function rowOn(node: Node, bucket: string, createdMs: number, key: string): Promise<string> {
  const page = await node.parts.store.indexRows.list({ bucket, incarnation: createdMs, prefix: key, after: '', afterIsPrefix: false, limit: 1 });
  const row = page.rows.find((r) => r.key === key);
  if (row === undefined) return 'none';
  return `${row.entry === undefined ? '' : `@${row.entry.etag}`}${row.intent === true ? '+intent' : ''}${row.gone === undefined ? '' : '-gone'}`;
}

/** Runs a resolver on `node` until its pass ends. */
async function resolveOn(node: Node, index: number): Promise<void> {
  const resolver = new IntentResolver({ nodeId: `node-${index}`, store: node.parts.store, rings: node.parts.rings, peers, logger: silentLogger() });
  const signal = new AbortController().signal;
  for (let steps = 0; steps < 100; steps += 1) if ((await resolver.step(signal)).cursor === null) return;
  throw new Error('the pass did not end');
}

async function currentRecord(bucket: string, key: string): Promise<ObjectRecord> {
  const status = await (cluster.nodes[0] as Node).parts.store.objectStatus(bucket, key);
  if (status === undefined) throw new Error(`no ${key}`);
  return status.record;
}

async function settled(bucket: string): Promise<void> {
  const { replicas, createdMs } = await replicasOf(bucket);
  await until('every settle landed', async () => {
    for (const node of replicas) {
      const page = await node.parts.store.indexRows.list({ bucket, incarnation: createdMs, prefix: '', after: '', afterIsPrefix: false, limit: 1000 });
      if (page.rows.some((row) => row.intent === true)) return false;
    }
    return true;
  }, 10_000);
}

t.test('an expired intent of a write that committed without its settle is resolved to the committed version on every replica', async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'old' }));
  await settled(bucket);
  const { replicas, createdMs } = await replicasOf(bucket);
  // A write whose gateway stopped after its commit: its intent on every replica (expired now), the
  // version committed on the key's nodes, no settle.
  const live = await currentRecord(bucket, 'k');
  const { physicalMs, logical, writerId } = parseVersionId(live.versionId);
  const newer: ObjectRecord = { ...live, versionId: formatVersionId(physicalMs + 1, logical, writerId), deleted: true, sizeBytes: 0, etag: '"marker"', checksums: {} };
  const intent: IndexOp = { op: 'intent', bucket, incarnation: createdMs, key: 'k', id: newer.versionId, expiresMs: Date.now() - 1 };
  await Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([intent])));
  await Promise.all(cluster.nodes.map((node) => node.parts.store.commit({ record: newer, shardIndex: null })));
  t.equal(await rowOn(replicas[0] as Node, bucket, createdMs, 'k'), `@${live.etag}+intent`, 'before: the old entry, and the intent');

  for (const [i, node] of cluster.nodes.entries()) await resolveOn(node, i);
  for (const node of replicas) t.equal(await rowOn(node, bucket, createdMs, 'k'), '@"marker"', 'after: the committed delete marker, no intent');
});

t.test('an entry newer than what the key\'s nodes hold is a version deleted by id whose settle was lost: it is marked gone', async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'first' }));
  const first = await currentRecord(bucket, 'k');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'second' }));
  const second = await currentRecord(bucket, 'k');
  await settled(bucket);
  const { replicas, createdMs } = await replicasOf(bucket);
  // The delete by id of the newer version reached the key's nodes; its intent stands, its settle never came.
  const intent: IndexOp = { op: 'intent', bucket, incarnation: createdMs, key: 'k', id: formatVersionId(Date.now(), 0, 'deadbeef'), expiresMs: Date.now() - 1 };
  await Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([intent])));
  await Promise.all(cluster.nodes.map((node) => node.parts.store.deleteVersion(bucket, 'k', second.versionId)));

  for (const [i, node] of cluster.nodes.entries()) await resolveOn(node, i);
  for (const node of replicas) t.equal(await rowOn(node, bucket, createdMs, 'k'), `@${first.etag}-gone`, 'the older version is the newest; the deleted one is marked gone');
  t.same(
    (await (replicas[0] as Node).parts.store.indexRows.keyEntries(bucket, createdMs, 'k')).map((e) => e.versionId),
    [first.versionId],
    'and its entry is gone from the rows',
  );
});

t.test('a key whose set is not whole waits for a later pass, its intent standing', async (t) => {
  const { s3, bucket } = await bucketOn(cluster);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
  await settled(bucket);
  const { replicas, createdMs } = await replicasOf(bucket);
  const intent: IndexOp = { op: 'intent', bucket, incarnation: createdMs, key: 'k', id: formatVersionId(Date.now(), 0, 'feedface'), expiresMs: Date.now() - 1 };
  await Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([intent])));
  await cluster.stopNode(5);
  await resolveOn(cluster.nodes[0] as Node, 0);
  t.match(await rowOn(cluster.nodes[0] as Node, bucket, createdMs, 'k'), /\+intent$/, 'one member could not answer: the intent stands');
});

import { DeleteObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { formatVersionId, parseVersionId } from '../../src/common/index.js';
import { indexEntryOf, indexShardKey, type BucketRecord, type IndexOp, type ObjectRecord } from '../../src/rpc/index.js';
import { bucketOn, startCluster, type TestCluster } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';

/**
 * The bucket index (docs/bucket-index.md) through real S3 requests on an in-process cluster: what a
 * listing of an indexed bucket reads, and what it does when a write's settle never arrived or a
 * replica missed a delete.
 */

type Node = TestCluster['nodes'][number];

/** The bucket's record as node 0 holds it. */
async function bucketRecord(cluster: TestCluster, bucket: string): Promise<BucketRecord> {
  const record = await (cluster.nodes[0] as Node).parts.store.bucketRecord(bucket);
  if (record === undefined) throw new Error(`no record of ${bucket}`);
  return record;
}

/** The nodes holding a replica of the bucket's (first) index shard, and the others. */
async function replicasOf(cluster: TestCluster, bucket: string): Promise<{ replicas: Node[]; others: Node[]; createdMs: number }> {
  const record = await bucketRecord(cluster, bucket);
  const locator = (cluster.nodes[0] as Node).parts.rings.locator;
  if (locator === undefined) throw new Error('no ring');
  const ids = new Set(locator.locate(bucket, indexShardKey(record.createdMs, 0)).nodes.map((node) => node.id));
  const named = cluster.nodes.map((node, i) => ({ node, id: `node-${i}` }));
  return {
    replicas: named.filter(({ id }) => ids.has(id)).map(({ node }) => node),
    others: named.filter(({ id }) => !ids.has(id)).map(({ node }) => node),
    createdMs: record.createdMs,
  };
}

/** Waits until no replica holds an intent for the bucket's keys: every write settled. */
async function settled(cluster: TestCluster, bucket: string): Promise<void> {
  const { replicas, createdMs } = await replicasOf(cluster, bucket);
  await until(
    'every intent settled',
    async () => {
      for (const node of replicas) {
        const page = await node.parts.store.indexRows.list({ bucket, incarnation: createdMs, prefix: '', after: '', afterIsPrefix: false, limit: 10_000 });
        if (page.rows.some((row) => row.intent === true)) return false;
      }
      return true;
    },
    10_000,
  );
}

async function keysOf(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 7 }));
    keys.push(...(page.Contents ?? []).map((object) => `${object.Key as string}:${object.Size ?? -1}`));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

/** A versioned bucket whose key `k` has two settled versions ('old', then 'newest': `newer`), and its index replicas. */
async function twoVersionsOfK(cluster: TestCluster): Promise<{ s3: S3Client; bucket: string; newer: { VersionId?: string | undefined }; replicas: Node[]; createdMs: number }> {
  const { s3, bucket } = await bucketOn(cluster);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'old' }));
  const newer = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'newest' }));
  await settled(cluster, bucket);
  return { s3, bucket, newer, ...(await replicasOf(cluster, bucket)) };
}

/** The key's current record as node 0 holds it. */
async function currentRecord(cluster: TestCluster, bucket: string, key: string): Promise<ObjectRecord> {
  const status = await (cluster.nodes[0] as Node).parts.store.objectStatus(bucket, key);
  if (status === null || status === undefined) throw new Error(`no ${key}`);
  return status.record;
}

t.test('on twelve nodes, a listing reads only the index shard\'s replicas: it answers with five of the six others stopped', async (t) => {
  const cluster = await startCluster({ nodeCount: 12, nodeHealing: false });
  t.teardown(() => cluster.close());
  const { s3, bucket } = await bucketOn(cluster);
  const written = Array.from({ length: 40 }, (_, i) => `k/${String(i).padStart(3, '0')}`);
  await Promise.all(written.map((key, i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x'.repeat(i) }))));
  await settled(cluster, bucket);
  const { replicas, others } = await replicasOf(cluster, bucket);
  t.equal(replicas.length, 6, 'the shard has k + m replicas');
  // One other node stays: bucket records are read from a majority of all nodes (7 of 12). A listing
  // that merged every node's keys would fail here (it tolerates m = 2 missing nodes).
  for (const node of others.slice(1)) await cluster.stopNode(cluster.nodes.indexOf(node));
  t.same(await keysOf(s3, bucket), written.map((key, i) => `${key}:${i}`), 'every key, with its size, from the replicas alone');
  const rolled = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
  t.same((rolled.CommonPrefixes ?? []).map((p) => p.Prefix), ['k/'], 'a delimiter listing too');
});

t.test('indexed buckets on six nodes', async (t) => {
  const cluster = await startCluster({ nodeHealing: false });
  t.teardown(() => cluster.close());

  t.test('a write whose settle never came is listed as its own nodes hold it', async (t) => {
    const { s3, bucket } = await bucketOn(cluster);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'gone-later', Body: 'abc' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'stays', Body: 'abcd' }));
    await settled(cluster, bucket);
    const { replicas, createdMs } = await replicasOf(cluster, bucket);
    // A delete whose gateway stopped between its commit and its settle: the intent on every replica,
    // the delete marker committed on the key's nodes, the index still naming the live version.
    const live = await currentRecord(cluster, bucket, 'gone-later');
    const { physicalMs, logical, writerId } = parseVersionId(live.versionId);
    const marker: ObjectRecord = { ...live, versionId: formatVersionId(physicalMs + 1, logical, writerId), deleted: true, sizeBytes: 0, etag: '""', checksums: {} };
    const intent: IndexOp = { op: 'intent', bucket, incarnation: createdMs, key: 'gone-later', id: marker.versionId, expiresMs: Date.now() + 60_000 };
    await Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([intent])));
    await Promise.all(cluster.nodes.map((node) => node.parts.store.commit({ record: marker, shardIndex: null })));
    t.same(await keysOf(s3, bucket), ['stays:4'], 'the committed delete shows, though the index never heard of it');
  });

  t.test('an intent past its deadline is settled by the listing that reads the key', async (t) => {
    const { s3, bucket } = await bucketOn(cluster);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'abc' }));
    await settled(cluster, bucket);
    const { replicas, createdMs } = await replicasOf(cluster, bucket);
    const stale: IndexOp = { op: 'intent', bucket, incarnation: createdMs, key: 'k', id: formatVersionId(Date.now(), 0, 'deadbeef'), expiresMs: Date.now() - 1 };
    await Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([stale])));
    t.same(await keysOf(s3, bucket), ['k:3'], 'listed from the key\'s nodes meanwhile');
    await settled(cluster, bucket);
    t.pass('the listing settled the expired intent on every replica');
    t.same(await keysOf(s3, bucket), ['k:3']);
  });

  t.test('a delete by id whose settle was lost stays deleted once a listing has settled its expired intent', async (t) => {
    const { s3, bucket, newer, replicas, createdMs } = await twoVersionsOfK(cluster);
    // The delete reached the key's nodes; its intent stands (expired), its settle never came.
    const stale: IndexOp = { op: 'intent', bucket, incarnation: createdMs, key: 'k', id: formatVersionId(Date.now(), 0, 'deadbeef'), expiresMs: Date.now() - 1 };
    await Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([stale])));
    await Promise.all(cluster.nodes.map((node) => node.parts.store.deleteVersion(bucket, 'k', newer.VersionId as string)));
    t.same(await keysOf(s3, bucket), ['k:3'], 'read from the key\'s nodes: the older version');
    await settled(cluster, bucket);
    t.same(await keysOf(s3, bucket), ['k:3'], 'settled: the index itself no longer names the deleted version');
  });

  t.test('a replica that missed a delete by id is outvoted whichever replicas a listing reads', async (t) => {
    const { s3, bucket, newer, replicas, createdMs } = await twoVersionsOfK(cluster);
    // The delete by id reached the key's nodes and every index replica but one.
    const deleted = newer.VersionId as string;
    await Promise.all(cluster.nodes.map((node) => node.parts.store.deleteVersion(bucket, 'k', deleted)));
    const gone: IndexOp = { op: 'settle', bucket, incarnation: createdMs, key: 'k', gone: deleted };
    await Promise.all(replicas.slice(1).map((node) => node.parts.store.indexRows.apply([gone])));
    const stale = await (replicas[0] as Node).parts.store.indexRows.list({ bucket, incarnation: createdMs, prefix: '', after: '', afterIsPrefix: false, limit: 10 });
    t.equal(stale.rows[0]?.entry?.versionId, deleted, 'one replica still names the deleted version as newest');
    for (let i = 0; i < 12; i += 1) t.same(await keysOf(s3, bucket), ['k:3'], `listing ${i + 1}: the older version`);
  });

  t.test('keys whose writes are all in flight are checked on their own nodes ahead of the page, and listed in order', async (t) => {
    const { s3, bucket } = await bucketOn(cluster);
    const written = [...Array.from({ length: 10 }, (_, i) => `p/${String(i).padStart(2, '0')}`), ...Array.from({ length: 20 }, (_, i) => `q${String(i).padStart(2, '0')}`)];
    for (const key of written) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    await settled(cluster, bucket);
    const { replicas, createdMs } = await replicasOf(cluster, bucket);
    // Every key has a write in flight; every third one's write, a delete, committed without a settle.
    const deleted = new Set(written.filter((_, i) => i % 3 === 0));
    for (const key of written) {
      const live = await currentRecord(cluster, bucket, key);
      const { physicalMs, logical, writerId } = parseVersionId(live.versionId);
      const versionId = formatVersionId(physicalMs + 1, logical, writerId);
      const intent: IndexOp = { op: 'intent', bucket, incarnation: createdMs, key, id: versionId, expiresMs: Date.now() + 60_000 };
      await Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([intent])));
      if (!deleted.has(key)) continue;
      const marker: ObjectRecord = { ...live, versionId, deleted: true, sizeBytes: 0, etag: '""', checksums: {} };
      await Promise.all(cluster.nodes.map((node) => node.parts.store.commit({ record: marker, shardIndex: null })));
    }
    const expected = written.filter((key) => !deleted.has(key)).map((key) => `${key}:${key.length}`);
    t.same(await keysOf(s3, bucket), expected, 'every live key once, in order, across pages of seven');
    const rolled = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 5 }));
    t.same(
      [...(rolled.CommonPrefixes ?? []).map((p) => p.Prefix), ...(rolled.Contents ?? []).map((object) => object.Key)],
      ['p/', 'q00', 'q01', 'q03', 'q04'],
      'a key under a prefix that its own nodes say is live rolls up; the keys read ahead under it are not listed again',
    );
  });

  t.test('a null version deleted by id brings back none of the null versions it replaced, even from rows a late settle left', async (t) => {
    const { s3, bucket } = await bucketOn(cluster);
    const { replicas, createdMs } = await replicasOf(cluster, bucket);
    // A settle of `record` reaching every replica after the write that replaced it.
    const lateSettle = (record: ObjectRecord): Promise<unknown> =>
      Promise.all(replicas.map((node) => node.parts.store.indexRows.apply([{ op: 'settle', bucket, incarnation: createdMs, key: record.key, entry: indexEntryOf(record) }])));

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'a' }));
    const replaced = await currentRecord(cluster, bucket, 'plain');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'bb' }));
    await settled(cluster, bucket);
    await lateSettle(replaced);
    t.same(await keysOf(s3, bucket), ['plain:2'], 'the newest version is listed');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'plain', VersionId: 'null' }));
    await settled(cluster, bucket);
    t.same(await keysOf(s3, bucket), [], 'deleted, without versioning ever enabled: nothing is listed');

    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mixed', Body: 'enabled' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mixed', Body: 'n' }));
    const replacedNull = await currentRecord(cluster, bucket, 'mixed');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mixed', Body: 'nn' }));
    await settled(cluster, bucket);
    await lateSettle(replacedNull);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'mixed', VersionId: 'null' }));
    await settled(cluster, bucket);
    t.same(await keysOf(s3, bucket), ['mixed:7'], 'suspended: the version written under versioning is the newest again, not the replaced null version');
  });

  t.test('a stopped replica is replaced by another of the shard\'s set', async (t) => {
    const { s3, bucket } = await bucketOn(cluster);
    const written = Array.from({ length: 30 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    for (const key of written) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'r' }));
    await settled(cluster, bucket);
    await cluster.stopNode(5);
    for (let i = 0; i < 6; i += 1) t.same(await keysOf(s3, bucket), written.map((key) => `${key}:1`), `listing ${i + 1} is whole`);
  });

  t.test('a settle the stopped replica could not take is counted on /metrics', async (t) => {
    const { s3, bucket } = await bucketOn(cluster);
    const dropped = async (): Promise<number> => (await cluster.gateway.metrics.registry.getSingleMetric('tessera_gateway_index_settles_dropped_total')?.get())?.values[0]?.value ?? 0;
    const before = await dropped();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'while-one-is-down', Body: 'x' }));
    await until('the undelivered settle is counted', async () => (await dropped()) > before, 10_000);
    t.same(await keysOf(s3, bucket), ['while-one-is-down:1'], 'and the key is listed: its intent stands on the stopped replica only');
  });
});

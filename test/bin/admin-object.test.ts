import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { inspectObject, type ObjectReport } from '../../src/bin/admin-object.js';
import { NodeClient } from '../../src/rpc/index.js';
import { SHARD_HEADER_BYTES } from '../../src/storage-node/index.js';
import { bucketName, seededBytes } from '../helpers/bytes.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';

const SECRET = 'test-cluster-secret';

function targetOf(cluster: TestCluster): { nodes: { id: string; address: string }[]; clusterSecret: string } {
  return { nodes: cluster.config.nodes.map((n) => ({ id: n.id, address: n.address })), clusterSecret: SECRET };
}

/** Waits until every node holds the gateway's ring (the gateway offers it in the background). */
async function ringsHeld(cluster: TestCluster): Promise<void> {
  for (const node of cluster.config.nodes) {
    const client = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: SECRET, connections: 1 });
    try {
      while ((await client.fetchRing()) === null) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await client.close();
    }
  }
}

t.test('admin object: every shard healthy, then a rotten shard and a lost node show, with what each loss would mean', async (t) => {
  const cluster = await startCluster({ blockSizeBytes: 64 * 1024 });
  t.teardown(() => cluster.close());
  await ringsHeld(cluster);
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const body = seededBytes(700_000, 5);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'photo.jpg', Body: body }));

  const healthy = await inspectObject(targetOf(cluster), bucket, 'photo.jpg');
  t.equal(healthy.sizeBytes, body.length);
  t.equal(healthy.healthyShards, 6);
  t.same(healthy.shards.map((s) => s.state), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  t.same(healthy.shards.map((s) => s.ifLost), [...Array(4).fill('read rebuilds from parity'), 'no effect', 'no effect'], 'data shards cost a reconstruction, parity none');
  t.equal(new Set(healthy.shards.map((s) => s.nodeId)).size, 6, 'six distinct nodes');
  t.ok((healthy.shards[0]?.sizeBytes ?? 0) > 0);

  // Rot shard 0's file on its node.
  const holder = healthy.shards[0]?.nodeId ?? '';
  const shardRoot = join(cluster.dataDir, holder, 'shards');
  for (const dir of await readdir(shardRoot)) {
    for (const name of await readdir(join(shardRoot, dir))) {
      const path = join(shardRoot, dir, name);
      const bytes = await readFile(path);
      bytes[SHARD_HEADER_BYTES + 10] = (bytes[SHARD_HEADER_BYTES + 10] ?? 0) ^ 0xff;
      await writeFile(path, bytes);
    }
  }
  // And lose the node of shard 5.
  const lost = Number(healthy.shards[5]?.nodeId.replace('node-', ''));
  await cluster.stopNode(lost);

  const hurt = await inspectObject(targetOf(cluster), bucket, 'photo.jpg', { timeoutMs: 3_000 });
  t.equal(hurt.shards[0]?.state, 'corrupt', 'the rotten shard fails its checksum');
  t.equal(hurt.shards[5]?.state, 'unreachable', 'the stopped node does not answer');
  t.equal(hurt.healthyShards, 4);
  t.same(hurt.shards.slice(1, 5).map((s) => s.ifLost), ['unreadable', 'unreadable', 'unreadable', 'unreadable'], 'with 4 of 6 left, any further loss is fatal');
});

t.test('tessera admin object --json reads the embedded cluster files and prints the report', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  await ringsHeld(cluster);
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Body: 'hello' }));
  const dir = await mkdtemp(join(tmpdir(), 'tessera-admin-object-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ nodes: targetOf(cluster).nodes }));
  await writeFile(join(dir, 'cluster-secret'), `${SECRET}\n`);
  let out = '';
  let err = '';
  const io = { stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s) };
  const code = await runAdminCli(['object', bucket, 'a/b.txt', '--data', dir, '--json'], {}, io);
  t.equal(code, 0, err);
  const report = JSON.parse(out) as ObjectReport;
  t.equal(report.sizeBytes, 5);
  t.equal(report.healthyShards, 6);
  out = '';
  t.equal(await runAdminCli(['object', bucket, 'a/b.txt', '--data', dir], {}, io), 0);
  t.match(out, /6 of 6 shards healthy/);
  t.match(out, /node-\d+\s+ok/);
  out = '';
  t.equal(await runAdminCli(['object', bucket, 'nothing-here', '--data', dir], {}, io), 1, 'an unknown key exits 1');
  t.equal(await runAdminCli(['object', bucket], {}, io), 2, 'a missing KEY is a usage error');
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { formatObjectReport, inspectObject, type ObjectReport } from '../../src/bin/admin-object.js';
import { NodeClient, UPLOADS_BUCKET } from '../../src/rpc/index.js';
import { bucketName, seededBytes } from '../helpers/bytes.js';
import { startCluster, TEST_CREDENTIALS, type TestCluster } from '../helpers/cluster.js';
import { rotShardImage, shardImagesOf } from '../helpers/shard-images.js';

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

// One cluster for every case (64 KiB blocks so a few hundred KB make several stripes; parts from
// 100 KB), each case in a bucket of its own. The case that rots a shard and stops a node runs last.
const cluster = await startCluster({ blockSizeBytes: 64 * 1024, gatewayOverrides: { minPartSizeBytes: 100_000 } });
t.teardown(() => cluster.close());
await ringsHeld(cluster);

/** The shard images on `nodeId`'s disk of `key`'s version `versionId` in `bucket` (named by its data id). */
async function imagesOf(nodeId: string, bucket: string, key: string, versionId: string): Promise<Awaited<ReturnType<typeof shardImagesOf>>> {
  const node = cluster.config.nodes.find((n) => n.id === nodeId);
  if (node === undefined) throw new Error(`no node ${nodeId}`);
  const nodeClient = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: SECRET, connections: 1 });
  const stored = await nodeClient.versionStatus(bucket, key, versionId).finally(() => nodeClient.close());
  return shardImagesOf(join(cluster.dataDir, nodeId), stored?.record.dataId ?? versionId);
}

t.test('tessera admin object --json reads the embedded cluster files and prints the report', async (t) => {
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Body: 'hello' }));
  const dir = await mkdtemp(join(tmpdir(), 'tessera-admin-object-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ nodes: targetOf(cluster).nodes }));
  await writeFile(join(dir, 'cluster-secret'), `${SECRET}\n`, { mode: 0o600 });
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

t.test('admin object checks a multipart object part by part: each part\'s stripes and every shard on every node', async (t) => {
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const sizes = [600_000, 300_000, 1_000];
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'model.bin' }));
  const parts = [];
  for (const [i, size] of sizes.entries()) {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'model.bin', UploadId, PartNumber: i + 1, Body: seededBytes(size, i) }));
    parts.push({ PartNumber: i + 1, ETag: ETag as string });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'model.bin', UploadId, MultipartUpload: { Parts: parts } }));

  const healthy = await inspectObject(targetOf(cluster), bucket, 'model.bin');
  t.equal(healthy.parts, 3);
  t.same(
    healthy.partReports.map((p) => ({ n: p.partNumber, size: p.sizeBytes, stripes: p.stripes, shardBytes: p.expectedShardBytes, healthy: p.healthyShards })),
    [
      // 4 data shards × 64 KiB blocks: 256 KiB stripes.
      { n: 1, size: 600_000, stripes: 3, shardBytes: 2 * 65_536 + Math.ceil((600_000 - 2 * 262_144) / 4), healthy: 6 },
      { n: 2, size: 300_000, stripes: 2, shardBytes: 65_536 + Math.ceil((300_000 - 262_144) / 4), healthy: 6 },
      { n: 3, size: 1_000, stripes: 1, shardBytes: 250, healthy: 6 },
    ],
  );
  t.equal(healthy.weakestPartHealthyShards, 6);
  // Each node holds one shard of every part: its loss costs a reconstruction of the parts where that shard holds data.
  t.same(
    healthy.partLossByNode.map((loss) => [loss.nodeId, loss.ifLost, loss.parts]),
    [...new Set(healthy.partReports.flatMap((p) => p.shards.map((s) => s.nodeId)))].sort().map((nodeId) => {
      const parts = healthy.partReports.filter((p) => (p.shards.find((s) => s.nodeId === nodeId)?.shardIndex ?? 99) < 4).map((p) => p.partNumber);
      return [nodeId, parts.length === 0 ? 'no effect' : 'read rebuilds from parity', parts];
    }),
    'what losing each node means for the whole object',
  );
  for (const part of healthy.partReports) {
    t.same(part.shards.map((s) => s.state), Array(6).fill('ok'), `part ${part.partNumber}: every shard read back through its checksums`);
    t.same(part.shards.map((s) => s.sizeBytes), Array(6).fill(part.expectedShardBytes), `part ${part.partNumber}: every shard the size of the layout`);
    t.equal(new Set(part.shards.map((s) => s.nodeId)).size, 6, `part ${part.partNumber}: six distinct nodes`);
  }

  // Rot shard 1 of part 2 on its node: only that part's shard shows it.
  const part2 = healthy.partReports[1];
  const rotten = part2?.shards[1];
  if (part2 === undefined || rotten === undefined) throw new Error('no part 2');
  // A shard file is named by the id its data was written under (the record's dataId when it differs).
  const images = await imagesOf(rotten.nodeId, UPLOADS_BUCKET, part2.key, part2.versionId);
  t.equal(images.length, 1, 'the part\'s shard is on its node\'s disk once');
  for (const image of images) await rotShardImage(image);

  // The first read of the rotten shard finds it; the node then quarantines and repairs it, so this one report is checked.
  const hurt = await inspectObject(targetOf(cluster), bucket, 'model.bin');
  t.same(hurt.partReports[1]?.shards.map((s) => s.state), ['ok', 'corrupt', 'ok', 'ok', 'ok', 'ok']);
  t.same(hurt.partReports.map((p) => p.healthyShards), [6, 5, 6]);
  t.equal(hurt.weakestPartHealthyShards, 5);
  const text = formatObjectReport(hurt);
  t.match(text, /3 parts checked shard by shard; weakest part 2 has 5 of 6 shards healthy — below full redundancy/);
  t.match(text, new RegExp(`part 2: .*5 of 6 shards healthy — below full redundancy\\n.*\\n.*\\n\\s+1\\s+${rotten.nodeId}\\s+corrupt`));
});

t.test('tessera admin object prints a multipart object part by part, in text and --json', async (t) => {
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'model.bin' }));
  const parts = [];
  for (const [i, size] of [600_000, 1_000].entries()) {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'model.bin', UploadId, PartNumber: i + 1, Body: seededBytes(size, i) }));
    parts.push({ PartNumber: i + 1, ETag: ETag as string });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'model.bin', UploadId, MultipartUpload: { Parts: parts } }));
  const dir = await mkdtemp(join(tmpdir(), 'tessera-admin-object-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ nodes: targetOf(cluster).nodes }));
  await writeFile(join(dir, 'cluster-secret'), `${SECRET}\n`, { mode: 0o600 });
  let out = '';
  let err = '';
  const io = { stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s) };
  t.equal(await runAdminCli(['object', bucket, 'model.bin', '--data', dir], {}, io), 0, err);
  t.match(out, /multipart: 2 parts/);
  t.match(out, /2 parts checked shard by shard; weakest part \d has 6 of 6 shards healthy\n/);
  t.match(out, /if this node is lost \(over all parts\)\n\s+node-0\s+(no effect|read rebuilds from parity)/);
  t.match(out, /part 1: 600000 bytes, 3 stripes of 4\+2, 150000 bytes per shard, partition \d+, 6 of 6 shards healthy\n\s+shard\s+node/);
  t.match(out, /part 2: 1000 bytes, 1 stripe of 4\+2, 250 bytes per shard/);
  out = '';
  t.equal(await runAdminCli(['object', bucket, 'model.bin', '--data', dir, '--json'], {}, io), 0, err);
  const report = JSON.parse(out) as ObjectReport;
  t.same(report.partReports.map((p) => [p.partNumber, p.stripes, p.expectedShardBytes, p.healthyShards, p.shards.length]), [
    [1, 3, 150_000, 6, 6],
    [2, 1, 250, 6, 6],
  ]);
  t.equal(report.partLossByNode.length, 6);
  t.ok(report.partReports.every((p) => p.shards.every((s) => s.state === 'ok' && s.sizeBytes === p.expectedShardBytes)), 'every shard ok and of its layout size');

  // Through a gateway's admin API: the same report, part by part, plus the record's S3 fields.
  const adminEnv = { AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey };
  out = '';
  t.equal(await runAdminCli(['object', bucket, 'model.bin', '--endpoint', cluster.endpoint, '--json'], adminEnv, io), 0, err);
  const viaApi = JSON.parse(out) as ObjectReport & { found: boolean; etag: string; s3VersionId: string };
  const { ageSeconds: _apiAge, found, etag, s3VersionId, requestedVersionId, contentType, lastModifiedMs, ...apiReport } = viaApi as typeof viaApi & Record<string, unknown>;
  const { ageSeconds: _nodeAge, ...nodeReport } = report;
  t.same(apiReport, nodeReport, 'the admin API answers the report the nodes give, every part included');
  t.same({ found, requestedVersionId, contentType }, { found: true, requestedVersionId: null, contentType: 'binary/octet-stream' });
  t.match(etag, /-2"$/, 'a multipart ETag');
  t.equal(s3VersionId, 'null');
  t.type(lastModifiedMs, 'number');
  out = '';
  t.equal(await runAdminCli(['object', bucket, 'model.bin', '--endpoint', cluster.endpoint], adminEnv, io), 0, err);
  t.match(out, /part 1: 600000 bytes, 3 stripes of 4\+2, 150000 bytes per shard, partition \d+, 6 of 6 shards healthy\n\s+shard\s+node/);
  out = '';
  t.equal(await runAdminCli(['object', bucket, 'nothing-here', '--endpoint', cluster.endpoint], adminEnv, io), 1, 'an unknown key exits 1 through the API too');
  t.equal(await runAdminCli(['object', bucket, 'model.bin', '--endpoint', cluster.endpoint, '--data', dir], adminEnv, io), 1, '--endpoint and --data together are refused');
});

t.test('admin object --version inspects a noncurrent version, not the newest', async (t) => {
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: seededBytes(50_000, 1) }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'newer' }));
  const old = await inspectObject(targetOf(cluster), bucket, 'k', { versionId: first.VersionId });
  t.equal(old.versionId, first.VersionId);
  t.equal(old.sizeBytes, 50_000);
  t.same(old.shards.map((s) => [s.state, s.versionId]), Array(6).fill(['ok', first.VersionId]));
  const current = await inspectObject(targetOf(cluster), bucket, 'k');
  t.equal(current.sizeBytes, 5);
});

t.test('admin object: every shard healthy, then a rotten shard and a lost node show, with what each loss would mean', async (t) => {
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

  // Rot shard 0 on its node (its file or its segment image).
  const holder = healthy.shards[0]?.nodeId ?? '';
  const images = await imagesOf(holder, bucket, 'photo.jpg', healthy.versionId ?? '');
  t.equal(images.length, 1, 'shard 0 is on its node\'s disk once');
  for (const image of images) await rotShardImage(image);
  // And lose the node of shard 5.
  const lost = Number(healthy.shards[5]?.nodeId.replace('node-', ''));
  await cluster.stopNode(lost);

  const hurt = await inspectObject(targetOf(cluster), bucket, 'photo.jpg', { timeoutMs: 3_000 });
  t.equal(hurt.shards[0]?.state, 'corrupt', 'the rotten shard fails its checksum');
  t.equal(hurt.shards[5]?.state, 'unreachable', 'the stopped node does not answer');
  t.equal(hurt.healthyShards, 4);
  t.same(hurt.shards.slice(1, 5).map((s) => s.ifLost), ['unreadable', 'unreadable', 'unreadable', 'unreadable'], 'with 4 of 6 left, any further loss is fatal');
});

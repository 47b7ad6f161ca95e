import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { buildRing, serializeRing, type RingNode } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { TEST_CREDENTIALS } from '../helpers/cluster.js';

const SECRET = 'ring-reload-secret';
const dir = await mkdtemp(join(tmpdir(), 'tessera-ring-'));
const nodes: StorageNode[] = [];
const members: RingNode[] = [];
for (let i = 0; i < 7; i += 1) {
  const node = new StorageNode({ nodeId: `n${i}`, dataDir: join(dir, `n${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
  const { port } = await node.start();
  nodes.push(node);
  members.push({ id: `n${i}`, address: `127.0.0.1:${port}`, zone: `z${i % 3}`, weight: 1 });
}
const ringFile = join(dir, 'ring.json');
const first = buildRing(null, members.slice(0, 6), { replicas: 6, partitionBits: 6, seed: 0 });
await writeFile(ringFile, serializeRing(first));
const config = parseGatewayConfig({ listen: '127.0.0.1:0', credentials: [{ ...TEST_CREDENTIALS }], clusterSecret: SECRET, ringFile });
const gateway = new Gateway({ config, logger: silentLogger() });
const { port } = await gateway.start();
const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { ...TEST_CREDENTIALS } });
t.teardown(async () => {
  s3.destroy();
  await gateway.close();
  for (const node of nodes) await node.close();
  await rm(dir, { recursive: true, force: true });
});

t.test('a gateway started from a ring file adopts a newer epoch written to it, and ignores older or broken ones', async (t) => {
  t.equal(gateway.ring.epoch, 1);
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const second = buildRing(first, members, { replicas: 6, partitionBits: 6, seed: 0 });
  await writeFile(ringFile, serializeRing(second));
  t.equal(await gateway.reloadRing(), true, 'epoch 2 adopted');
  t.equal(gateway.ring.epoch, 2);
  t.ok(gateway.ring.nodes.some((n) => n.id === 'n6'), 'the seventh node is in the ring');
  const body = seededBytes(200_000, 5);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'after', Body: body }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'after' }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), 'writes and reads use the new ring');
  await writeFile(ringFile, serializeRing(first));
  t.equal(await gateway.reloadRing(), false, 'an older epoch is ignored');
  await writeFile(ringFile, '{ "version": 1, "epoch": 9 ');
  t.equal(await gateway.reloadRing(), false, 'a broken file is ignored');
  t.equal(gateway.ring.epoch, 2, 'the current ring is kept');
});

t.test('a node keeps the newest ring it is offered, across restarts, and refuses invalid ones', async (t) => {
  const member = members[0] as RingNode;
  const client = new NodeClient({ nodeId: member.id, address: member.address, clusterSecret: SECRET });
  t.teardown(() => client.close());
  const second = buildRing(first, members, { replicas: 6, partitionBits: 6, seed: 0 });
  const third = buildRing(second, members.slice(1), { replicas: 6, partitionBits: 6, seed: 0 });
  t.same(await client.offerRing(JSON.parse(serializeRing(third))), { adopted: true, epoch: 3 });
  t.same(await client.offerRing(JSON.parse(serializeRing(second))), { adopted: false, epoch: 3 }, 'an older epoch is not adopted');
  await t.rejects(client.offerRing({ version: 1, epoch: 5 }), { code: 'BadRequest' });
  t.equal((await client.health()).ringEpoch, 3);
  await nodes[0]?.close();
  const restarted = new StorageNode({ nodeId: 'n0', dataDir: join(dir, 'n0'), host: '127.0.0.1', port: Number(member.address.split(':')[1]), clusterSecret: SECRET, logger: silentLogger() });
  await restarted.start();
  nodes[0] = restarted;
  t.equal(((await client.fetchRing()) as { epoch: number }).epoch, 3, 'the ring survived a restart');
});

t.test('a gateway hands its ring to the nodes it names, so they can resolve and repair on their own', async (t) => {
  const client = new NodeClient({ nodeId: 'n3', address: (members[3] as RingNode).address, clusterSecret: SECRET });
  t.teardown(() => client.close());
  // The first subtest moved the gateway to epoch 2; every node of that ring is offered it.
  // The offer is sent in the background: poll against a deadline.
  const deadline = Date.now() + 10_000;
  let epoch = 0;
  while (epoch < 2 && Date.now() < deadline) {
    epoch = (await client.health()).ringEpoch;
    if (epoch < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.ok(epoch >= 2, 'node n3 holds the gateway’s ring');
});

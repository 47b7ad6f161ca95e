import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { RingLocator, buildRing, serializeRing, type Ring, type RingNode } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { TEST_CREDENTIALS, localS3Client } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';

/**
 * A gateway that did not see a ring change itself (started during the rebalance that follows it, or
 * skipping an epoch) learns from the nodes the ring the current one replaced, and reads what the
 * rebalance has not moved yet. The nodes do not heal here, so nothing moves: an object written under
 * the old ring stays only on its old set, which shares no node with its new one.
 */

const SECRET = 'ring-previous-secret';
const OPTIONS = { replicas: 6, partitionBits: 4, seed: 7 };
const dir = await mkdtemp(join(tmpdir(), 'tessera-ring-previous-'));
const nodes: StorageNode[] = [];
const members: RingNode[] = [];
for (let i = 0; i < 12; i += 1) {
  const node = new StorageNode({ nodeId: `n${i}`, dataDir: join(dir, `n${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), healing: false });
  const { port } = await node.start();
  nodes.push(node);
  members.push({ id: `n${i}`, address: `127.0.0.1:${port}`, zone: 'z', weight: 1 });
}
const oldNodes = new Set(members.slice(0, 6).map((m) => m.id));
const addedNodes = new Set(members.slice(6).map((m) => m.id));
// Epoch 1 on six nodes; epoch 2 adds six more, so half the partitions move to a set wholly new;
// epoch 3 removes the six added, so every partition moves back to the first six.
const ring1 = buildRing(null, members.slice(0, 6), OPTIONS);
const ring2 = buildRing(ring1, members, OPTIONS);
const ring3 = buildRing(ring2, members.slice(0, 6), OPTIONS);

const clients = members.map((m) => new NodeClient({ nodeId: m.id, address: m.address, clusterSecret: SECRET }));
const gateways: Gateway[] = [];
const s3Clients: S3Client[] = [];
t.teardown(async () => {
  for (const client of s3Clients) client.destroy();
  for (const gateway of gateways) await gateway.close();
  for (const client of clients) await client.close();
  for (const node of nodes) await node.close();
  await rm(dir, { recursive: true, force: true });
});

/** Offers `ring` to the nodes at `indexes`, as `tessera ring push` does. */
async function offer(ring: Ring, indexes: readonly number[]): Promise<void> {
  for (const i of indexes) await clients[i]?.offerRing(JSON.parse(serializeRing(ring)));
}

/** Starts a gateway with `source` as its ring source; a client of it that does not retry. */
async function startGateway(source: { ringFile: string } | { seeds: string[] }): Promise<{ gateway: Gateway; s3: S3Client }> {
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ ...TEST_CREDENTIALS }],
    clusterSecret: SECRET,
    erasure: { dataShards: 4, parityShards: 2 },
    metadataTimeoutMs: 5_000,
    stallTimeoutMs: 5_000,
    ...source,
  });
  const gateway = new Gateway({ config, logger: silentLogger() });
  gateways.push(gateway);
  await gateway.start();
  const s3 = localS3Client(`http://127.0.0.1:${gateway.address.port}`, TEST_CREDENTIALS, { maxAttempts: 1 });
  s3Clients.push(s3);
  return { gateway, s3 };
}

/** A ring file holding `ring`. */
async function ringFile(name: string, ring: Ring): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, serializeRing(ring));
  return path;
}

/** A key of `bucket` whose set under `ring` lies wholly within `allowed`. */
function keyOnly(ring: Ring, bucket: string, prefix: string, allowed: ReadonlySet<string>): string {
  const locator = new RingLocator(ring);
  for (let i = 0; ; i += 1) {
    const key = `${prefix}-${i}`;
    if (locator.locate(bucket, key).nodes.every((node) => allowed.has(node.id))) return key;
  }
}

async function readBack(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

// Before the change: the nodes of epoch 1 hold it, and a gateway following a ring file writes under it.
await offer(ring1, [0, 1, 2, 3, 4, 5]);
const firstFile = await ringFile('first-gateway-ring.json', ring1);
const first = await startGateway({ ringFile: firstFile });
const bucket = bucketName();
await first.s3.send(new CreateBucketCommand({ Bucket: bucket }));
const moved = keyOnly(ring2, bucket, 'moved', addedNodes);
const movedBody = seededBytes(300_000, 1);
await first.s3.send(new PutObjectCommand({ Bucket: bucket, Key: moved, Body: movedBody }));
// The change: every node takes epoch 2; nothing is moved yet.
await offer(ring2, members.map((_, i) => i));

t.test('a gateway started from seeds after a ring change reads an object the rebalance has not moved yet', async (t) => {
  const { gateway, s3 } = await startGateway({ seeds: [members[7]?.address ?? ''] });
  t.equal(gateway.ring.epoch, 2);
  t.equal(gateway.previousRing?.epoch, 1, 'the nodes handed over the ring epoch 2 replaced');
  t.ok((await readBack(s3, bucket, moved)).equals(movedBody), 'the object written under epoch 1 reads back from its old set');
});

t.test('a gateway started from a ring file after a ring change reads an object the rebalance has not moved yet', async (t) => {
  const { gateway, s3 } = await startGateway({ ringFile: await ringFile('second-gateway-ring.json', ring2) });
  t.equal(gateway.previousRing?.epoch, 1, 'the nodes handed over the ring epoch 2 replaced');
  t.ok((await readBack(s3, bucket, moved)).equals(movedBody), 'the object written under epoch 1 reads back from its old set');
});

t.test('a gateway that skips an epoch reads from the ring its new one replaced, not from its own old ring', async (t) => {
  // Another gateway writes under epoch 2 to a set of the added nodes, which epoch 3 removes again.
  const writer = await startGateway({ ringFile: await ringFile('writer-ring.json', ring2) });
  const key = keyOnly(ring2, bucket, 'skipped', addedNodes);
  const body = seededBytes(250_000, 2);
  await writer.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  // The first gateway, still on epoch 1, finds epoch 3 in its file: the nodes have not seen it yet,
  // and the gateway hands it to them as it adopts it.
  await writeFile(firstFile, serializeRing(ring3));
  await first.gateway.reloadRing();
  await until('the first gateway holds epoch 3 and the ring it replaced', async () => first.gateway.ring.epoch === 3 && first.gateway.previousRing !== undefined && first.gateway.previousRing.epoch !== 1, 10_000, 20);
  t.equal(first.gateway.previousRing?.epoch, 2, 'the previous ring is epoch 2, which placed the object, not epoch 1');
  t.ok(new RingLocator(ring3).locate(bucket, key).nodes.every((node) => oldNodes.has(node.id)), 'epoch 3 places the object on none of the nodes that hold it');
  t.ok((await readBack(first.s3, bucket, key)).equals(body), 'the object written under epoch 2 reads back through the gateway that skipped it');
});

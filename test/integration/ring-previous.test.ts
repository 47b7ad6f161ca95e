import { writeFile } from 'node:fs/promises';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RingLocator, serializeRing } from '../../src/placement/index.js';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { RingChangeCluster } from '../helpers/ring-change.js';
import { until } from '../helpers/until.js';

/**
 * A gateway that did not see a ring change itself (started during the rebalance that follows it, or
 * skipping an epoch) learns from the nodes the ring the current one replaced, and reads what the
 * rebalance has not moved yet. The nodes do not heal here, so nothing moves: an object written under
 * the old ring stays only on its old set, which shares no node with its new one.
 */

// Epoch 1 on six nodes; epoch 2 adds six more, so half the partitions move to a set wholly new;
// epoch 3 removes the six added, so every partition moves back to the first six.
const cluster = await RingChangeCluster.start(t);
const { members, ring1, ring2, ring3 } = cluster;
const oldNodes = new Set(ring1.nodes.map((m) => m.id));

async function readBack(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

// Before the change: the nodes of epoch 1 hold it, and a gateway following a ring file writes under it.
const firstFile = await cluster.ringFile('first-gateway-ring.json', ring1);
const first = await cluster.gateway({ ringFile: firstFile });
const bucket = bucketName();
await first.s3.send(new CreateBucketCommand({ Bucket: bucket }));
const moved = cluster.keyWithShared(bucket, 'moved-', 0);
const movedBody = seededBytes(300_000, 1);
await first.s3.send(new PutObjectCommand({ Bucket: bucket, Key: moved, Body: movedBody }));
// The change: every node takes epoch 2; nothing is moved yet.
await cluster.changeRing([]);

t.test('a gateway started from seeds after a ring change reads an object the rebalance has not moved yet', async (t) => {
  const { gateway, s3 } = await cluster.gateway({ seeds: [members[7]?.address ?? ''] });
  t.equal(gateway.ring.epoch, 2);
  t.equal(gateway.previousRing?.epoch, 1, 'the nodes handed over the ring epoch 2 replaced');
  t.ok((await readBack(s3, bucket, moved)).equals(movedBody), 'the object written under epoch 1 reads back from its old set');
});

t.test('a gateway started from a ring file after a ring change reads an object the rebalance has not moved yet', async (t) => {
  const { gateway, s3 } = await cluster.gateway({ ringFile: await cluster.ringFile('second-gateway-ring.json', ring2) });
  t.equal(gateway.previousRing?.epoch, 1, 'the nodes handed over the ring epoch 2 replaced');
  t.ok((await readBack(s3, bucket, moved)).equals(movedBody), 'the object written under epoch 1 reads back from its old set');
});

t.test('a gateway that skips an epoch reads from the ring its new one replaced, not from its own old ring', async (t) => {
  // Another gateway writes under epoch 2 to a set of the added nodes, which epoch 3 removes again.
  const writer = await cluster.gateway({ ringFile: await cluster.ringFile('writer-ring.json', ring2) });
  const key = cluster.keyWithShared(bucket, 'skipped-', 0);
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

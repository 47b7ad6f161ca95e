import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import type { NodeWorkStatus } from '../../src/rpc/index.js';
import { HealingFleet, type HealingSlot } from './healing-fleet.js';
import { ObjectSet } from './object-set.js';
import { REBALANCE_NODE_ENV as NODE_ENV, rebalanceOf, rebalanced, strays } from './rebalance-checks.js';

/**
 * Grow and shrink a cluster of real `tessera node` processes while clients keep writing and reading
 * through a `tessera gateway`: a 7th node joins under a new ring epoch, rebalance moves its share to
 * it; then a node leaves under another epoch and rebalance empties it. No client request may fail,
 * every object must read back byte-identical, and at the end every shard must sit exactly where the
 * final ring says (and nowhere else).
 */

/** Clients writing new keys, overwriting and reading back their own keys until stopped; every failure is kept. */
class Traffic {
  readonly failures: string[] = [];
  requests = 0;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(s3: S3Client, objects: ObjectSet, lanes: number) {
    this.loops = Array.from({ length: lanes }, (_, lane) => this.loop(s3, objects, `live-${lane}`));
  }

  private async loop(s3: S3Client, objects: ObjectSet, prefix: string): Promise<void> {
    const mine: string[] = [];
    for (let i = 0; this.running; i += 1) {
      const overwrite = mine.length > 0 && i % 4 === 3;
      const key = overwrite ? (mine[i % mine.length] as string) : `${prefix}/${i}`;
      const body = randomBytes([200, 20_000, 150_000, 400_000][i % 4] as number);
      await this.request(`PUT ${key}`, async () => {
        await s3.send(new PutObjectCommand({ Bucket: objects.bucket, Key: key, Body: body }));
        objects.bodies.set(key, body);
        if (!overwrite) mine.push(key);
      });
      const readKey = mine[Math.floor(Math.random() * mine.length)];
      if (readKey === undefined) continue;
      await this.request(`GET ${readKey}`, async () => {
        const answer = await s3.send(new GetObjectCommand({ Bucket: objects.bucket, Key: readKey }));
        const bytes = Buffer.from(await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
        if (!bytes.equals(objects.bodies.get(readKey) as Buffer)) throw new Error('bytes differ');
      });
    }
  }

  private async request(what: string, run: () => Promise<void>): Promise<void> {
    this.requests += 1;
    try {
      await run();
    } catch (err) {
      this.failures.push(`${what}: ${(err as Error).name}: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

t.test('a node joins and another leaves under client traffic: no request fails, nothing is lost, shards end where the ring says', async (t) => {
  const fleet = await HealingFleet.create(7);
  t.teardown(async () => {
    if (!t.passing()) t.comment(fleet.describe());
    await fleet.destroy();
  });
  const original = fleet.slots.slice(0, 6);
  await Promise.all(original.map((slot) => fleet.startNode(slot, NODE_ENV)));
  await fleet.pushRing(original);
  const s3 = fleet.client(await fleet.startGateway());
  await s3.send(new CreateBucketCommand({ Bucket: 'grow' }));
  const objects = new ObjectSet('grow');
  await objects.write(s3, 'before', 30);
  const traffic = new Traffic(s3, objects, 2);

  // Grow: the 7th node joins under a new epoch; every node (and the gateway, by polling) adopts it.
  const joining = fleet.slots[6] as HealingSlot;
  await fleet.startNode(joining, NODE_ENV);
  const grown = await fleet.pushRing(fleet.slots);
  const bytesBefore = objects.sizeBytes;
  const growMs = await rebalanced(fleet, fleet.slots, grown);
  const moved = (await fleet.statuses(fleet.slots)).reduce((sum, status) => sum + rebalanceOf(status).bytesMoved, 0);
  t.comment(`join: rebalance of ${objects.bodies.size} objects (${(bytesBefore / 1e6).toFixed(1)} MB) done in ${(growMs / 1000).toFixed(1)} s, ${(moved / 1e6).toFixed(1)} MB moved`);
  t.equal(rebalanceOf((await fleet.statuses([joining]))[0] as NodeWorkStatus).epoch, grown.epoch, 'the new node runs under the new epoch');
  t.ok(moved > 0, 'shards moved to the new node');

  // Shrink: node-2 leaves; it keeps running until rebalance has moved everything it held.
  const leaving = fleet.slots[2] as HealingSlot;
  const remaining = fleet.slots.filter((slot) => slot !== leaving);
  const shrunk = await fleet.pushRing(remaining, fleet.slots);
  const shrinkMs = await rebalanced(fleet, fleet.slots, shrunk);
  t.comment(`leave: rebalance of ${objects.bodies.size} objects (${(objects.sizeBytes / 1e6).toFixed(1)} MB) done in ${(shrinkMs / 1000).toFixed(1)} s`);

  await traffic.stop();
  t.comment(`${traffic.requests} client requests during the changes`);
  t.same(traffic.failures, [], 'no client request failed while the cluster grew and shrank');
  t.ok(traffic.requests > 20, 'traffic ran throughout');
  t.same(await strays(objects, shrunk, fleet.slots), [], 'no node outside a key\'s final set holds it (the leaving node is empty)');
  await fleet.stopNode(leaving);
  t.same(await objects.shardProblems(shrunk, remaining), [], 'every shard of every object is where the final ring says, valid');
  t.same(await objects.readAll(s3), [], 'every object reads back byte-identical without the node that left');
});


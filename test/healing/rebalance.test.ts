import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { locate, type Ring } from '../../src/placement/index.js';
import type { NodeWorkStatus } from '../../src/rpc/index.js';
import { HealingFleet, until, type HealingSlot } from './healing-fleet.js';
import { ObjectSet } from './object-set.js';

/**
 * Grow and shrink a cluster of real `tessera node` processes while clients keep writing and reading
 * through a `tessera gateway`: a 7th node joins under a new ring epoch, rebalance moves its share to
 * it; then a node leaves under another epoch and rebalance empties it. No client request may fail,
 * every object must read back byte-identical, and at the end every shard must sit exactly where the
 * final ring says (and nowhere else).
 */
const REBALANCE_TIMEOUT_MS = 120_000;
const NODE_ENV = { TESSERA_REBALANCE_SETTLE_MS: '2000', TESSERA_REBALANCE_INTERVAL_MS: '300' };

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

/** The rebalance figures of a node's status (HealingSnapshot['rebalance'] on the wire). */
interface RebalanceFigures {
  epoch: number;
  done: boolean;
  scanned: number;
  moved: number;
  bytesMoved: number;
}

function rebalanceOf(status: NodeWorkStatus): RebalanceFigures {
  return status.figures['rebalance'] as unknown as RebalanceFigures;
}

/** Waits until every given node has adopted `ring` and reports its rebalance done; returns the elapsed ms. */
async function rebalanced(fleet: HealingFleet, slots: readonly HealingSlot[], ring: Ring): Promise<number> {
  return until(
    `rebalance to epoch ${ring.epoch}`,
    async () => {
      const statuses = await fleet.statuses(slots);
      return statuses.every((status) => status.ringEpoch === ring.epoch && rebalanceOf(status).epoch === ring.epoch && rebalanceOf(status).done);
    },
    REBALANCE_TIMEOUT_MS,
  );
}

/** Keys some running node outside the key's final set still holds a version of. */
async function strays(objects: ObjectSet, ring: Ring, running: readonly HealingSlot[]): Promise<string[]> {
  const found: string[] = [];
  for (const key of objects.bodies.keys()) {
    const members = new Set(locate(ring, objects.bucket, key).nodes.map((node) => node.id));
    for (const slot of running) {
      if (members.has(slot.id)) continue;
      if ((await slot.client.objectStatus(objects.bucket, key)) !== null) found.push(`${key} on ${slot.id}`);
    }
  }
  return found;
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

t.test('a node killed in the middle of a rebalance resumes its pass from the persisted cursor and completes it', async (t) => {
  const fleet = await HealingFleet.create(7);
  t.teardown(async () => {
    if (!t.passing()) t.comment(fleet.describe());
    await fleet.destroy();
  });
  await Promise.all(fleet.slots.map((slot) => fleet.startNode(slot, NODE_ENV)));
  await fleet.pushRing(fleet.slots);
  const s3 = fleet.client(await fleet.startGateway());
  await s3.send(new CreateBucketCommand({ Bucket: 'resume' }));
  const objects = new ObjectSet('resume');
  await objects.write(s3, 'r', 60);

  // node-3 leaves; its copy rate is throttled so the kill lands between two steps of its pass.
  const leaving = fleet.slots[3] as HealingSlot;
  const slow = { ...NODE_ENV, TESSERA_REBALANCE_BYTES_PER_SECOND: String(512 * 1024) };
  await fleet.stopNode(leaving);
  await fleet.startNode(leaving, slow);
  const remaining = fleet.slots.filter((slot) => slot !== leaving);
  const shrunk = await fleet.pushRing(remaining, fleet.slots);
  const leavingStatus = async (): Promise<NodeWorkStatus> => (await fleet.statuses([leaving]))[0] as NodeWorkStatus;
  await until(
    'the leaving node part-way through its pass',
    async () => {
      const figures = rebalanceOf(await leavingStatus());
      // scanned counts whole steps, each persisted with its cursor before the throttle's pause.
      return figures.epoch === shrunk.epoch && figures.scanned > 0 && !figures.done;
    },
    60_000,
    100,
  );
  await fleet.killNode(leaving);
  await fleet.startNode(leaving, slow);
  const worker = ((await leavingStatus()).workers['rebalance'] as { worker?: { resumedAfter?: string | null } }).worker;
  t.type(worker?.resumedAfter, 'string', `the restarted node resumed its pass after key ${String(worker?.resumedAfter)}, not from the start`);

  const ms = await rebalanced(fleet, fleet.slots, shrunk);
  t.comment(`the resumed rebalance finished ${(ms / 1000).toFixed(1)} s after the restart`);
  t.same(await strays(objects, shrunk, fleet.slots), [], 'the leaving node holds nothing once its rebalance is done');
  await fleet.stopNode(leaving);
  t.same(await objects.shardProblems(shrunk, remaining), [], 'every shard is where the final ring says, valid');
  t.same(await objects.readAll(s3), [], 'every object reads back byte-identical');
});

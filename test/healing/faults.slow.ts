import { rm, open } from 'node:fs/promises';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { RingLocator, type Ring } from '../../src/placement/index.js';
import { shardDataId, shardRefOf } from '../../src/rpc/index.js';
import { loseShardImage, shardImagesOn, type ShardImageLocation } from '../helpers/shard-images.js';
import { HealingFleet, until, type HealingSlot } from './healing-fleet.js';
import { ObjectSet } from './object-set.js';

/**
 * Fault injection against six real `tessera node` processes behind a `tessera gateway`: shard files and
 * segment images lost, bytes flipped, a data directory wiped, two nodes down during writes. After each, the nodes'
 * own scrub, audit and repair must bring every object back to all n shards, valid, where the ring
 * says; every read before and after is compared byte for byte. Deadlines, no fixed sleeps.
 */
const HEAL_TIMEOUT_MS = 60_000;

/**
 * Shards of the objects kept outside LevelDB (files and segment images), `fraction` of them chosen at
 * random but at most m per object: a loss beyond m shards is beyond what erasure coding can rebuild, so
 * no healing could pass that test. Each shard comes as every copy its node's disk holds: a repair
 * writes a shard anew and leaves the copy it replaced in its segment, and only the node knows which
 * copy is live, so damage meant for a shard goes to all of them.
 */
async function pickShards(fleet: HealingFleet, objects: ObjectSet, ring: Ring, fraction: number, perObject: number): Promise<ShardImageLocation[][]> {
  const onNode = new Map<string, Map<string, ShardImageLocation[]>>();
  for (const slot of fleet.slots) {
    const copies = new Map<string, ShardImageLocation[]>();
    for (const image of await shardImagesOn(slot.dataDir)) copies.set(image.dataId, [...(copies.get(image.dataId) ?? []), image]);
    onNode.set(slot.id, copies);
  }
  const byObject: ShardImageLocation[][][] = [];
  const locator = new RingLocator(ring);
  for (const key of objects.bodies.keys()) {
    const images: ShardImageLocation[][] = [];
    for (const [position, node] of locator.locate(objects.bucket, key).nodes.entries()) {
      const slot = fleet.slots.find((s) => s.id === node.id) as HealingSlot;
      const status = await slot.client.objectStatus(objects.bucket, key);
      if (status === null) continue;
      const image = onNode.get(slot.id)?.get(shardDataId(shardRefOf(status.record, position)));
      if (image !== undefined) images.push(image);
    }
    byObject.push(images);
  }
  const total = byObject.reduce((sum, images) => sum + images.length, 0);
  const wanted = Math.round(total * fraction);
  const chosen: ShardImageLocation[][] = [];
  const candidates = byObject.flatMap((images, i) => images.map((image) => ({ image, object: i })));
  const taken = new Map<number, number>();
  for (const { image, object } of pick(candidates, 1)) {
    if (chosen.length >= wanted) break;
    if ((taken.get(object) ?? 0) >= perObject) continue;
    taken.set(object, (taken.get(object) ?? 0) + 1);
    chosen.push(image);
  }
  return chosen;
}

function pick<T>(items: readonly T[], fraction: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, Math.max(1, Math.round(copy.length * fraction)));
}

t.test('scrub, audit and repair heal lost, rotten and wiped shards', async (t) => {
  const fleet = await HealingFleet.create(6);
  t.teardown(async () => {
    if (!t.passing()) t.comment(fleet.describe());
    await fleet.destroy();
  });
  await Promise.all(fleet.slots.map((slot) => fleet.startNode(slot)));
  const ring = await fleet.pushRing(fleet.slots);
  const s3 = fleet.client(await fleet.startGateway());
  await s3.send(new CreateBucketCommand({ Bucket: 'heal' }));
  const objects = new ObjectSet('heal');
  await objects.write(s3, 'a', 30);
  t.comment(`${objects.bodies.size} objects, ${(objects.sizeBytes / 1e6).toFixed(1)} MB`);
  t.same(await objects.shardProblems(ring, fleet.slots), [], 'every shard is in place after the writes');

  const healed = async (what: string): Promise<number> => {
    const ms = await until(what, async () => (await objects.shardProblems(ring, fleet.slots)).length === 0, HEAL_TIMEOUT_MS, 500);
    t.same(await objects.readAll(s3), [], `${what}: every object reads back byte-identical`);
    return ms;
  };
  const scrubAll = async (): Promise<void> => {
    await Promise.all(fleet.slots.map((slot) => slot.client.startScrub(true)));
  };

  const allImages = async (): Promise<ShardImageLocation[]> => (await Promise.all(fleet.slots.map((slot) => shardImagesOn(slot.dataDir)))).flat();

  await t.test('30% of shard files and segment images lost (at most m per object)', async (t) => {
    const all = await allImages();
    const doomed = await pickShards(fleet, objects, ring, 0.3, 2);
    for (const image of doomed.flat()) await loseShardImage(image);
    t.comment(`lost ${doomed.length} shards in ${all.length} shard images (files removed, segment images zeroed)`);
    t.same(await objects.readAll(s3), [], 'reads survive the loss before any repair');
    await scrubAll();
    const ms = await healed('repair of deleted shards');
    const statuses = await fleet.statuses(fleet.slots);
    const rebuilt = statuses.map((s) => s.figures['repair'] as { bytesRebuilt: number; rebuildMs: number; shardsRebuilt: number });
    const bytes = rebuilt.reduce((sum, r) => sum + r.bytesRebuilt, 0);
    const rates = rebuilt.filter((r) => r.rebuildMs > 0).map((r) => r.bytesRebuilt / 1e6 / (r.rebuildMs / 1000));
    t.comment(`healed in ${ms} ms; ${(bytes / 1e6).toFixed(1)} MB rebuilt; per node MB/s while rebuilding: ${rates.map((r) => r.toFixed(1)).join(', ')}`);
    t.comment(`repair throughput over the whole heal: ${(bytes / 1e6 / (ms / 1000) / fleet.slots.length).toFixed(2)} MB/s per node`);
    t.ok(rebuilt.reduce((sum, r) => sum + r.shardsRebuilt, 0) >= doomed.length, 'at least one rebuild per deleted file');
  });

  /** Flips one byte near the end of a share of the shards (at most two per object), in every copy of each; returns how many shards. */
  const flipBytes = async (): Promise<number> => {
    const victims = await pickShards(fleet, objects, ring, 0.15, 2);
    for (const image of victims.flat()) {
      const handle = await open(image.path, 'r+');
      try {
        const at = image.offsetBytes + Math.max(0, image.lengthBytes - 1 - Math.floor(Math.random() * Math.min(image.lengthBytes, 4096)));
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, at);
        byte[0] = (byte[0] as number) ^ 0x5a;
        await handle.write(byte, 0, 1, at);
      } finally {
        await handle.close();
      }
    }
    return victims.length;
  };

  await t.test('bytes flipped in shard files: reads never return them, repair heals them', async (t) => {
    const all = await allImages();
    const flipped = await flipBytes();
    t.comment(`flipped a byte in ${flipped} shards, ${all.length} shard images on disk`);
    t.ok(flipped > 0, 'shards of the objects are found on disk past the images lost before');
    t.same(await objects.readAll(s3), [], 'reads never return corrupted bytes, even before repair');
    await scrubAll();
    await healed('repair of corrupted shards');
  });

  await t.test('bytes flipped in shard files: the scrubber finds them', async (t) => {
    // Reads and the shard checks find damage too (and have it repaired), so here the scrubber looks
    // first: a scrub that ran after them could rightly find nothing left.
    type ScrubFigures = { checksumFailures: number; asked: number; lastPassAsked: number };
    const scrubFigures = async (): Promise<ScrubFigures[]> => (await fleet.statuses(fleet.slots)).map((s) => s.figures['scrub'] as ScrubFigures);
    const before = await scrubFigures();
    const flipped = await flipBytes();
    t.comment(`flipped a byte in ${flipped} shards`);
    t.ok(flipped > 0, 'shards of the objects are found on disk');
    await scrubAll();
    // The pass the previous test asked for may still be running: only a pass begun after this request counts.
    const asked = await scrubFigures();
    await until('a scrub pass begun after the request, on every node', async () => (await scrubFigures()).every((figures, i) => figures.lastPassAsked >= (asked[i] as ScrubFigures).asked), HEAL_TIMEOUT_MS, 200);
    const failures = (await scrubFigures()).reduce((sum, figures, i) => sum + figures.checksumFailures - (before[i] as ScrubFigures).checksumFailures, 0);
    t.ok(failures > 0, `scrub counted ${failures} checksum failures`);
    await healed('repair of what the scrub found');
  });

  await t.test('one node data directory wiped', async (t) => {
    const victim = fleet.slots[2] as HealingSlot;
    await fleet.stopNode(victim);
    await rm(victim.dataDir, { recursive: true, force: true });
    await fleet.startNode(victim);
    t.same(await objects.readAll(s3), [], 'reads survive a wiped node');
    const ms = await healed('rebuild of a wiped node');
    t.comment(`wiped node rebuilt in ${ms} ms`);
  });

  await t.test('m nodes down during writes, repaired when they return', async (t) => {
    const down = [fleet.slots[4] as HealingSlot, fleet.slots[5] as HealingSlot];
    await Promise.all(down.map((slot) => fleet.stopNode(slot)));
    await objects.write(s3, 'b', 10);
    t.pass('writes succeed with two of six nodes down');
    await Promise.all(down.map((slot) => fleet.startNode(slot)));
    const ms = await healed('repair of what the returning nodes missed');
    t.comment(`returning nodes caught up in ${ms} ms`);
  });
});

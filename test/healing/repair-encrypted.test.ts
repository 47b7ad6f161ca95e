import { rm } from 'node:fs/promises';
import { CreateBucketCommand, PutBucketEncryptionCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { shardImagesOn } from '../helpers/shard-images.js';
import { masterKeyFile } from '../helpers/sse.js';
import { HealingFleet, until, type HealingSlot } from './healing-fleet.js';
import { ObjectSet } from './object-set.js';

/**
 * Repair of encrypted objects: the nodes rebuild shards of bodies they cannot read (the erasure layout
 * follows the stored size, not the plaintext size). A node loses every shard file and segment, scrub and repair
 * rebuild them, and with two other nodes down every object still reads back through the rebuilt shards.
 */


t.test('repair rebuilds the shards of SSE-S3 objects, which then decode and decrypt', async (t) => {
  const keys = await masterKeyFile();
  const fleet = await HealingFleet.create(6);
  t.teardown(async () => {
    if (!t.passing()) t.comment(fleet.describe());
    await fleet.destroy();
    await keys.remove();
  });
  await Promise.all(fleet.slots.map((slot) => fleet.startNode(slot)));
  const ring = await fleet.pushRing(fleet.slots);
  const s3 = fleet.client(await fleet.startGateway({ TESSERA_SSE_MASTER_KEY_FILE: keys.path }));
  await s3.send(new CreateBucketCommand({ Bucket: 'sealed' }));
  // Every write to the bucket is sealed by its default encryption.
  await s3.send(new PutBucketEncryptionCommand({ Bucket: 'sealed', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  const objects = new ObjectSet('sealed');
  await objects.write(s3, 'e', 15);

  const victim = fleet.slots[1] as HealingSlot;
  // The victim loses every shard file and segment while it is down (a segment a running node appends
  // to would go on serving from the unlinked file until it is sealed).
  await fleet.stopNode(victim);
  const doomed = await shardImagesOn(victim.dataDir);
  t.ok(doomed.length >= 3, `victim holds ${doomed.length} shard images outside LevelDB`);
  for (const path of new Set(doomed.map((image) => image.path))) await rm(path);
  await fleet.startNode(victim);
  await victim.client.startScrub(true);
  await until(
    'the victim rebuilds every lost shard',
    async () => {
      const s = await victim.client.workStatus({ signal: AbortSignal.timeout(5_000) });
      const repair = s.figures['repair'] as unknown as { pending: number; shardsRebuilt: number };
      return s.quarantinedShards === 0 && repair.pending === 0 && repair.shardsRebuilt >= doomed.length;
    },
    60_000,
  );
  t.same(await objects.shardProblems(ring, fleet.slots), [], 'every object has all n shards in place and valid');
  await fleet.stopNode(fleet.slots[3] as HealingSlot);
  await fleet.stopNode(fleet.slots[4] as HealingSlot);
  t.same(await objects.readAll(s3), [], 'with two other nodes down, every object reads back through the rebuilt shards');
});

import { rm } from 'node:fs/promises';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { shardImagesOn } from '../helpers/shard-images.js';
import { HealingFleet, until, type HealingSlot } from './healing-fleet.js';
import { ObjectSet } from './object-set.js';

/**
 * Issue 7, test 5: a node killed (SIGKILL) in the middle of a repair resumes it after restart. One
 * node loses every shard file; a scrub quarantines them (persisted rows, the repair queue), and repair
 * is throttled so the kill lands while most of the queue is still waiting. After the restart the node
 * must start with what was left (not with nothing, not with everything), finish it, and every object
 * must have all n shards in place and read back byte-identical.
 */
const REPAIR_BYTES_PER_SECOND = 256 * 1024;

interface RepairFigures {
  done: number;
  shardsRebuilt: number;
  pending: number;
}


t.test('a node killed mid-repair resumes its persisted repair queue after restart', async (t) => {
  const started = Date.now();
  const fleet = await HealingFleet.create(6);
  t.teardown(async () => {
    if (!t.passing()) t.comment(fleet.describe());
    await fleet.destroy();
  });
  const slowRepair = { TESSERA_REPAIR_BYTES_PER_SECOND: String(REPAIR_BYTES_PER_SECOND) };
  await Promise.all(fleet.slots.map((slot) => fleet.startNode(slot, slowRepair)));
  const ring = await fleet.pushRing(fleet.slots);
  const s3 = fleet.client(await fleet.startGateway());
  await s3.send(new CreateBucketCommand({ Bucket: 'resume' }));
  const objects = new ObjectSet('resume');
  await objects.write(s3, 'r', 30);

  const victim = fleet.slots[1] as HealingSlot;
  // Every shard file and segment it holds is lost while it runs.
  const doomed = await shardImagesOn(victim.dataDir);
  t.ok(doomed.length >= 10, `victim holds ${doomed.length} shard images outside LevelDB`);
  await Promise.all([...new Set(doomed.map((image) => image.path))].map((path) => rm(path)));
  await victim.client.startScrub(true);

  const status = async (): Promise<{ quarantined: number; repair: RepairFigures }> => {
    const s = await victim.client.workStatus({ signal: AbortSignal.timeout(5_000) });
    return { quarantined: s.quarantinedShards, repair: s.figures['repair'] as unknown as RepairFigures };
  };
  // The scrub quarantines every lost shard; the throttled repair works through them one by one.
  let beforeKill = await status();
  await until(
    'repair under way with most of the queue left',
    async () => {
      beforeKill = await status();
      return beforeKill.repair.shardsRebuilt >= 2 && beforeKill.quarantined >= 3;
    },
    30_000,
    100,
  );
  await fleet.killNode(victim);
  t.comment(`killed with ${beforeKill.repair.shardsRebuilt} shards rebuilt and ${beforeKill.quarantined} still quarantined`);

  await fleet.startNode(victim, slowRepair);
  const afterRestart = await status();
  t.ok(afterRestart.quarantined > 0, `the restarted node starts with ${afterRestart.quarantined} quarantined shards from its persisted queue`);
  t.ok(afterRestart.quarantined < doomed.length, 'shards repaired before the kill are not redone');
  t.same(await objects.readAll(s3), [], 'reads are byte-identical while the repair is unfinished');

  const ms = await until(
    'the resumed repair drains its queue',
    async () => {
      const s = await status();
      return s.quarantined === 0 && s.repair.pending === 0;
    },
    40_000,
    250,
  );
  const final = await status();
  t.comment(`resumed repair finished in ${ms} ms: ${final.repair.shardsRebuilt} shards rebuilt after the restart`);
  t.ok(final.repair.shardsRebuilt >= 1, 'the restarted node rebuilt what was left');
  t.ok(final.repair.shardsRebuilt <= afterRestart.quarantined + 2, 'the restarted node rebuilt only what was left, not everything again');
  t.same(await objects.shardProblems(ring, fleet.slots), [], 'every object has all n shards in place and valid');
  t.same(await objects.readAll(s3), [], 'every object reads back byte-identical');
  t.comment(`test took ${Date.now() - started} ms`);
});

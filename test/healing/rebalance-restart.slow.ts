import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import type { NodeWorkStatus } from '../../src/rpc/index.js';
import { HealingFleet, until, type HealingSlot } from './healing-fleet.js';
import { ObjectSet } from './object-set.js';
import { REBALANCE_NODE_ENV as NODE_ENV, rebalanceOf, rebalanced, strays } from './rebalance-checks.js';

/**
 * Issue 7, test 5 for rebalance: a node SIGKILLed part-way through its rebalance pass resumes from its
 * persisted cursor after the restart and completes, with every shard where the final ring says.
 */
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
  await objects.write(s3, 'r', 45);

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
  // A node answers once it listens; its workers load their cursors just after. Until then the status
  // says the rebalance is not running and has resumed nothing.
  type RebalanceRunner = { running?: boolean; worker?: { resumedAfter?: string | null } };
  const runner = async (): Promise<RebalanceRunner | undefined> => (await leavingStatus()).workers['rebalance'] as RebalanceRunner | undefined;
  await until('the restarted node runs its rebalance worker', async () => (await runner())?.running === true, 30_000, 50);
  const worker = (await runner())?.worker;
  t.type(worker?.resumedAfter, 'string', `the restarted node resumed its pass after key ${String(worker?.resumedAfter)}, not from the start`);

  const ms = await rebalanced(fleet, fleet.slots, shrunk);
  t.comment(`the resumed rebalance finished ${(ms / 1000).toFixed(1)} s after the restart`);
  t.same(await strays(objects, shrunk, fleet.slots), [], 'the leaving node holds nothing once its rebalance is done');
  await fleet.stopNode(leaving);
  t.same(await objects.shardProblems(shrunk, remaining), [], 'every shard is where the final ring says, valid');
  t.same(await objects.readAll(s3), [], 'every object reads back byte-identical');
});

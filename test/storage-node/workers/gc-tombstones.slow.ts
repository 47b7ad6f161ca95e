import { setTimeout as delay } from 'node:timers/promises';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { formatStatus } from '../../../src/bin/admin-cli.js';
import { buildRing, parseRing, planChange, serializeRing } from '../../../src/placement/index.js';
import { seededBytes } from '../../helpers/bytes.js';
import { morePasses, startGcCluster } from '../gc-cluster.js';
import { until } from '../../helpers/until.js';

/**
 * Issue 7, garbage collection of tombstones, on six real nodes (LevelDB, files, HTTP). Audits only
 * run when a test asks for a pass (their interval is long), so what a test sees is the collector's doing.
 */
const ALL = [0, 1, 2, 3, 4, 5];
const QUIET_AUDIT = 10 * 60 * 1000;

async function readsAsDeleted(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return false;
  } catch (err) {
    return (err as { name?: string }).name === 'NoSuchKey';
  }
}

t.test('an expired tombstone is dropped on every member once all of them hold it, and not before the grace period', async (t) => {
  const graceMs = 3_000;
  const cluster = await startGcCluster(t, { gcTombstoneGraceMs: graceMs, gcSettleMs: 100, gcIntervalMs: 200, auditIntervalMs: QUIET_AUDIT });
  const { s3, bucket } = cluster;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doomed', Body: seededBytes(300_000, 1) }));
  // The tombstone's grace runs from when the gateway stamped it, which is after the DELETE was sent and
  // may be seconds before its answer arrives on a loaded machine: the lower bound is taken before sending.
  const deleteSentAt = Date.now();
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doomed' }));
  const held = await cluster.statuses(bucket, 'doomed');
  t.ok(held.every((status) => status?.record.deleted === true), 'every member holds the tombstone (and the shards are gone with the version it replaced)');

  await morePasses(cluster, ALL, 1);
  await until('some member dropped the tombstone', async () => (await cluster.statuses(bucket, 'doomed')).some((status) => status === null), 15_000);
  t.ok(Date.now() - deleteSentAt >= graceMs, 'the first drop comes only after the grace period, though collector passes ran meanwhile');
  // A node drops the row before its collector hears back and counts it: wait for the count as well.
  await until(
    'every member dropped the tombstone',
    async () => (await cluster.statuses(bucket, 'doomed')).every((status) => status === null) && (await cluster.total('tombstonesDropped')) >= 6,
    15_000,
  );
  t.equal(await cluster.total('tombstonesDropped'), 6, 'each of the six members dropped its own copy once');
  t.ok(await readsAsDeleted(s3, bucket, 'doomed'), 'the key still reads as absent');

  const status = await cluster.node(0).workStatus();
  t.match(formatStatus([status]), /gc\s+passes \d+; tombstones dropped \d+/, 'tessera admin status prints the collector figures');
});

t.test('a member holding an older live version blocks the drop, the key still reads as deleted, and the drop follows once audit gives it the tombstone', async (t) => {
  const cluster = await startGcCluster(t, { gcTombstoneGraceMs: 300, gcSettleMs: 100, gcIntervalMs: 200, auditIntervalMs: QUIET_AUDIT });
  const { s3, bucket } = cluster;
  const key = 'comes-back?';
  const set = await cluster.setOf(bucket, key);
  // The laggard is a member but not the set's first, so its own start-up audit does not cover this key.
  const laggard = set[2] as number;
  const leader = set[0] as number;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: seededBytes(200_000, 2) }));
  await cluster.stopNode(laggard);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  await cluster.startNode(laggard);
  const before = await cluster.statuses(bucket, key);
  t.equal(before[laggard]?.record.deleted, false, 'the laggard still holds the older live version');

  const others = set.filter((i) => i !== laggard);
  await morePasses(cluster, others, 3);
  const blocked = await cluster.statuses(bucket, key);
  t.ok(others.every((i) => blocked[i]?.record.deleted === true), 'every other member keeps its expired tombstone');
  t.ok((await cluster.gcFigures(leader)).tombstonesKept >= 1, 'the leader counts the tombstone as kept');
  t.equal(await cluster.total('tombstonesDropped'), 0, 'nobody dropped it');
  t.ok(await readsAsDeleted(s3, bucket, key), 'the key still reads as deleted');

  // An audit pass of the leader copies the tombstone to the laggard (an older live version must get it); then it can go.
  await cluster.node(leader).startScrub(true);
  await until(
    'every member dropped the tombstone',
    async () => (await cluster.statuses(bucket, key)).every((status) => status === null) && (await cluster.total('tombstonesDropped')) >= 6,
    20_000,
  );
  t.equal(await cluster.total('tombstonesDropped'), 6, 'all six members dropped it once the laggard held it too');
  t.ok(await readsAsDeleted(s3, bucket, key), 'and the old version did not come back');
});

t.test('audit does not copy a tombstone older than the grace period to a member holding nothing, but still copies a younger one', async (t) => {
  // The younger tombstone must reach the member within the grace (a restart, an audit pass and a
  // repair), so the grace leaves room for a loaded machine.
  const graceMs = 8_000;
  const cluster = await startGcCluster(t, { gc: false, gcTombstoneGraceMs: graceMs, gcSettleMs: 100, auditIntervalMs: QUIET_AUDIT });
  const { s3, bucket } = cluster;
  // Two keys whose sets share a member that is first in neither: it misses both deletes.
  const candidates = Array.from({ length: 400 }, (_, i) => `key-${i}`);
  const sets = await Promise.all(candidates.map(async (key) => ({ key, set: await cluster.setOf(bucket, key) })));
  const absent = 1;
  const eligible = sets.filter(({ set }) => set.includes(absent) && set[0] !== absent);
  const [old, young] = eligible;
  if (old === undefined || young === undefined) throw new Error('no two keys with node 1 as a follower');
  await cluster.stopNode(absent);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: old.key }));
  await delay(graceMs + 200);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: young.key }));
  await cluster.startNode(absent);
  const leaders = [...new Set([old.set[0] as number, young.set[0] as number])];
  const passes = await Promise.all(leaders.map(async (i) => ((await cluster.node(i).workStatus()).figures['audit'] as { passes: number }).passes));
  for (const i of leaders) await cluster.node(i).startScrub(true);
  await until(
    'an audit pass on each leader',
    async () => (await Promise.all(leaders.map(async (i, n) => ((await cluster.node(i).workStatus()).figures['audit'] as { passes: number }).passes > (passes[n] as number)))).every(Boolean),
    15_000,
  );
  await until('the younger tombstone copied to the member that missed it', async () => (await cluster.statuses(bucket, young.key))[absent]?.record.deleted === true, 10_000);
  t.pass('audit still copies a tombstone younger than the grace period');
  t.equal((await cluster.statuses(bucket, old.key))[absent], null, 'the expired tombstone was not copied: nothing and an expired tombstone are the same');
  const oldHeld = await cluster.statuses(bucket, old.key);
  t.ok(old.set.filter((i) => i !== absent).every((i) => oldHeld[i]?.record.deleted === true), 'the other five members still hold it (the collector is off here)');
  t.ok(await readsAsDeleted(s3, bucket, old.key), 'the key reads as absent');
});

t.test('no tombstone is dropped while the node’s rebalance to the current ring is unfinished', async (t) => {
  // A settle time longer than the test keeps every node's rebalance of the current epoch open.
  const cluster = await startGcCluster(t, { gcTombstoneGraceMs: 300, gcSettleMs: 100, gcIntervalMs: 200, auditIntervalMs: QUIET_AUDIT, rebalanceSettleMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  // The cluster's first ring has nothing to rebalance: a ring that moves partitions (the same members in
  // other slots, laid out afresh) starts one. A new epoch that moves nothing would be done at once.
  const first = parseRing(JSON.stringify(await cluster.node(0).fetchRing()));
  const secondRing = buildRing(null, first.nodes, { replicas: first.replicas, partitionBits: first.partitionBits, seed: 7 });
  t.ok(planChange(first, secondRing).moves.length > 0, 'the second ring moves partitions');
  const second = serializeRing({ ...secondRing, epoch: first.epoch + 1 });
  for (const i of ALL) t.ok((await cluster.node(i).offerRing(JSON.parse(second))).adopted, `node ${i} adopts the second ring`);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'moving', Body: seededBytes(1_000, 5) }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'moving' }));
  await delay(300);
  await morePasses(cluster, ALL, 3);
  const held = await cluster.statuses(bucket, 'moving');
  t.ok(held.every((status) => status?.record.deleted === true), 'every member still holds the expired tombstone');
  t.equal(await cluster.total('tombstonesDropped'), 0, 'none was dropped');
  t.ok(await readsAsDeleted(s3, bucket, 'moving'), 'the key reads as absent');
});

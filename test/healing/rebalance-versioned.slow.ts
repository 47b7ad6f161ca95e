import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { RingLocator } from '../../src/placement/index.js';
import { indexShardKey } from '../../src/rpc/index.js';
import { collect, seededBytes } from '../helpers/bytes.js';
import { HealingFleet, type HealingSlot } from './healing-fleet.js';
import { REBALANCE_NODE_ENV as NODE_ENV, rebalanced } from './rebalance-checks.js';

/**
 * Rebalance of a versioned bucket on real `tessera node` processes: when a node leaves the ring, every
 * version it held (noncurrent ones and delete markers, not only each key's current version) moves to
 * the key's new set, and the leaving node lets go of its copies only once the new holders have them:
 * with it stopped, every version reads back byte-identical and sits where the final ring says, and the
 * bucket's listings, whose index shard it held, still answer.
 */

t.test('a node leaving moves every version and delete marker of a versioned bucket to the new sets before letting go', async (t) => {
  const fleet = await HealingFleet.create(7);
  t.teardown(async () => {
    if (!t.passing()) t.comment(fleet.describe());
    await fleet.destroy();
  });
  await Promise.all(fleet.slots.map((slot) => fleet.startNode(slot, NODE_ENV)));
  const ring = await fleet.pushRing(fleet.slots);
  const s3 = fleet.client(await fleet.startGateway());
  const bucket = 'versions-move';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));

  /** Every version written: key, id, body (null for a delete marker). */
  const written: { key: string; versionId: string; body: Buffer | null }[] = [];
  const sizes = [600_000, 3_000, 200_000];
  for (let k = 0; k < 12; k += 1) {
    const key = `k/${k}`;
    for (let v = 0; v < 3; v += 1) {
      const body = seededBytes(sizes[(k + v) % sizes.length] as number, k * 10 + v);
      const versionId = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId ?? '';
      written.push({ key, versionId, body });
      if (v === 1 && k % 2 === 0) {
        const marker = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))).VersionId ?? '';
        written.push({ key, versionId: marker, body: null });
      }
    }
  }

  // Versions deleted by id before the change: their tombstones must reach members new to their sets.
  const deleted = written.filter((_, i) => i % 7 === 1);
  for (const w of deleted) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: w.key, VersionId: w.versionId }));
  written.splice(0, written.length, ...written.filter((w) => !deleted.includes(w)));

  // The node that leaves is a replica of the bucket's index shard: once it is gone, a listing must read
  // a quorum of the previous ring's set from the members that stay.
  const createdMs = (await (fleet.slots[0] as HealingSlot).client.listBuckets()).find((record) => record.name === bucket)?.createdMs ?? 0;
  const indexSet = new RingLocator(ring).locate(bucket, indexShardKey(createdMs, 0)).nodes;
  const leaving = fleet.slots.find((slot) => slot.id === indexSet[0]?.id) as HealingSlot;
  const heldBefore = (await Promise.all(written.map((w) => leaving.client.versionStatus(bucket, w.key, w.versionId)))).filter((s) => s !== null).length;
  const noncurrentBefore = (
    await Promise.all(written.map(async (w) => ((await leaving.client.objectStatus(bucket, w.key))?.record.versionId !== w.versionId ? leaving.client.versionStatus(bucket, w.key, w.versionId) : null)))
  ).filter((s) => s !== null).length;
  t.ok(noncurrentBefore > 10, `the leaving node holds noncurrent versions (${noncurrentBefore} of the ${heldBefore} versions it holds)`);

  const remaining = fleet.slots.filter((slot) => slot !== leaving);
  const shrunk = await fleet.pushRing(remaining, fleet.slots);
  await rebalanced(fleet, fleet.slots, shrunk);

  const stillHeld = (await Promise.all(written.map((w) => leaving.client.versionStatus(bucket, w.key, w.versionId)))).filter((s) => s !== null);
  t.same(stillHeld.map((s) => `${s.record.key} ${s.record.versionId}`), [], 'the leaving node let go of every version once its rebalance was done');

  await fleet.stopNode(leaving);
  const locator = new RingLocator(shrunk);
  const misplaced: string[] = [];
  for (const w of written) {
    const set = locator.locate(bucket, w.key).nodes;
    const statuses = await Promise.all(set.map((node) => (fleet.slots.find((slot) => slot.id === node.id) as HealingSlot).client.versionStatus(bucket, w.key, w.versionId)));
    statuses.forEach((status, position) => {
      if (status === null) misplaced.push(`${w.key} ${w.versionId} missing on ${set[position]?.id}`);
      else if (w.body !== null && status.shardIndex !== position) misplaced.push(`${w.key} ${w.versionId} shard ${status.shardIndex} at position ${position}`);
    });
  }
  t.same(misplaced, [], 'every version and marker is held by every member of its final set, each shard at its position');
  const lackingTombstone: string[] = [];
  for (const w of deleted) {
    const { partition, nodes } = locator.locate(bucket, w.key);
    for (const node of nodes) {
      const slot = fleet.slots.find((s) => s.id === node.id) as HealingSlot;
      const { gone } = await slot.client.partitionGone(partition, shrunk.partitionBits, null, 1000);
      if (!gone.some((g) => g.key === w.key && g.versionId === w.versionId)) lackingTombstone.push(`${w.key} ${w.versionId} on ${node.id}`);
      if ((await slot.client.versionStatus(bucket, w.key, w.versionId)) !== null) lackingTombstone.push(`${w.key} ${w.versionId} held by ${node.id}`);
    }
  }
  t.ok(deleted.length >= 4, `${deleted.length} versions were deleted by id before the change`);
  t.same(lackingTombstone, [], 'every member of a deleted version\'s final set holds its tombstone, and none the version');

  const unreadable: string[] = [];
  for (const w of written) {
    if (w.body === null) continue;
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: w.key, VersionId: w.versionId }));
    if (!(await collect(answer.Body as AsyncIterable<Uint8Array>)).equals(w.body)) unreadable.push(`${w.key} ${w.versionId}`);
  }
  t.same(unreadable, [], 'every version reads back byte-identical without the node that left');
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  const ids = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].map((v) => `${v.Key} ${v.VersionId}`).sort();
  t.same(ids, written.map((w) => `${w.key} ${w.versionId}`).sort(), 'the version listing shows every version and delete marker');
  const current = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  const live = [...new Set(written.map((w) => w.key))].filter((key) => written.filter((w) => w.key === key).at(-1)?.body !== null);
  t.same((current.Contents ?? []).map((object) => object.Key), live.sort(), 'the object listing shows every key whose latest version is not a delete marker');
});

import { CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import type { Gateway } from '../../src/gateway/index.js';
import { UPLOADS_BUCKET, uploadMarkerKey } from '../../src/rpc/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { statusOf } from '../helpers/cluster.js';
import { RingChangeCluster } from '../helpers/ring-change.js';

/**
 * What the rebalance does with versions whose key's set changed, when the key was written to between
 * the ring change and the move. Keys are chosen so their set under the new ring shares no node with the
 * old one ("moved"); a key whose set did not change ("kept") is the control.
 */

/** A cluster on ring 1 with one gateway on it and `bucket` created. */
async function started(t: { teardown(fn: () => unknown): void }, bucket: string): Promise<{ cluster: RingChangeCluster; gateway: Gateway; s3: S3Client }> {
  const cluster = await RingChangeCluster.start(t);
  const { gateway, s3 } = await cluster.gateway({ rings: [cluster.ring1] });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return { cluster, gateway, s3 };
}

t.test("a pre-versioning object of a moved key survives the rebalance beside the delete marker versioning put over it", async (t) => {
  const bucket = 'null-moves';
  const { cluster, gateway, s3 } = await started(t, bucket);
  const moved = cluster.keyWithShared(bucket, 'moved-', 0);
  const kept = cluster.keyWithShared(bucket, 'kept-', 6);
  for (const key of [moved, kept]) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `pre-versioning body of ${key}` }));
  await cluster.changeRing([gateway]);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  // The marker goes to the new set; the null version is still only on the old one.
  for (const key of [moved, kept]) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

  t.same(await cluster.rebalanceAll(), [], 'every node finished its rebalance');
  const holders = [];
  for (const id of cluster.setOf(cluster.ring2, bucket, moved)) if ((await cluster.client(id).versionStatus(bucket, moved, 'null')) !== null) holders.push(id);
  t.equal(holders.length, 6, `every member of the moved key's new set holds the null version (${holders.join(', ')})`);
  for (const key of [moved, kept]) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: 'null' }));
    t.equal(await got.Body?.transformToString(), `pre-versioning body of ${key}`, `${key}: ?versionId=null reads the pre-versioning body`);
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    t.same((listed.Versions ?? []).map((version) => version.VersionId), ['null'], `${key}: the null version is listed`);
    t.equal(listed.DeleteMarkers?.length, 1, `${key}: under the delete marker`);
  }
});

t.test('a version deleted by id on the new set while its copies waited on the old set is deleted there, and the rebalance finishes', async (t) => {
  const bucket = 'gone-moves';
  const { cluster, gateway, s3 } = await started(t, bucket);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const key = cluster.keyWithShared(bucket, 'moved-', 0);
  const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'version one, to be deleted' }))).VersionId as string;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'version two' }));
  await cluster.changeRing([gateway]);
  // The delete by id as a gateway that knows only the new set sends it: the old members keep their copies.
  const newSet = cluster.setOf(cluster.ring2, bucket, key);
  const oldSet = cluster.setOf(cluster.ring1, bucket, key);
  for (const id of newSet) await cluster.client(id).deleteVersion({ bucket, key, versionId: v1 });

  t.same(await cluster.rebalanceAll(3), [], 'every node finished its rebalance (it used to retry the deleted version for ever)');
  for (const id of [...oldSet, ...newSet]) t.equal(await cluster.client(id).versionStatus(bucket, key, v1), null, `${id} holds no copy of the deleted version`);
  // Past the grace, the new set's collectors drop their tombstones; nothing is left to bring v1 back.
  for (const id of newSet) await cluster.collect(id, 2);
  t.same(await cluster.rebalanceAll(), [], 'and later passes find nothing to move');
  t.equal(await statusOf(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: v1 }))), 404, 'GET ?versionId of the deleted version is 404');
  const fresh = (await cluster.gateway({ rings: [cluster.ring2] })).s3;
  t.equal(await statusOf(fresh.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: v1 }))), 404, 'from a gateway that knows only the new ring too');
  const current = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.equal(await current.Body?.transformToString(), 'version two', 'the other version reads back');
});

t.test("the collector keeps the parts of a multipart object whose manifest the rebalance has not moved to the key's new set yet", async (t) => {
  const bucket = 'parts-move';
  const { cluster, gateway, s3 } = await started(t, bucket);
  const objects = {
    moved: cluster.keyWithShared(bucket, 'moved-', 0),
    kept: cluster.keyWithShared(bucket, 'kept-', 6),
  };
  const bodies = new Map<string, Buffer>();
  for (const [label, key] of Object.entries(objects)) {
    // An upload whose marker keeps its set: the parts' only link to the manifest is then found at once.
    let uploadId: string;
    for (;;) {
      uploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId as string;
      if (cluster.sharedSlots(UPLOADS_BUCKET, uploadMarkerKey(bucket, uploadId)) === 6) break;
    }
    const body = seededBytes(300_000, label.length);
    bodies.set(key, body);
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: body }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag as string }] } }));
  }
  await cluster.changeRing([gateway]);
  // A day on (past the collector's settle time) and before the rebalance moved any manifest.
  let dropped = 0;
  for (const member of cluster.members) dropped += (await cluster.collect(member.id, 1)).partsDropped;
  t.equal(dropped, 0, 'no collector dropped a part');
  for (const key of Object.values(objects)) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    t.ok(Buffer.from(await (got.Body as NonNullable<typeof got.Body>).transformToByteArray()).equals(bodies.get(key) as Buffer), `${key} reads back during the move`);
  }
  t.same(await cluster.rebalanceAll(), [], 'every node finished its rebalance');
  for (const member of cluster.members) dropped += (await cluster.collect(member.id, 1)).partsDropped;
  t.equal(dropped, 0, 'nor after it');
  for (const key of Object.values(objects)) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    t.ok(Buffer.from(await (got.Body as NonNullable<typeof got.Body>).transformToByteArray()).equals(bodies.get(key) as Buffer), `${key} reads back after it`);
  }
});

import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { indexShardKey } from '../../src/rpc/index.js';
import { bucketName } from '../helpers/bytes.js';
import { RingChangeCluster } from '../helpers/ring-change.js';

// A bucket's index across a ring change (docs/bucket-index.md): twelve real nodes, ring 1 on six of
// them, ring 2 on all twelve. Listings stay whole while the index shard's set changes, and a
// rebalance hands the shard's rows on to the members ring 2 adds.

const cluster = await RingChangeCluster.start(t);
const { ring1, ring2 } = cluster;
const first = await cluster.gateway({ rings: [ring1] });

async function keysOf(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 9 }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

/** The keys node `id`'s replica of the bucket's index shard holds. */
async function replicaKeys(id: string, bucket: string, createdMs: number): Promise<string[]> {
  const page = await cluster.client(id).listIndex({ bucket, incarnation: createdMs, prefix: '', after: '', afterIsPrefix: false, limit: 1_000 });
  return page.rows.filter((row) => row.entry !== undefined && !row.entry.deleted).map((row) => row.key);
}

// A bucket whose index shard gains members under ring 2.
let bucket = '';
let createdMs = 0;
let added: string[] = [];
for (let attempt = 0; attempt < 20 && added.length === 0; attempt += 1) {
  bucket = bucketName();
  await first.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  createdMs = (await cluster.client(ring1.nodes[0]?.id ?? '').listBuckets()).find((record) => record.name === bucket)?.createdMs ?? 0;
  const before = cluster.setOf(ring1, bucket, indexShardKey(createdMs, 0));
  added = cluster.setOf(ring2, bucket, indexShardKey(createdMs, 0)).filter((id) => !before.includes(id));
}
const written = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, '0')}`);
for (const key of written) await first.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));

t.test('the index shard gains members under the new ring', async (t) => {
  t.ok(added.length > 0, `ring 2 adds ${added.join(', ')} to the shard's set`);
  t.same(await keysOf(first.s3, bucket), written, 'listed whole under ring 1');
});

t.test('while nothing moved, a listing under the new ring reads the previous set too', async (t) => {
  await cluster.changeRing([first.gateway]);
  t.same(await keysOf(first.s3, bucket), written);
});

t.test('a rebalance hands the shard\'s rows on to the members the new ring adds', async (t) => {
  t.same(await cluster.rebalanceAll(), [], 'every node finished the epoch');
  for (const id of added) t.same(await replicaKeys(id, bucket, createdMs), written, `${id} holds every key`);
  t.same(await keysOf(first.s3, bucket), written, 'and the listing is whole');
});

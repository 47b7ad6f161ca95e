import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { RingLocator } from '../../src/placement/index.js';
import { ringFromConfig } from '../../src/gateway/index.js';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { rotShardImage, shardImagesOn } from '../helpers/shard-images.js';

// One cluster for both cases, each in a bucket of its own. The flipped byte comes first, while its
// object's shard is the only image on its node; the case that stops nodes comes last.
const cluster = await startCluster({ blockSizeBytes: 64 * 1024 });
t.teardown(() => cluster.close());

t.test('a flipped byte in a data shard is never served: the read reconstructs from parity', async (t) => {
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const body = seededBytes(900_000, 3);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'rot', Body: body }));
  t.ok(put.ETag);
  const placement = new RingLocator(ringFromConfig(cluster.config)).locate(bucket, 'rot');
  const holder = placement.nodes[0];
  t.ok(holder, 'shard 0 has a node');
  const nodeIndex = Number(holder?.id.replace('node-', ''));
  const images = await shardImagesOn(join(cluster.dataDir, `node-${nodeIndex}`));
  for (const image of images) await rotShardImage(image);
  t.equal(images.length, 1, 'the node held exactly this object’s shard');
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'rot' }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), 'bytes are the original ones');
});

t.test('with m nodes down every object reads back; with m+1 down a GET fails fast with 503', async (t) => {
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const objects = [0, 10, 70_000, 1_000_000].map((size, i) => ({ key: `o${i}`, body: seededBytes(size, i + 11) }));
  for (const { key, body } of objects) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  await cluster.stopNode(1);
  await cluster.stopNode(4);
  for (const { key, body } of objects) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), `${key} intact with 2 nodes down`);
  }
  const written = seededBytes(300_000, 99);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'during', Body: written }));
  const during = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'during' }));
  t.ok((await collect(during.Body as AsyncIterable<Uint8Array>)).equals(written), 'writes still succeed with 2 nodes down');
  await cluster.stopNode(2);
  const started = Date.now();
  try {
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'o3' }));
    t.fail('GET should fail with 3 of 6 nodes down');
  } catch (err) {
    t.ok(err instanceof S3ServiceException, 'an S3 error, not a hang or a short body');
    t.equal((err as S3ServiceException).$metadata.httpStatusCode, 503);
  }
  t.ok(Date.now() - started < 15_000, 'fails promptly');
});

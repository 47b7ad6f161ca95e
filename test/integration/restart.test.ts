import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';

t.test('a cluster stopped and started again on the same directories serves every object', async (t) => {
  const first = await startCluster({ blockSizeBytes: 64 * 1024 });
  const bucket = bucketName();
  const objects = [0, 17, 300_000, 2_000_000].map((size, i) => ({ key: `persist/${i}`, body: seededBytes(size, 40 + i) }));
  const s3 = first.client();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const { key, body } of objects) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  await first.close({ keepData: true });

  const second = await startCluster({ blockSizeBytes: 64 * 1024, dataDir: first.dataDir });
  t.teardown(() => second.close());
  const again = second.client();
  for (const { key, body } of objects) {
    const got = await again.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), `${key} survived the restart`);
  }
  const listed = await again.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.equal(listed.KeyCount, objects.length);
  for (let i = 0; i < 6; i += 1) {
    t.same(await readdir(join(first.dataDir, `node-${i}`, 'tmp')), [], `node-${i} has no temporary files`);
  }
});

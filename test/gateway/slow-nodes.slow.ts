import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { bucketName, collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { TEST_CREDENTIALS, localS3Client } from '../helpers/cluster.js';
import { slowCluster } from '../helpers/slow-link.js';

/** The configured timeouts, far below the slowest the nodes get here. */
const TIMEOUT_FLOOR_MS = 300;

t.test('nodes that slow down to several times the configured timeouts make requests slower, never failed (with SDK retries)', async (t) => {
  const { links, endpoint } = await slowCluster(t, TIMEOUT_FLOOR_MS);
  const s3 = localS3Client(endpoint, TEST_CREDENTIALS);
  t.teardown(() => s3.destroy());
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const written = new Map<string, string>();
  let step = 0;
  // The machine gets busier step by step: from idle to answers 4x slower than the configured timeouts.
  for (const delayMs of [0, 100, 400, 1_200]) {
    for (const link of links) link.delayMs = delayMs;
    for (const sizeBytes of [3_000, 2_500_000]) {
      step += 1;
      const key = `step-${step}-${delayMs}ms-${sizeBytes}`;
      const body = seededBytes(sizeBytes, step);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      written.set(key, md5Hex(body));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      t.equal(md5Hex(await collect(got.Body as AsyncIterable<Uint8Array>)), md5Hex(body), `${key} reads back`);
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: [...written.keys()][0] as string }));
    t.ok(head.ContentLength !== undefined, `HEAD answers at ${delayMs} ms`);
  }
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same((listed.Contents ?? []).map((o) => o.Key).sort(), [...written.keys()].sort(), 'the listing holds every object written');
});

import { CreateBucketCommand, DeleteBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { LIFECYCLE_DEADLINE_MS, missing, putRules } from '../storage-node/lifecycle-cluster.js';
import { startGcCluster } from '../storage-node/gc-cluster.js';
import { bucketName } from '../helpers/bytes.js';
import { until } from '../helpers/until.js';

/**
 * A lifecycle pass reads the bucket rules once, then walks every key, which takes hours on a large
 * node. Rules of a bucket deleted meanwhile must not reach a new bucket of the same name. Here a pass
 * is made long (keys of another bucket, read 20 a second) and the bucket is deleted and created
 * again, without rules, while passes that read its old rules are under way.
 */
const cluster = await startGcCluster(t, { lifecycleDaySeconds: 1, lifecycleIntervalMs: 100, lifecycleKeysPerSecond: 20, gc: false });
const { s3 } = cluster;

async function passes(): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < 6; i += 1) counts.push((await cluster.node(i).workStatus({ signal: AbortSignal.timeout(5_000) })).figures.lifecycle?.passes ?? 0);
  return counts;
}

t.test("a bucket deleted and created again under its name keeps none of the old bucket's lifecycle rules, even within a pass that read them", async (t) => {
  const filler = bucketName('filler');
  await s3.send(new CreateBucketCommand({ Bucket: filler }));
  for (let i = 0; i < 120; i += 1) await s3.send(new PutObjectCommand({ Bucket: filler, Key: `f${i}`, Body: 'x' }));
  const name = bucketName('reused');
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  await putRules(s3, name, [{ ID: 'expire-all', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }]);
  await s3.send(new PutObjectCommand({ Bucket: name, Key: 'probe', Body: 'x' }));
  // The probe expiring shows a pass with the rule under way; its pass, and the next, read the rule.
  await until('the rule expires the probe', () => missing(s3.send(new GetObjectCommand({ Bucket: name, Key: 'probe' }))), LIFECYCLE_DEADLINE_MS);
  await s3.send(new DeleteBucketCommand({ Bucket: name }));
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  const keys = Array.from({ length: 30 }, (_, i) => `new-${i}`);
  for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: name, Key: key, Body: 'the new bucket\'s' }));
  // Every node finishes the pass it is in and one more, begun after the old bucket was gone.
  const before = await passes();
  await until('two more passes on every node', async () => (await passes()).every((count, i) => count >= (before[i] as number) + 2), LIFECYCLE_DEADLINE_MS * 2);
  const gone: string[] = [];
  for (const key of keys) if (await missing(s3.send(new GetObjectCommand({ Bucket: name, Key: key })))) gone.push(key);
  t.same(gone, [], 'every object of the new bucket is still there');
});

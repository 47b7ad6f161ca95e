import { GetObjectCommand, ListObjectVersionsCommand, PutBucketLifecycleConfigurationCommand, PutBucketVersioningCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { startGcCluster } from '../storage-node/gc-cluster.js';
import { until } from '../helpers/until.js';

/**
 * Lifecycle rules of a key whose leading node is down: the next member of the key's set stands in once
 * the leader has been silent for three lifecycle intervals, and when the leader returns and acts on the
 * same keys nothing is applied twice (the marker an expiry writes has the same id on every member).
 */

async function missing(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return false;
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return true;
    throw err;
  }
}

t.test('with the leading node down the next member of the set applies the rules, and the leader coming back changes nothing', async (t) => {
  const cluster = await startGcCluster(t, { lifecycleDaySeconds: 1, lifecycleIntervalMs: 200, lifecycleKeysPerSecond: 0, gc: false, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const written = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/scratch.bin', Body: 'scratch' }));
  const set = await cluster.setOf(bucket, 'tmp/scratch.bin');
  const [leader = 0, next = 1] = set;
  const stoodIn = async (i: number): Promise<number> => ((await cluster.node(i).workStatus()).workers.lifecycle as { worker?: { keysForSilentLeaders?: number } }).worker?.keysForSilentLeaders ?? 0;
  await cluster.stopNode(leader);

  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: 'expire-tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }] },
    }),
  );
  await until('the expired version is hidden by a delete marker', () => missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tmp/scratch.bin' }))), 60_000);
  t.ok((await stoodIn(next)) >= 1, 'the member after the silent leader acted for its key');
  const others = set.filter((i) => i !== leader && i !== next);
  t.same(await Promise.all(others.map(stoodIn)), others.map(() => 0), 'no member further down the set acted');

  const versions = async (): Promise<{ versions: string[]; markers: string[] }> => {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'tmp/' }));
    return { versions: (page.Versions ?? []).map((v) => v.VersionId ?? ''), markers: (page.DeleteMarkers ?? []).map((m) => m.VersionId ?? '') };
  };
  const after = await versions();
  t.same(after.versions, [written.VersionId], 'the expired version stays as a noncurrent version');
  t.equal(after.markers.length, 1, 'one delete marker');

  await cluster.startNode(leader);
  const passes = async (): Promise<number> => ((await cluster.node(leader).workStatus()).figures.lifecycle as { passes: number }).passes;
  await until('the returning leader ran two lifecycle passes', async () => (await passes()) >= 2, 60_000);
  t.same(await versions(), after, 'the leader acting on the same key wrote nothing more: still one marker over the one version');
  t.ok(await missing(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tmp/scratch.bin' }))), 'GET still answers 404');
});

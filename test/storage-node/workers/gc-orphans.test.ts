import { access, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { morePasses, startGcCluster } from '../gc-cluster.js';
import { until } from '../../helpers/until.js';

/**
 * Issue 7, garbage collection of files no metadata row points to, on a running node: start-up recovery
 * removes them at the next start, the collector does it while the node runs, but only once they are
 * older than the settle time, so a write that has renamed its file but not yet recorded it is never hit.
 */
async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

t.test('an orphan shard file and a temporary file older than the settle time are removed; fresh ones and registered shards are not', async (t) => {
  const settleMs = 30_000;
  const cluster = await startGcCluster(t, { gcTombstoneGraceMs: 120_000, gcSettleMs: settleMs, gcIntervalMs: 200, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  // Shards above the segment threshold (1 MiB), so each node keeps this object's shard in a file of its own.
  const body = seededBytes(4 * 1024 * 1024 + 512 * 1024, 9);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'registered', Body: body }));

  const past = new Date(Date.now() - 2 * settleMs);
  // The object's own shard files are made old too: age alone must never condemn a registered file.
  let registeredFiles = 0;
  for (const dir of cluster.dataDirs) {
    const shards = join(dir, 'shards');
    for (const sub of await readdir(shards)) {
      for (const name of await readdir(join(shards, sub))) {
        await utimes(join(shards, sub, name), past, past);
        registeredFiles += 1;
      }
    }
  }
  t.equal(registeredFiles, 6, 'the object has a shard file on each node');
  const dataDir = cluster.dataDirs[0] as string;
  const oldOrphan = join(dataDir, 'shards', 'ab', 'ab'.padEnd(40, '0'));
  const freshOrphan = join(dataDir, 'shards', 'cd', 'cd'.padEnd(40, '1'));
  const oldTmp = join(dataDir, 'tmp', 'interrupted-write');
  const freshTmp = join(dataDir, 'tmp', 'write-in-flight');
  await writeFile(oldOrphan, seededBytes(10_000, 1));
  await writeFile(freshOrphan, seededBytes(20_000, 2));
  await writeFile(oldTmp, seededBytes(3_000, 3));
  await writeFile(freshTmp, seededBytes(4_000, 4));
  await utimes(oldOrphan, past, past);
  await utimes(oldTmp, past, past);

  await until('the old orphan and temporary file are removed', async () => !(await exists(oldOrphan)) && !(await exists(oldTmp)), 20_000);
  await morePasses(cluster, [0], 1);
  t.ok(await exists(freshOrphan), 'an unregistered shard file younger than the settle time stays (a write may be about to record it)');
  t.ok(await exists(freshTmp), 'a temporary file younger than the settle time stays (a write may be streaming into it)');
  const figures = await cluster.gcFigures(0);
  t.equal(figures.orphanFilesRemoved, 1, 'one orphan shard file removed');
  t.equal(figures.tmpFilesRemoved, 1, 'one temporary file removed');
  t.equal(figures.bytesFreed, 13_000, 'bytes freed are the two files’ sizes');
  t.equal(await cluster.total('orphanFilesRemoved'), 1, 'no other node found an orphan: old registered shard files are never taken for one');
  const read = await collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'registered' }))).Body as AsyncIterable<Uint8Array>);
  t.ok(read.equals(body), 'the object stored as shard files reads byte-identical');
  for (const [node, status] of (await cluster.statuses(bucket, 'registered')).entries()) t.equal(status?.record.deleted, false, `node-${node} still holds its shard`);
});

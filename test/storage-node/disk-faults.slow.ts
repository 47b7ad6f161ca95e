import { execFile } from 'node:child_process';
import { mkdir, open, readdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { t, type Test } from 'tap';
import { collect, seededBytes } from '../helpers/bytes.js';
import { underCi } from '../helpers/clients.js';
import { until } from '../helpers/until.js';
import { MetadataStore, MetadataWriteFenced } from '../../src/storage-node/metadata-store.js';
import { startFaultCluster, type FaultCluster } from './fault-cluster.js';
import { tempDir } from './store-fixture.js';

const run = promisify(execFile);

async function put(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function get(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

async function putError(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<{ name: string; status: number | undefined }> {
  try {
    await put(s3, bucket, key, body);
    return { name: 'none', status: 200 };
  } catch (err) {
    return { name: (err as Error).name, status: (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode };
  }
}

/** Every shard node i reports as committed for these keys reads back with its checksums intact. */
async function nodeShardsIntact(cluster: FaultCluster, index: number, bucket: string, keys: string[]): Promise<number> {
  const client = cluster.nodeClient(index);
  let checked = 0;
  for (const key of keys) {
    const status = await client.objectStatus(bucket, key);
    if (status === null || status.shardIndex === null) continue;
    const ref = { bucket, key, versionId: status.record.versionId, shardIndex: status.shardIndex };
    const bytes = await collect(await client.readShard(ref, 0, status.shardSizeBytes));
    if (bytes.length !== status.shardSizeBytes) throw new Error(`${key}: short shard on node ${index}`);
    checked += 1;
  }
  return checked;
}

/** The temporary files in every node's `tmp/`, as `node-i/name`. */
async function tmpFiles(cluster: FaultCluster): Promise<string[]> {
  const names: string[] = [];
  for (const [i, dir] of cluster.dataDirs.entries()) for (const name of await readdir(join(dir, 'tmp'))) names.push(`node-${i}/${name}`);
  return names;
}

/**
 * The temporary files still there once the writes in flight have finished, waiting up to 30 s for them.
 * A PUT is answered once its write quorum has committed, and a node's own repair may be rebuilding a
 * shard its peer could not store: either can hold a temporary file for a moment after the last request
 * the test made. None may outlive its write.
 */
async function tmpFilesLeft(t: Test, cluster: FaultCluster): Promise<string[]> {
  let left = await tmpFiles(cluster);
  if (left.length > 0) t.comment(`temporary files right after the last request: ${left.join(', ')}`);
  // On a timeout the caller's assertion names what is left.
  await until('writes in flight to remove their temporary files', async () => (left = await tmpFiles(cluster)).length === 0, 30_000).catch(() => undefined);
  return left;
}

t.test('a node at its capacity limit refuses shards with 507 while PUTs succeed on the write quorum; nothing stored is damaged', async (t) => {
  const root = await tempDir(t, 'fault-capacity');
  const cluster = await startFaultCluster(root, { 0: { capacityBytes: 400_000 } });
  t.teardown(() => cluster.close());
  const { s3 } = cluster;
  await s3.send(new CreateBucketCommand({ Bucket: 'faults' }));
  const objects = new Map<string, Buffer>();
  for (let i = 0; i < 8; i += 1) {
    const body = seededBytes(i % 2 === 0 ? 600_000 : 20_000, i);
    await put(s3, 'faults', `obj-${i}`, body);
    objects.set(`obj-${i}`, body);
  }
  const health = await cluster.nodeClient(0).health();
  t.ok((health.noSpaceRefusals ?? 0) > 0, `node-0 refused ${health.noSpaceRefusals} shards`);
  t.ok((health.usedBytes ?? Infinity) <= 400_000, 'and stayed within its limit');
  for (const [key, body] of objects) t.ok((await get(s3, 'faults', key)).equals(body), `${key} reads back`);
  t.ok((await nodeShardsIntact(cluster, 0, 'faults', [...objects.keys()])) > 0, 'the full node still serves what it holds');
  t.same(await tmpFilesLeft(t, cluster), [], 'no temporary file outlives the writes in flight');
});

t.test('with fewer nodes than a write quorum able to store, a PUT is an S3 error and the previous version stays', async (t) => {
  const root = await tempDir(t, 'fault-quorum');
  const full = { capacityBytes: 100_000 };
  const cluster = await startFaultCluster(root, { 0: full, 1: full, 2: full });
  t.teardown(() => cluster.close());
  const { s3 } = cluster;
  await s3.send(new CreateBucketCommand({ Bucket: 'faults' }));
  const v1 = seededBytes(40_000, 1);
  await put(s3, 'faults', 'k', v1);
  const refused = await putError(s3, 'faults', 'k', seededBytes(2_000_000, 2));
  t.ok(refused.status !== undefined && refused.status >= 500, `answered ${refused.status} ${refused.name}`);
  t.ok(['ServiceUnavailable', 'SlowDown', 'InternalError'].includes(refused.name), 'with an S3 error code');
  t.ok((await get(s3, 'faults', 'k')).equals(v1), 'the acknowledged version is still the one served');
  for (let i = 0; i < 6; i += 1) t.equal(await nodeShardsIntact(cluster, i, 'faults', ['k']), 1, `node-${i} still holds a good shard of v1`);
  t.same(await tmpFilesLeft(t, cluster), [], 'no temporary file outlives the refused write');
});

t.test('an I/O error on one node fails its shard write; the PUT succeeds on the others and the node recovers', async (t) => {
  const root = await tempDir(t, 'fault-io');
  // node-5's segments take one batch each, so every segment write it takes during the fault opens a new segment file.
  const cluster = await startFaultCluster(root, { 5: { segmentSizeBytes: 1 } });
  t.teardown(() => cluster.close());
  const { s3 } = cluster;
  await s3.send(new CreateBucketCommand({ Bucket: 'faults' }));
  const before = seededBytes(500_000, 1);
  await put(s3, 'faults', 'before', before);
  // Shard, segment and temporary directories that are not directories: every new shard file or segment
  // on node-5 fails to open, whether written in place (a client write) or through tmp/ (a repair). The
  // shards are kept aside.
  const dataDir = cluster.dataDirs[5] as string;
  const tmp = join(dataDir, 'tmp');
  const aside = ['shards', 'segments'].map((name) => join(dataDir, name));
  await rm(tmp, { recursive: true });
  await writeFile(tmp, 'not a directory');
  for (const dir of aside) {
    await rename(dir, `${dir}-aside`);
    await writeFile(dir, 'not a directory');
  }
  // One object whose shards go to segments (125 KB each), one whose shards are files (1.1 MiB each).
  const during = seededBytes(500_000, 2);
  const duringLarge = seededBytes(4_600_000, 4);
  await put(s3, 'faults', 'during', during);
  await put(s3, 'faults', 'during-large', duringLarge);
  t.equal(await cluster.nodeClient(5).objectStatus('faults', 'during'), null, 'node-5 has no version of the failed write');
  t.equal(await cluster.nodeClient(5).objectStatus('faults', 'during-large'), null, 'nor of the failed large one');
  await rm(tmp);
  await mkdir(tmp);
  for (const dir of aside) {
    await rm(dir);
    await rename(`${dir}-aside`, dir);
  }
  t.equal(await nodeShardsIntact(cluster, 5, 'faults', ['before']), 1, 'what node-5 stored before is intact');
  await put(s3, 'faults', 'after', seededBytes(500_000, 3));
  t.equal(await nodeShardsIntact(cluster, 5, 'faults', ['after']), 1, 'node-5 stores again once the fault is gone');
  t.ok((await get(s3, 'faults', 'before')).equals(before));
  t.ok((await get(s3, 'faults', 'during')).equals(during));
  t.ok((await get(s3, 'faults', 'during-large')).equals(duringLarge));
});

const ROOT_ON_LINUX = process.platform === 'linux' && process.getuid?.() === 0;
/** Outside CI a test that needs root is skipped without it; under CI it runs, and fails, rather than pass untested. */
const NEEDS_ROOT = ROOT_ON_LINUX || underCi() ? false : 'needs root on Linux to mount a tmpfs';
const MiB = 1024 * 1024;

/** Mounts a tmpfs; when it cannot, fails the test under CI (which runs as root) and skips it elsewhere. */
async function mountTmpfs(t: { fail(message: string): void; pass(message: string, extra: { skip: string }): void }, path: string, sizeBytes: number): Promise<boolean> {
  await mkdir(path, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', path]);
    return true;
  } catch (err) {
    const reason = `a tmpfs could not be mounted: ${(err as Error).message.split('\n')[0] ?? ''}`;
    if (underCi()) t.fail(`${reason}; CI runs as root and must run this test`);
    else t.pass('disk test skipped', { skip: reason });
    return false;
  }
}

/** Writes a file until the disk refuses more; returns its size. */
async function fillDisk(path: string): Promise<number> {
  const handle = await open(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += (await handle.write(block)).bytesWritten;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
  return written;
}

t.test('real disks (small tmpfs): the reserve refuses shards before a disk fills; a disk filled to the last byte fails writes cleanly; nothing stored is damaged', { skip: NEEDS_ROOT }, async (t) => {
  const root = await tempDir(t, 'fault-tmpfs');
  const disks = [join(root, 'disk-0'), join(root, 'disk-1')];
  const mounted: string[] = [];
  let cluster: FaultCluster | undefined;
  t.teardown(async () => {
    await cluster?.close();
    for (const disk of mounted) await run('umount', [disk]).catch(() => run('umount', ['-l', disk]));
  });
  for (const disk of disks) if (await mountTmpfs(t, disk, 6 * MiB)) mounted.push(disk);
  if (mounted.length < disks.length) return;
  // Disk 1 was nearly filled by someone else, and its node keeps no reserve: its writes meet ENOSPC.
  const filler = join(disks[1] as string, 'filler');
  await fillDisk(filler);
  await truncate(filler, (await stat(filler)).size - 2 * MiB);
  cluster = await startFaultCluster(root, {
    0: { dataDir: join(disks[0] as string, 'node'), reserveBytes: 2 * MiB },
    1: { dataDir: join(disks[1] as string, 'node'), reserveBytes: 0 },
  });
  const { s3, writer } = cluster;
  await s3.send(new CreateBucketCommand({ Bucket: 'faults' }));
  const objects = new Map<string, Buffer>();
  // With two of six nodes out of room a write has no node to spare: on a loaded machine one stalled
  // shard refuses it with 503, which clients retry, as these writes do.
  for (let i = 0; i < 40; i += 1) {
    const body = seededBytes(i % 4 === 0 ? 20_000 : 600_000, i);
    await put(writer, 'faults', `obj-${i}`, body);
    objects.set(`obj-${i}`, body);
  }
  const keys = [...objects.keys()];
  const [reserved, full] = [await cluster.nodeClient(0).health(), await cluster.nodeClient(1).health()];
  t.ok((reserved.noSpaceRefusals ?? 0) > 0, `the reserve made node-0 refuse ${reserved.noSpaceRefusals} shards`);
  t.ok(reserved.freeBytes > MiB, `and kept ${reserved.freeBytes} bytes of its disk free`);
  t.equal(reserved.status, 'ok', 'a refusal by the reserve does not degrade the node');
  t.ok((full.noSpaceRefusals ?? 0) > 0, `node-1 failed ${full.noSpaceRefusals} writes with ENOSPC; every PUT still succeeded`);
  t.comment(`node-1 health on the full disk: ${full.status}, ${full.ioErrors} LevelDB/disk errors, ${full.freeBytes} bytes free`);
  let good = 0;
  for (const [key, body] of objects) if ((await get(s3, 'faults', key)).equals(body)) good += 1;
  t.equal(good, objects.size, 'every object reads back');
  const held = [await nodeShardsIntact(cluster, 0, 'faults', keys), await nodeShardsIntact(cluster, 1, 'faults', keys)] as const;
  t.ok(held[0] > 0 && held[1] > 0, `the full nodes still serve the shards they hold (${held.join(', ')})`);

  await rm(filler);
  await cluster.restartNode(1);
  t.equal((await cluster.nodeClient(1).health()).status, 'ok', 'once space is freed, a restart brings node-1 back healthy');
  // At least: once it has room again, the cluster's repair may already be rebuilding what it could not store.
  const after = await nodeShardsIntact(cluster, 1, 'faults', keys);
  t.ok(after >= held[1], `with every shard it held (${after} >= ${held[1]})`);
  await put(writer, 'faults', 'after', seededBytes(600_000, 99));
  t.equal(await nodeShardsIntact(cluster, 1, 'faults', ['after']), 1, 'and it stores new shards again');
  // Repairs the restart set off may still be writing their temporary files; none may outlive them.
  t.same(await tmpFilesLeft(t, cluster), [], 'no temporary file is left once writes in flight finish');
});

t.test('after a metadata write fails on a full disk, later writes are refused, and every write acknowledged before survives a reopen', { skip: NEEDS_ROOT }, async (t) => {
  const root = await tempDir(t, 'fault-leveldb');
  const disk = join(root, 'disk');
  let mounted = false;
  let store: MetadataStore | undefined;
  t.teardown(async () => {
    await store?.close().catch(() => undefined);
    if (mounted) await run('umount', [disk]).catch(() => run('umount', ['-l', disk]));
  });
  mounted = await mountTmpfs(t, disk, 2 * MiB);
  if (!mounted) return;
  store = new MetadataStore(join(disk, 'metadata'));
  await store.open();
  // Another file takes the disk's space but the last 300 KiB; removing it later brings room back.
  const filler = join(disk, 'filler');
  await fillDisk(filler);
  await truncate(filler, (await stat(filler)).size - 300 * 1024);
  // Writes of a few KiB each until the disk refuses one; before the fix, LevelDB took later writes
  // after a torn log append and lost them when it reopened.
  const acknowledged = new Map<string, string>();
  let failure: unknown;
  for (let i = 0; i < 10_000 && failure === undefined; i += 1) {
    const value = `${i}:`.padEnd(3_000 + (i % 7) * 500, String.fromCharCode(97 + (i % 26)));
    try {
      await store.saveCursor(`w${i}`, value);
      acknowledged.set(`w${i}`, value);
    } catch (err) {
      failure = err;
    }
  }
  t.ok(failure !== undefined && acknowledged.size > 10, `a write failed after ${acknowledged.size} were acknowledged`);
  // Space comes back (a failed shard write removes its file): LevelDB would take later writes after its
  // torn log append, and lose them on reopening. Each must be refused, not acknowledged.
  await rm(filler);
  let refused = 0;
  for (let i = 0; i < 50; i += 1) {
    try {
      await store.saveCursor(`late${i}`, `late write ${i}`);
      acknowledged.set(`late${i}`, `late write ${i}`);
    } catch (err) {
      if (err instanceof MetadataWriteFenced) refused += 1;
    }
  }
  t.equal(refused, 50, 'every later write, even a small one, is refused');
  t.equal(await store.loadCursor(`w${acknowledged.size - 1}`), acknowledged.get(`w${acknowledged.size - 1}`), 'reads go on');
  await store.close();
  // Room again (a remount keeps a tmpfs's files), and the node restarts.
  await run('mount', ['-o', 'remount,size=16M', disk]);
  store = new MetadataStore(join(disk, 'metadata'));
  await store.open();
  let lost = 0;
  for (const [name, value] of acknowledged) if ((await store.loadCursor(name)) !== value) lost += 1;
  t.equal(lost, 0, `all ${acknowledged.size} acknowledged writes survive the reopen`);
  await store.saveCursor('after', 'small');
  t.equal(await store.loadCursor('after'), 'small', 'and the reopened store writes again');
});

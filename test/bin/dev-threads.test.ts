import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { nodeThreadCount, runDev } from '../../src/bin/roles.js';
import { silentLogger } from '../../src/common/index.js';
import { detectKernelSupport } from '../../src/erasure/index.js';
import { NODE_PATHS, NodeClient } from '../../src/rpc/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { localS3Client } from '../helpers/cluster.js';
import { TEST_DEV_ENV as DEV_ENV } from '../helpers/tree.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-dev-threads-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const credentials = { accessKeyId: 'tessera', secretAccessKey: 'tessera-dev-secret' };

t.test('the embedded default serves from nodes in worker threads, and the same data from nodes on its own thread after a restart', async (t) => {
  const dataDir = join(dir, 'data');
  const body = seededBytes(300_000, 7);
  const small = seededBytes(3_000, 8);
  for (const threads of ['2', '0']) {
    const dev = await runDev({ data: dataDir, listen: '127.0.0.1:0', nodes: '6', nodeThreads: threads }, DEV_ENV, silentLogger());
    const client = localS3Client(dev.info.endpoint, credentials);
    try {
      if (threads === '2') {
        await client.send(new CreateBucketCommand({ Bucket: 'threads' }));
        await client.send(new PutObjectCommand({ Bucket: 'threads', Key: 'large', Body: body }));
        await client.send(new PutObjectCommand({ Bucket: 'threads', Key: 'small', Body: small }));
      }
      for (const [key, expected] of [['large', body], ['small', small]] as const) {
        const got = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'threads', Key: key }))).Body!.transformToByteArray());
        t.ok(got.equals(expected), `--node-threads ${threads}: ${key} reads back`);
      }
      const secret = (await readFile(join(dataDir, 'cluster-secret'), 'utf8')).trim();
      const cluster = JSON.parse(await readFile(join(dataDir, 'cluster.json'), 'utf8')) as { nodes: { id: string; address: string }[] };
      const health = await Promise.all(
        cluster.nodes.map(async (node) => {
          const nodeClient = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: secret });
          try {
            return await nodeClient.health();
          } finally {
            await nodeClient.close();
          }
        }),
      );
      t.same(health.map((h) => h.status), Array(6).fill('ok'), `--node-threads ${threads}: all six nodes answer`);
    } finally {
      client.destroy();
      await dev.close();
    }
  }
  t.ok(detectKernelSupport().relaxedSimd, 'the embedded default has relaxed SIMD on for its erasure kernels (behind a flag on Node 20)');
});

t.test("the embedded gateway's batches, shard reads and shard uploads take the nodes' in-process links, not HTTP", async (t) => {
  const dev = await runDev({ data: join(dir, 'links'), listen: '127.0.0.1:0', nodes: '6', nodeThreads: '1' }, DEV_ENV, silentLogger());
  const client = localS3Client(dev.info.endpoint, credentials);
  // The nodes run in their own thread: every node-protocol request this thread sends is the gateway's.
  const requests: string[] = [];
  const onCreate = (message: unknown): void => {
    const { request } = message as { request: { method: string; path: string } };
    requests.push(`${request.method} ${request.path.split('?')[0] ?? ''}`);
  };
  subscribe('undici:request:create', onCreate);
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'links' }));
    const small = seededBytes(4_096, 9);
    for (let i = 0; i < 8; i++) await client.send(new PutObjectCommand({ Bucket: 'links', Key: `k${i}`, Body: small }));
    for (let i = 0; i < 8; i++) {
      const got = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'links', Key: `k${i}` }))).Body!.transformToByteArray());
      t.ok(got.equals(small), `k${i} reads back`);
    }
    // Shards of 100 KiB, over the inline limit: files on the nodes, read with shard GETs.
    const large = seededBytes(400_000, 10);
    await client.send(new PutObjectCommand({ Bucket: 'links', Key: 'large', Body: large }));
    const got = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'links', Key: 'large', Range: 'bytes=1000-399999' }))).Body!.transformToByteArray());
    t.ok(got.equals(large.subarray(1000)), 'a ranged read of file shards reads back');
    t.equal(requests.filter((request) => request === `POST ${NODE_PATHS.batch}`).length, 0, 'prepares, commits and version lookups went over the links');
    t.equal(requests.filter((request) => request.endsWith(` ${NODE_PATHS.shards}`)).length, 0, 'so did shard uploads and reads');
    t.ok(requests.includes(`PUT ${NODE_PATHS.buckets}`), 'records (the bucket) still speak HTTP');
  } finally {
    unsubscribe('undici:request:create', onCreate);
    client.destroy();
    await dev.close();
  }
});

t.test('a node that cannot start fails the start with its reason, and the nodes started beside it are closed', async (t) => {
  for (const threads of ['1', '0']) {
    const dataDir = join(dir, `broken-${threads}`);
    await mkdir(dataDir, { recursive: true });
    // node-3's data directory is a file: that node cannot start, the five beside it can.
    await writeFile(join(dataDir, 'node-3'), 'not a directory');
    await t.rejects(runDev({ data: dataDir, listen: '127.0.0.1:0', nodes: '6', nodeThreads: threads }, DEV_ENV, silentLogger()), /storage node node-3 did not start: .*(directory|ENOTDIR)/i, `--node-threads ${threads}: the start fails, naming the node and why`);
    // Were any of the five still open, its LevelDB lock would refuse the next start.
    await rm(join(dataDir, 'node-3'));
    const dev = await runDev({ data: dataDir, listen: '127.0.0.1:0', nodes: '6', nodeThreads: threads }, DEV_ENV, silentLogger());
    await dev.close();
    t.pass(`--node-threads ${threads}: the same data directory starts once the fault is gone`);
  }
});

t.test('a bad --node-threads is refused before anything starts', async (t) => {
  await t.rejects(runDev({ data: join(dir, 'bad'), listen: '127.0.0.1:0', nodes: '6', nodeThreads: 'many' }, DEV_ENV, silentLogger()), /--node-threads/);
});

t.test('by default the nodes get every core but the gateway\'s: one thread on 1 or 2 cores, never more threads than nodes', async (t) => {
  t.equal(nodeThreadCount(undefined, 6, 1), 1, 'one core: the nodes still leave the gateway\'s thread');
  t.equal(nodeThreadCount(undefined, 6, 2), 1, 'two cores: one for the gateway, one for the nodes');
  t.equal(nodeThreadCount(undefined, 6, 4), 3);
  t.equal(nodeThreadCount(undefined, 6, 16), 6, 'at most one thread per node');
  t.equal(nodeThreadCount('0', 6, 16), 0, '--node-threads 0 keeps them on the gateway\'s thread');
  t.equal(nodeThreadCount('4', 6, 2), 4, 'an explicit count is taken as given');
});

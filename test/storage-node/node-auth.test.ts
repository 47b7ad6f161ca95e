import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { request } from 'undici';
import { silentLogger } from '../../src/common/index.js';
import { NODE_PATHS, NodeClient, UNSIGNED_BODY, signRequest } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';

const SECRET = 'node-auth-test-secret';
const dataDir = await mkdtemp(join(tmpdir(), 'tessera-node-auth-'));
const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
const { port } = await node.start();
t.teardown(async () => {
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

const shardUrl = `${NODE_PATHS.shards}?bucket=b&key=k&version=0000000000010000aaaaaaaa&shard=0&k=4&m=2&block=65536`;

async function putShard(headers: Record<string, string>): Promise<number> {
  const response = await request(`http://127.0.0.1:${port}${shardUrl}`, { method: 'PUT', headers, body: Buffer.alloc(1000, 7) });
  await response.body.dump();
  return response.statusCode;
}

async function shardFiles(): Promise<number> {
  const root = join(dataDir, 'shards');
  let count = 0;
  for (const dir of await readdir(root)) count += (await readdir(join(root, dir))).length;
  return count;
}

t.test('a node refuses unsigned, wrongly signed and stale requests with 401 and writes nothing', async (t) => {
  t.equal(await putShard({}), 401, 'no signature');
  t.equal(await putShard(signRequest('another-secret', 'PUT', shardUrl, UNSIGNED_BODY, Date.now())), 401, 'wrong secret');
  t.equal(await putShard(signRequest(SECRET, 'PUT', shardUrl, UNSIGNED_BODY, Date.now() - 6 * 60 * 1000)), 401, 'stale signature');
  t.equal(await putShard(signRequest(SECRET, 'PUT', shardUrl.replace('shard=0', 'shard=1'), UNSIGNED_BODY, Date.now())), 401, 'signature of another URL');
  t.equal(await shardFiles(), 0, 'no shard file was written');
  const listing = await request(`http://127.0.0.1:${port}${NODE_PATHS.buckets}`);
  t.equal(listing.statusCode, 401, 'reads need a signature too');
  await listing.body.dump();
  t.equal(await putShard(signRequest(SECRET, 'PUT', shardUrl, UNSIGNED_BODY, Date.now())), 200, 'a valid signature is accepted');
  t.equal(await shardFiles(), 1);
});

t.test('a JSON body that does not match its signed hash is refused', async (t) => {
  const body = JSON.stringify({ name: 'bucket-a', versionId: '0000000000010000aaaaaaaa', createdMs: 1, deleted: false });
  const headers = signRequest(SECRET, 'PUT', NODE_PATHS.buckets, 'e'.repeat(64), Date.now());
  const response = await request(`http://127.0.0.1:${port}${NODE_PATHS.buckets}`, { method: 'PUT', headers, body });
  await response.body.dump();
  t.equal(response.statusCode, 401);
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(() => client.close());
  t.same(await client.listBuckets(), [], 'nothing was stored');
});

t.test('wire strings never become paths: hostile bucket and key names stay inside the data directory', async (t) => {
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(() => client.close());
  const { Readable } = await import('node:stream');
  for (const key of ['../../../../etc/passwd', '/etc/passwd', '..%2F..%2Fx', 'a/../../b']) {
    const ref = { bucket: '..', key, versionId: '0000000000020000aaaaaaaa', shardIndex: 0 };
    await client.putShard(ref, { dataShards: 4, parityShards: 2, blockSizeBytes: 65536 }, Readable.from([Buffer.from('hostile')]));
  }
  const badKey = { bucket: 'b', key: 'nul\0key', versionId: '0000000000020000aaaaaaaa', shardIndex: 0 };
  await t.rejects(
    client.putShard(badKey, { dataShards: 4, parityShards: 2, blockSizeBytes: 65536 }, Readable.from([Buffer.from('x')])),
    { code: 'BadRequest' },
    'NUL bytes are refused',
  );
  const top = (await readdir(dataDir)).sort();
  t.same(top, ['meta', 'shards', 'tmp'], 'nothing was created outside the node’s own folders');
});

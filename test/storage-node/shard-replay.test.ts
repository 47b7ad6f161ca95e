import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import { Client } from 'undici';
import { silentLogger } from '../../src/common/index.js';
import { MAX_SIGNATURE_SKEW_MS, NODE_HEADER, NODE_PATHS, NodeClient, ReplayGuard, UNSIGNED_BODY, signRequest } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { collect, seededBytes } from '../helpers/bytes.js';
import { openStore, recordFor, tempDir } from './store-fixture.js';

const SECRET = 'shard-replay-test-secret';

async function send(port: number, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; text: string }> {
  const client = new Client(`http://127.0.0.1:${port}`);
  try {
    const response = await client.request({ path, method: 'PUT', headers, body });
    return { status: response.statusCode, text: await response.body.text() };
  } finally {
    await client.close();
  }
}

t.test('a captured signed shard PUT cannot be sent again, with another body or the same', async (t) => {
  const dataDir = await tempDir(t, 'replay');
  const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), inlineMaxShardBytes: 100 });
  const { port } = await node.start();
  t.teardown(() => node.close());
  const ref = { bucket: 'b', key: 'k', versionId: '0000000000010000aaaaaaaa', shardIndex: 0 };
  const path = `${NODE_PATHS.shards}?bucket=b&key=k&version=${ref.versionId}&shard=0&k=4&m=2&block=65536`;
  const captured = signRequest(SECRET, 'PUT', path, UNSIGNED_BODY, Date.now(), 'n0');
  const original = seededBytes(5000, 1);
  t.equal((await send(port, path, captured, original)).status, 200, 'the original write is accepted');
  const forged = seededBytes(5000, 2);
  const replay = await send(port, path, captured, forged);
  t.equal(replay.status, 401, 'the replay with another body is refused');
  t.match(replay.text, /replayed/);
  t.equal((await send(port, path, captured, original)).status, 401, 'and so is a replay of the same bytes');
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(() => client.close());
  await client.commit({ record: recordFor(ref, 20_000), shardIndex: 0 });
  t.ok((await collect(await client.readShard(ref, 0, 5000))).equals(original), 'the node holds the original bytes');
  await client.putShard({ ...ref, versionId: '0000000000020000aaaaaaaa' }, { dataShards: 4, parityShards: 2, blockSizeBytes: 65536 }, (await import('node:stream')).Readable.from([forged]));
  t.pass('a freshly signed write of the same shard path is accepted');
});

/** A stand-in for a decoded signature, distinct per letter. */
function sig(letter: string): Buffer {
  return Buffer.alloc(32, letter);
}

t.test('after a restart, shard PUTs signed before the node started are refused; later ones are not', async (t) => {
  let nowMs = 1_800_000_000_000;
  const guard = new ReplayGuard({ startMs: nowMs });
  t.equal(guard.admit(sig('a'), nowMs - 1, nowMs), 'before-start');
  t.equal(guard.admit(sig('a'), nowMs, nowMs), null);
  t.equal(guard.admit(sig('a'), nowMs, nowMs + 1), 'replayed');
  t.equal(guard.admit(sig('b'), nowMs + 5, nowMs + 5), null);
  nowMs += MAX_SIGNATURE_SKEW_MS + 10;
  t.equal(guard.admit(sig('c'), nowMs, nowMs), null);
  t.equal(guard.size, 1, 'signatures too old to pass the time check are forgotten');
  const full = new ReplayGuard({ startMs: 0, maxEntries: 2 });
  t.equal(full.admit(sig('x'), 1, 1), null);
  t.equal(full.admit(sig('y'), 1, 1), null);
  t.equal(full.admit(sig('z'), 1, 1), 'too-many', 'a full guard refuses rather than forgets');
});

t.test('a record naming a file outside the shard folder is refused: nothing outside the data directory is read or removed', async (t) => {
  const root = await tempDir(t, 'forged-record');
  const dataDir = join(root, 'node');
  await mkdir(join(root, 'sentinel'), { recursive: true });
  const sentinel = join(root, 'sentinel', 'secret');
  await writeFile(sentinel, 'not a shard');
  const store = await openStore(dataDir);
  t.teardown(() => store.close());
  const ref = { bucket: 'b', key: 'forged', versionId: '0000000000010000aaaaaaaa', shardIndex: 0 };
  await store.metadata.putPrepared(ref, { file: '../../sentinel/secret', shardSizeBytes: 11, preparedMs: 0 });
  await store.commit({ record: recordFor(ref, 44), shardIndex: 0 }).catch(() => undefined);
  await t.rejects(store.openShard(ref, 0, 11), { code: 'ShardCorrupt' });
  await store.abort(ref).catch(() => undefined);
  await store.commit({ record: recordFor({ ...ref, versionId: '0000000000020000aaaaaaaa' }, 44, true), shardIndex: null }).catch(() => undefined);
  t.equal(await readFile(sentinel, 'utf8'), 'not a shard', 'the file outside is untouched');
});

t.test('a shard PUT captured on its way to one node is refused by every other, whatever node header it is given', async (t) => {
  const root = await tempDir(t, 'replay-nodes');
  const start = async (nodeId: string): Promise<number> => {
    const node = new StorageNode({ nodeId, dataDir: join(root, nodeId), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), inlineMaxShardBytes: 100 });
    const { port } = await node.start();
    t.teardown(() => node.close());
    return port;
  };
  const [first, second] = [await start('n0'), await start('n1')];
  const path = `${NODE_PATHS.shards}?bucket=b&key=k&version=0000000000010000aaaaaaaa&shard=0&k=4&m=2&block=65536`;
  const captured = signRequest(SECRET, 'PUT', path, UNSIGNED_BODY, Date.now(), 'n0');
  const forged = seededBytes(5000, 2);
  const asIs = await send(second, path, captured, forged);
  t.equal(asIs.status, 401, 'sent as captured, to another node');
  t.match(asIs.text, /signed for node n0; this is node n1/);
  t.equal((await send(second, path, { ...captured, [NODE_HEADER]: 'n1' }, forged)).status, 401, 'readdressed to that node');
  const { [NODE_HEADER]: _node, ...stripped } = captured;
  t.equal((await send(second, path, stripped, forged)).status, 401, 'with its node header removed');
  t.equal((await send(first, path, captured, seededBytes(5000, 1))).status, 200, 'the node it was signed for takes it');
});

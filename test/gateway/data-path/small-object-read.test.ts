import { t } from 'tap';
import { HybridClock, silentLogger } from '../../../src/common/index.js';
import { createCodec } from '../../../src/erasure/index.js';
import { commitShards, prepareShards, resolveVersion, type WriteTarget } from '../../../src/gateway/data-path/index.js';
import { openStripeStream } from '../../../src/gateway/data-path/stripe-reader.js';
import { NodeClient, type ObjectRecord } from '../../../src/rpc/index.js';
import { StorageNode } from '../../../src/storage-node/index.js';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { tempDir } from '../../storage-node/store-fixture.js';

// A small object's shards are inline on their nodes and come back with the version lookup: its GET
// is one round of node calls, and still survives lost shards.
const SECRET = 'small-read-secret';
const erasure = { dataShards: 4, parityShards: 2, blockSizeBytes: 65_536 };
const codec = createCodec({ dataShards: 4, parityShards: 2 });
const clock = new HybridClock();

async function startNodes(t: { teardown(fn: () => Promise<void>): void }): Promise<{ nodes: StorageNode[]; clients: NodeClient[] }> {
  const dir = await tempDir(t, 'small-read');
  const nodes: StorageNode[] = [];
  const clients: NodeClient[] = [];
  for (let i = 0; i < 6; i += 1) {
    const node = new StorageNode({ nodeId: `n${i}`, dataDir: `${dir}/n${i}`, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), healing: false });
    const { port } = await node.start();
    nodes.push(node);
    clients.push(new NodeClient({ nodeId: `n${i}`, address: `127.0.0.1:${port}`, clusterSecret: SECRET }));
  }
  t.teardown(async () => {
    await Promise.all(clients.map((client) => client.close()));
    for (const node of nodes) await node.close();
  });
  return { nodes, clients };
}

/** Wraps clients so that every shard read is counted. */
function countingReads(clients: readonly NodeClient[]): { clients: NodeClient[]; reads: () => number } {
  let count = 0;
  const wrapped = clients.map(
    (client) =>
      new Proxy(client, {
        get(target, property, receiver) {
          if (property === 'readShard') count += 1;
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
  );
  return { clients: wrapped, reads: () => count };
}

async function write(clients: readonly NodeClient[], key: string, body: Buffer): Promise<void> {
  const target: WriteTarget = { bucket: 'b', key, versionId: clock.next(), nodes: clients, erasure, codec };
  const { sizeBytes, holders } = await prepareShards(target, (async function* one() { yield body; })(), { signal: new AbortController().signal, stallTimeoutMs: 5000 });
  const record: ObjectRecord = {
    bucket: 'b', key, versionId: target.versionId, deleted: false, sizeBytes, etag: '"x"', lastModifiedMs: 0,
    contentType: 'application/octet-stream', userMetadata: {}, headers: {}, checksums: {}, erasure,
  };
  await commitShards(target, holders, record, AbortSignal.timeout(10_000));
}

async function read(clients: NodeClient[], key: string, offset = 0, length?: number): Promise<Buffer> {
  const version = await resolveVersion({ nodes: clients }, 'b', key, erasure, AbortSignal.timeout(10_000), { withInlineShards: true });
  if (version === null) throw new Error('no version');
  const stream = await openStripeStream(version, offset, length ?? version.record.sizeBytes - offset, {
    codec, signal: new AbortController().signal, stallTimeoutMs: 5000, logger: silentLogger(),
  });
  return collect(stream);
}

t.test('a small object reads back from the version lookup alone, whole and in ranges', async (t) => {
  const { clients } = await startNodes(t);
  const body = seededBytes(10_000, 1);
  await write(clients, 'small', body);
  const counted = countingReads(clients);
  t.ok((await read(counted.clients, 'small')).equals(body), 'the whole body');
  t.ok((await read(counted.clients, 'small', 2_999, 4_000)).equals(body.subarray(2_999, 6_999)), 'a range across shards');
  t.equal(counted.reads(), 0, 'no shard was read on its own');
});

t.test('a small object with two shards lost is rebuilt from the inline parity shards', async (t) => {
  const { nodes, clients } = await startNodes(t);
  const body = seededBytes(9_999, 2);
  await write(clients, 'degraded', body);
  await nodes[0]?.close();
  await nodes[2]?.close();
  const counted = countingReads(clients);
  t.ok((await read(counted.clients, 'degraded')).equals(body), 'the body is rebuilt');
  t.equal(counted.reads(), 0, 'still from the lookup alone');
});

t.test('an object too large to be inline is read through shard reads, as before', async (t) => {
  const { clients } = await startNodes(t);
  const body = seededBytes(200_000, 3);
  await write(clients, 'large', body);
  const counted = countingReads(clients);
  t.ok((await read(counted.clients, 'large')).equals(body));
  t.ok(counted.reads() >= 4, 'its data shards were read');
});

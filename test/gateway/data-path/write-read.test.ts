import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { HybridClock, silentLogger } from '../../../src/common/index.js';
import { createCodec } from '../../../src/erasure/index.js';
import { commitShards, prepareShards, resolveVersion, type WriteTarget } from '../../../src/gateway/data-path/index.js';
import { openStripeStream } from '../../../src/gateway/data-path/stripe-reader.js';
import { NodeClient, type ObjectRecord } from '../../../src/rpc/index.js';
import { StorageNode } from '../../../src/storage-node/index.js';
import { collect, seededBytes } from '../../helpers/bytes.js';

// The gateway's write and read paths against six real storage nodes, below the S3 layer.
const SECRET = 'data-path-secret';
const dir = await mkdtemp(join(tmpdir(), 'tessera-data-path-'));

/** Starts `count` storage nodes named prefix0, prefix1, … with a client for each. */
async function startNodes(prefix: string, count: number): Promise<{ nodes: StorageNode[]; clients: NodeClient[] }> {
  const started = { nodes: [] as StorageNode[], clients: [] as NodeClient[] };
  for (let i = 0; i < count; i += 1) {
    const id = `${prefix}${i}`;
    const node = new StorageNode({ nodeId: id, dataDir: join(dir, id), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
    const { port } = await node.start();
    started.nodes.push(node);
    started.clients.push(new NodeClient({ nodeId: id, address: `127.0.0.1:${port}`, clusterSecret: SECRET }));
  }
  return started;
}

const { nodes, clients } = await startNodes('n', 6);
t.teardown(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const node of nodes) await node.close();
  await rm(dir, { recursive: true, force: true });
});

const erasure = { dataShards: 4, parityShards: 2, blockSizeBytes: 4096 };
const codec = createCodec({ dataShards: 4, parityShards: 2 });
const clock = new HybridClock();

async function* pieces(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function write(key: string, body: Buffer, targetNodes: readonly NodeClient[] = clients): Promise<ObjectRecord> {
  const target: WriteTarget = { bucket: 'b', key, versionId: clock.next(), nodes: targetNodes, erasure, codec };
  const { sizeBytes, holders } = await prepareShards(target, pieces(body, 1000), { signal: new AbortController().signal, stallTimeoutMs: 2000 });
  const record: ObjectRecord = {
    bucket: 'b', key, versionId: target.versionId, deleted: false, sizeBytes, etag: '"x"', lastModifiedMs: Date.now(),
    contentType: 'application/octet-stream', userMetadata: {}, headers: {}, checksums: {}, erasure,
  };
  await commitShards(target, holders, record, AbortSignal.timeout(5000));
  return record;
}

async function read(key: string, offset?: number, length?: number): Promise<Buffer> {
  const version = await resolveVersion({ nodes: clients }, 'b', key, erasure, AbortSignal.timeout(5000));
  if (version === null) throw new Error('no version');
  const stream = await openStripeStream(version, offset ?? 0, length ?? version.record.sizeBytes, {
    codec, signal: new AbortController().signal, stallTimeoutMs: 2000, logger: silentLogger(),
  });
  return collect(stream);
}

t.test('bodies of every stripe shape round-trip through prepare, commit and read', async (t) => {
  for (const size of [0, 1, 4095, 4096, 16383, 16384, 16385, 100_000]) {
    const body = seededBytes(size, size + 3);
    await write(`k${size}`, body);
    t.ok((await read(`k${size}`)).equals(body), `${size} bytes`);
    if (size > 10) t.ok((await read(`k${size}`, 7, size - 9)).equals(body.subarray(7, size - 2)), `${size} bytes, inner range`);
  }
});

t.test('the newest committed version wins and a delete marker hides the key', async (t) => {
  await write('over', Buffer.from('first'));
  await write('over', Buffer.from('second, longer'));
  t.equal((await read('over')).toString(), 'second, longer');
  const marker: ObjectRecord = {
    bucket: 'b', key: 'over', versionId: clock.next(), deleted: true, sizeBytes: 0, etag: '""', lastModifiedMs: Date.now(),
    contentType: '', userMetadata: {}, headers: {}, checksums: {}, erasure,
  };
  await Promise.all(clients.map((c) => c.commit({ record: marker, shardIndex: null })));
  t.equal(await resolveVersion({ nodes: clients }, 'b', 'over', erasure, AbortSignal.timeout(5000)), null);
});

t.test('reads reconstruct when data shards are unreachable', async (t) => {
  const body = seededBytes(50_000, 77);
  await write('degraded', body);
  const version = await resolveVersion({ nodes: clients }, 'b', 'degraded', erasure, AbortSignal.timeout(5000));
  t.ok(version);
  if (version === null) return;
  version.holders.delete(0);
  version.holders.delete(2);
  const stream = await openStripeStream(version, 0, body.length, { codec, signal: new AbortController().signal, stallTimeoutMs: 2000, logger: silentLogger() });
  t.ok((await collect(stream)).equals(body), 'two data shards missing, bytes intact');
});

t.test('a write below quorum fails and leaves no visible version', async (t) => {
  const dead = ['n3', 'n4', 'n5'].map((id) => new NodeClient({ nodeId: id, address: '127.0.0.1:1', clusterSecret: SECRET }));
  t.teardown(() => Promise.all(dead.map((c) => c.close())));
  const mixed = [...clients.slice(0, 3), ...dead];
  await t.rejects(write('lost', seededBytes(30_000, 1), mixed), { code: 'ServiceUnavailable' });
  t.equal(await resolveVersion({ nodes: clients }, 'b', 'lost', erasure, AbortSignal.timeout(5000)), null, 'nothing visible');
});

t.test('a node that accepts connections but never answers does not hold up a read', async (t) => {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const hung = new NodeClient({ nodeId: 'hung', address: `127.0.0.1:${port}`, clusterSecret: SECRET, headersTimeoutMs: 60_000 });
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    silent.close();
    await hung.close();
  });
  const body = seededBytes(40_000, 9);
  await write('hung', body);
  // The read's metadata round may wait up to 60 s for the silent node; it must not need to.
  const set = [...clients.slice(0, 5), hung];
  const started = Date.now();
  const version = await resolveVersion({ nodes: set }, 'b', 'hung', erasure, AbortSignal.timeout(60_000));
  t.ok(version, 'resolved without the silent node');
  if (version === null) return;
  const stream = await openStripeStream(version, 0, body.length, { codec, signal: new AbortController().signal, stallTimeoutMs: 60_000, logger: silentLogger() });
  t.ok((await collect(stream)).equals(body));
  t.ok(Date.now() - started < 30_000, 'finished long before the silent node could time out');
});

t.test('during a ring change a read finds versions only the previous set holds, and the newest of both sets wins', async (t) => {
  // The new set shares only positions 3-5 with the old one; its three new members start empty.
  const { nodes: spares, clients: spareClients } = await startNodes('s', 3);
  t.teardown(async () => {
    await Promise.all(spareClients.map((c) => c.close()));
    for (const node of spares) await node.close();
  });
  const current = [...spareClients, ...clients.slice(3)];
  const older = seededBytes(50_000, 21);
  await write('moving', older);
  const resolveBoth = () => resolveVersion({ nodes: current, previous: clients }, 'b', 'moving', erasure, AbortSignal.timeout(5000));
  const found = await resolveBoth();
  t.ok(found, 'the version written under the previous ring is found');
  if (found === null) return;
  const stream = await openStripeStream(found, 0, older.length, { codec, signal: new AbortController().signal, stallTimeoutMs: 2000, logger: silentLogger() });
  t.ok((await collect(stream)).equals(older), 'and reads byte-identical from wherever its shards are');

  const newer = seededBytes(20_000, 22);
  const record = await write('moving', newer, current);
  const resolved = await resolveBoth();
  t.equal(resolved?.record.versionId, record.versionId, 'a version written to the new set wins over the old set\'s');
  t.equal(resolved?.record.sizeBytes, newer.length);
});

t.test('during a ring change a read needs a read quorum of each set', async (t) => {
  const body = seededBytes(10_000, 23);
  await write('both-quorums', body);
  const unreachable = [0, 1, 2, 3].map((i) => new NodeClient({ nodeId: `gone-${i}`, address: '127.0.0.1:1', clusterSecret: SECRET }));
  t.teardown(() => Promise.all(unreachable.map((c) => c.close())));
  // Only two members of the previous set answer: below its read quorum of three.
  const previous = [...unreachable, ...clients.slice(4)];
  await t.rejects(
    resolveVersion({ nodes: clients, previous }, 'b', 'both-quorums', erasure, AbortSignal.timeout(5000)),
    { code: 'ServiceUnavailable' },
  );
});

t.test('a read abandoned mid-object (the client went away) stops quietly, with a stripe read ahead in flight', async (t) => {
  const body = seededBytes(200_000, 31);
  await write('abandoned', body);
  const version = await resolveVersion({ nodes: clients }, 'b', 'abandoned', erasure, AbortSignal.timeout(5000));
  if (version === null) throw new Error('no version');
  const warnings: object[] = [];
  const stream = await openStripeStream(version, 0, body.length, {
    codec, signal: new AbortController().signal, stallTimeoutMs: 2000, logger: { warn: (fields) => warnings.push(fields) },
  });
  const first = await stream.next();
  t.ok(first.done !== true && Buffer.from(first.value).equals(body.subarray(0, first.value.length)), 'the first bytes are the object’s');
  await stream.return(undefined);
  // Give the read-ahead time to settle against closed cursors.
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(warnings, [], 'closing is not a shard failure');
  t.ok((await read('abandoned')).equals(body), 'and the object still reads whole');
});

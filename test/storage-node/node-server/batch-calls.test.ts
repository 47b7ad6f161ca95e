import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ClassicLevel } from 'classic-level';
import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import { NodeClient, type ShardRef } from '../../../src/rpc/index.js';
import { SHARD_HEADER_BYTES, StorageNode } from '../../../src/storage-node/index.js';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { until } from '../../helpers/until.js';
import { recordFor, tempDir } from '../store-fixture.js';

const SECRET = 'batch-calls-test-secret';
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 65_536 };

async function startNode(t: { teardown(fn: () => Promise<void>): void }, dataDir?: string): Promise<{ node: StorageNode; client: NodeClient; dataDir: string }> {
  const dir = dataDir ?? (await tempDir(t, 'batch'));
  const node = new StorageNode({ nodeId: 'n0', dataDir: dir, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), inlineMaxShardBytes: 1000 });
  const { port } = await node.start();
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  return { node, client, dataDir: dir };
}

/** A node and its client for one test, both closed at its end. */
async function startServedNode(t: { teardown(fn: () => Promise<void>): void }): Promise<{ client: NodeClient }> {
  const { node, client } = await startNode(t);
  t.teardown(async () => {
    await client.close();
    await node.close();
  });
  return { client };
}

function ref(key: string, n: number): ShardRef {
  return { bucket: 'b', key, versionId: `000000000001${n.toString(16).padStart(4, '0')}aaaaaaaa`, shardIndex: 1 };
}

t.test('concurrent commits to one node all apply, and a bad one fails alone without failing its batch', async (t) => {
  const { client } = await startServedNode(t);
  const refs = Array.from({ length: 24 }, (_, i) => ref(`key-${i}`, i));
  for (const [i, shard] of refs.entries()) await client.putShard(shard, ERASURE, Readable.from([seededBytes(100 + i, i)]));
  const never = ref('never-prepared', 99);
  const outcomes = await Promise.allSettled([
    ...refs.map((shard) => client.commit({ record: recordFor(shard, 400), shardIndex: 1 })),
    client.commit({ record: recordFor(never, 400), shardIndex: 1 }),
  ]);
  t.same(outcomes.slice(0, refs.length).map((o) => o.status), refs.map(() => 'fulfilled'), 'every prepared shard committed');
  const last = outcomes[refs.length];
  t.equal(last?.status, 'rejected');
  t.match(last?.status === 'rejected' ? last.reason : undefined, { code: 'NotFound', nodeId: 'n0' }, 'the unprepared commit carries its own wire error');
  const statuses = await Promise.all(refs.map((shard) => client.objectStatus(shard.bucket, shard.key)));
  t.same(statuses.map((s) => s?.record.versionId), refs.map((shard) => shard.versionId), 'each key reads back its committed version');
  t.equal(await client.objectStatus('b', 'never-prepared'), null, 'a key the node does not hold answers null');
});

t.test('a version lookup that asks for inline shards brings the verified bytes of an inline shard, none for a file', async (t) => {
  const { client } = await startServedNode(t);
  const small = ref('small', 1);
  const large = ref('large', 2);
  await client.putShard(small, ERASURE, Readable.from([seededBytes(700, 1)]));
  await client.putShard(large, ERASURE, Readable.from([seededBytes(5000, 2)]));
  await client.commit({ record: recordFor(small, 2800), shardIndex: 1 });
  await client.commit({ record: recordFor(large, 20_000), shardIndex: 1 });

  const withBytes = await client.objectStatus('b', 'small', { withInlineShard: true });
  t.ok(Buffer.from(withBytes?.inlineShard ?? '', 'base64').equals(seededBytes(700, 1)), 'the inline shard comes with the status');
  t.equal((await client.objectStatus('b', 'small'))?.inlineShard, undefined, 'only when asked');
  const fileBacked = await client.objectStatus('b', 'large', { withInlineShard: true });
  t.equal(fileBacked?.shardIndex, 1);
  t.equal(fileBacked?.inlineShard, undefined, 'a shard in a file stays on its own read path');
});

t.test('a corrupt inline shard is left out of the lookup and quarantined, and the status still answers', async (t) => {
  const dir = await tempDir(t, 'batch-rot');
  let started = await startNode(t, dir);
  const small = ref('small', 1);
  await started.client.putShard(small, ERASURE, Readable.from([seededBytes(600, 3)]));
  await started.client.commit({ record: recordFor(small, 2400), shardIndex: 1 });
  await started.client.close();
  await started.node.close();
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  for await (const [key, value] of db.iterator({ gte: Buffer.from('d'), lt: Buffer.from('d\xff', 'latin1') })) {
    value[SHARD_HEADER_BYTES + 20] = (value[SHARD_HEADER_BYTES + 20] ?? 0) ^ 0x01;
    await db.put(key, value);
  }
  await db.close();
  started = await startNode(t, dir);
  const { node, client } = started;
  t.teardown(async () => {
    await client.close();
    await node.close();
  });
  const status = await client.objectStatus('b', 'small', { withInlineShard: true });
  t.equal(status?.record.versionId, small.versionId, 'the version is still reported');
  t.equal(status?.inlineShard, undefined, 'its bad bytes are not');
  t.equal((await client.health()).quarantinedShards, 1, 'the shard is queued for repair');
});

t.test('small shards prepared in one batch are stored like streamed ones, and a bad one is refused alone', async (t) => {
  const { client } = await startServedNode(t);
  const refs = Array.from({ length: 8 }, (_, i) => ref(`batched-${i}`, i + 1));
  const badRef = { ...ref('bad', 50), bucket: 'b\0x' };
  const outcomes = await Promise.allSettled([
    ...refs.map((shard, i) => client.prepareShard(shard, ERASURE, seededBytes(i === 7 ? 5000 : 300 + i, i))),
    client.prepareShard(badRef, ERASURE, seededBytes(10, 1)),
  ]);
  t.same(outcomes.slice(0, refs.length).map((o) => (o.status === 'fulfilled' ? o.value.sizeBytes : o.reason)), refs.map((_, i) => (i === 7 ? 5000 : 300 + i)));
  t.match(outcomes[refs.length], { status: 'rejected', reason: { code: 'BadRequest' } }, 'a NUL in the bucket is refused');
  await Promise.all(refs.map((shard) => client.commit({ record: recordFor(shard, 4000), shardIndex: 1 })));
  for (const [i, shard] of refs.entries()) {
    const status = await client.objectStatus(shard.bucket, shard.key, { withInlineShard: true });
    if (i === 7) {
      t.equal(status?.inlineShard, undefined, 'a shard over the inline threshold went to a file');
      t.ok((await collect(await client.readShard(shard, 0, 5000))).equals(seededBytes(5000, i)), 'and reads back');
    } else {
      t.ok(Buffer.from(status?.inlineShard ?? '', 'base64').equals(seededBytes(300 + i, i)), `${shard.key} reads back`);
    }
  }
});

/** Counts the requests this process sends to the node protocol's paths while `run` runs, by method and path. */
async function countRequests<T>(run: () => Promise<T>): Promise<{ result: T; requests: Map<string, number> }> {
  const requests = new Map<string, number>();
  const onCreate = (message: unknown): void => {
    const { request } = message as { request: { method: string; path: string } };
    const name = `${request.method} ${request.path.split('?')[0] ?? ''}`;
    requests.set(name, (requests.get(name) ?? 0) + 1);
  };
  subscribe('undici:request:create', onCreate);
  try {
    return { result: await run(), requests };
  } finally {
    unsubscribe('undici:request:create', onCreate);
  }
}

t.test('digests of several partitions asked at once travel in one batch request, each counting its own versions', async (t) => {
  const { client } = await startServedNode(t);
  const refs = Array.from({ length: 12 }, (_, i) => ref(`digested-${i}`, i + 1));
  for (const [i, shard] of refs.entries()) {
    await client.putShard(shard, ERASURE, Readable.from([seededBytes(200, i)]));
    await client.commit({ record: recordFor(shard, 800), shardIndex: 1 });
  }
  const bits = 2;
  const { result: digests, requests } = await countRequests(() => Promise.all([0, 1, 2, 3].map((partition) => client.partitionDigest(partition, bits))));
  t.same(Object.fromEntries(requests), { 'POST /v1/batch': 1 }, 'four digests, one request');
  t.same(digests.map((d) => d.partition), [0, 1, 2, 3]);
  t.equal(digests.reduce((sum, d) => sum + d.count, 0), refs.length, 'every version is counted in exactly one partition');
  t.ok(digests.filter((d) => d.count > 0).length > 1, 'the keys spread over several partitions');
  t.ok(new Set(digests.filter((d) => d.count === 0).map((d) => d.digest)).size <= 1, 'empty partitions digest alike');
  t.same(await client.partitionDigest(2, bits), digests[2], 'asked alone, a partition digests the same');
  await t.rejects(client.partitionDigest(4, bits), { code: 'BadRequest' }, 'a partition outside the ring is refused');
});

t.test('a node that refuses digests in a batch (an earlier release) is asked on their own route', async (t) => {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(`${request.method ?? ''} ${(request.url ?? '').split('?')[0] ?? ''}`);
    request.resume();
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      if (request.method === 'POST' && request.url === '/v1/batch') {
        response.end(JSON.stringify({ results: [{ ok: false, code: 'BadRequest', message: 'bad batch call: unknown op' }] }));
      } else {
        response.end(JSON.stringify({ partition: 3, count: 0, digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = new NodeClient({ nodeId: 'old', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(async () => {
    await client.close();
    server.close();
  });
  t.match(await client.partitionDigest(3, 4), { partition: 3, count: 0 });
  t.same(seen, ['POST /v1/batch', 'GET /v1/partitions/digest'], 'the batch was refused, the route answered');
});

/** The node's partition digest figures, as its /metrics reports them. */
async function digestFigures(port: number): Promise<{ running: number; waiting: number; done: number; abandoned: number; refused: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.slice(name.length + 1) ?? NaN);
  };
  return {
    running: value('tessera_node_partition_digests_running'),
    waiting: value('tessera_node_partition_digests_waiting'),
    done: value('tessera_node_partition_digests_total{outcome="done"}'),
    abandoned: value('tessera_node_partition_digests_total{outcome="abandoned"}'),
    refused: value('tessera_node_partition_digests_total{outcome="refused"}'),
  };
}

t.test('a node computes a few partition digests at a time, and drops those whose caller stopped waiting', async (t) => {
  const { node, client } = await startNode(t);
  t.teardown(async () => {
    await client.close();
    await node.close();
  });
  // Enough versions in the one partition of a 0-bit ring that a digest takes a while.
  const refs = Array.from({ length: 3000 }, (_, i) => ref(`many-${i}`, i + 1));
  for (let from = 0; from < refs.length; from += 500) {
    const slice = refs.slice(from, from + 500);
    await Promise.all(slice.map((shard, i) => client.prepareShard(shard, ERASURE, seededBytes(64, from + i))));
    await Promise.all(slice.map((shard) => client.commit({ record: recordFor(shard, 256), shardIndex: 1 })));
  }
  const expected = await client.partitionDigest(0, 0);
  t.equal(expected.count, refs.length, 'a digest counts every version');

  const port = node.address.port;
  const caller = new AbortController();
  const asked = 128;
  const answers = Array.from({ length: asked }, () => client.partitionDigest(0, 0, { signal: caller.signal }).catch((err: unknown) => err));
  let seen = await digestFigures(port);
  await until('digests wait for a turn', async () => (seen = await digestFigures(port)).waiting > 0, 30_000, 1);
  t.ok(seen.running <= 2, `at most two computed at once (${seen.running} running, ${seen.waiting} waiting)`);
  caller.abort();
  for (const answer of await Promise.all(answers)) if (!(answer instanceof Error)) t.same(answer, expected, 'a digest answered before the abort is whole');
  const settled = async (): Promise<boolean> => {
    seen = await digestFigures(port);
    return seen.running === 0 && seen.waiting === 0 && seen.done + seen.abandoned === asked + 1;
  };
  await until('every digest asked has ended', settled, 30_000, 20);
  t.ok(seen.abandoned > 0, `the digests nobody waited for were dropped, not computed (${seen.abandoned} dropped, ${seen.done - 1} computed)`);
  t.equal(seen.refused, 0, 'none was refused: the queue holds a whole batch');
  t.same(await client.partitionDigest(0, 0), expected, 'the node digests on');
});

import { Readable } from 'node:stream';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, recordFor, shardRef, tempDir } from './store-fixture.js';

/**
 * A node reads shards for GETs into buffers it reuses once their bytes are sent. A buffer reused while
 * a socket still had its bytes queued would send one reader another shard's bytes: readers that stall
 * while others churn the buffers must still get exactly their own shard.
 */

const SECRET = 'pooled-shard-reads-secret';
/** Larger than loopback's socket buffers, so a stalled reader leaves writes queued on the node. */
const LARGE_SHARD_BYTES = 24 * 1024 * 1024;
const SMALL_SHARD_BYTES = 300 * 1024;

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

t.test('stalled and concurrent shard GETs each get their own bytes while the node reuses its read buffers', async (t) => {
  const node = new StorageNode({ nodeId: 'n0', dataDir: await tempDir(t, 'pooled-reads'), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
  const { port } = await node.start();
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(async () => {
    await client.close();
    await node.close();
  });

  const shards = [
    { ref: shardRef('large-a', 1), bytes: seededBytes(LARGE_SHARD_BYTES, 1) },
    { ref: shardRef('large-b', 2), bytes: seededBytes(LARGE_SHARD_BYTES, 2) },
    ...Array.from({ length: 8 }, (_, i) => ({ ref: shardRef(`small-${i}`, 3 + i), bytes: seededBytes(SMALL_SHARD_BYTES, 3 + i) })),
  ];
  for (const { ref, bytes } of shards) {
    await client.putShard(ref, ERASURE, Readable.from([bytes]), { fresh: true });
    await client.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex });
  }
  const [large, other, ...small] = shards;
  if (large === undefined || other === undefined) throw new Error('no large shards');

  // The stalled reader takes its first bytes, then stops reading with most of its shard unsent.
  const stalled = (await client.readShard(large.ref, 0, LARGE_SHARD_BYTES))[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await stalled.next();
  if (first.done === true) throw new Error('the large shard sent nothing');

  // Meanwhile the node reads other shards, whole and in ranges, into the same buffers, several times over.
  for (let round = 0; round < 3; round += 1) {
    const reads = [
      ...small.map(async ({ ref, bytes }) => t.ok((await readAll(await client.readShard(ref, 0, SMALL_SHARD_BYTES))).equals(bytes), `${ref.key} whole`)),
      (async () => t.ok((await readAll(await client.readShard(other.ref, 1_000_000, 5_000_000))).equals(other.bytes.subarray(1_000_000, 6_000_000)), 'a range of the other large shard'))(),
    ];
    await Promise.all(reads);
  }

  const parts = [first.value];
  for (let next = await stalled.next(); next.done !== true; next = await stalled.next()) parts.push(next.value);
  t.ok(Buffer.concat(parts).equals(large.bytes), 'the stalled reader gets its own shard, byte for byte');
  t.ok((await readAll(await client.readShard(other.ref, 0, LARGE_SHARD_BYTES))).equals(other.bytes), 'the other large shard reads whole');
});

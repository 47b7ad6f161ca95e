import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import { NODE_PATHS, NodeClient, type NodeHealth } from '../../../src/rpc/index.js';
import { SHARD_HEADER_BYTES, StorageNode } from '../../../src/storage-node/index.js';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { ERASURE, recordFor, shardImageAt, shardRef, tempDir } from '../store-fixture.js';

const SECRET = 'health-test-secret';

t.test('GET /health needs no signature and reports LevelDB state, free space, checksum failures, quarantine and recovery', async (t) => {
  const dataDir = await tempDir(t, 'health');
  const start = async (): Promise<{ node: StorageNode; client: NodeClient }> => {
    const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), capacityBytes: 10_000_000 });
    const { port } = await node.start();
    return { node, client: new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET }) };
  };
  let { node, client } = await start();
  // Whichever node runs when the test ends is closed, however it ends: a failed step must not leave it serving.
  t.teardown(async () => {
    await client.close().catch(() => undefined);
    await node.close().catch(() => undefined);
  });
  const fresh = (await (await fetch(`http://127.0.0.1:${node.address.port}${NODE_PATHS.health}`)).json()) as NodeHealth;
  t.match(fresh, {
    nodeId: 'n0',
    status: 'ok',
    metadataStore: 'open',
    checksumFailures: 0,
    quarantinedShards: 0,
    noSpaceRefusals: 0,
    ioErrors: 0,
    capacityBytes: 10_000_000,
    usedBytes: 0,
    recovery: { tmpFilesRemoved: 0, stalePreparedDropped: 0, orphanFilesRemoved: 0, missingFiles: 0, emptySegmentsRemoved: 0 },
  });
  t.ok(fresh.freeBytes > 0, 'free space is reported');

  const ref = shardRef('k', 1);
  await client.putShard(ref, ERASURE, Readable.from([seededBytes(100_000, 1)]));
  await client.commit({ record: recordFor(ref, 400_000), shardIndex: 0 });
  const at = await shardImageAt(dataDir, node.parts.store, ref);
  const handle = await open(at.path, 'r+');
  await handle.write(Buffer.from([0xff]), 0, 1, at.offsetBytes + SHARD_HEADER_BYTES + 10);
  await handle.close();
  for (let i = 0; i < 2; i += 1) {
    await t.rejects((async () => collect(await client.readShard(ref, 0, 100_000)))(), { code: 'ChecksumMismatch' }, 'the corrupt shard is refused');
  }
  t.match(await client.health(), { status: 'ok', checksumFailures: 2, quarantinedShards: 1, usedBytes: 100_000 });

  await client.close();
  await node.close();
  await writeFile(join(dataDir, 'tmp', 'left-by-a-crash'), 'x');
  ({ node, client } = await start());
  t.match(await client.health(), { checksumFailures: 0, quarantinedShards: 1, recovery: { tmpFilesRemoved: 1 } }, 'after a restart: counters restart, quarantine and recovery persist');
});

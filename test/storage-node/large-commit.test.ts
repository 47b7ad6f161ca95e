import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { EncodedCommit, NodeClient, UPLOADS_BUCKET, uploadPartKey, type ObjectRecord, type PartRef } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { recordFor, tempDir } from './store-fixture.js';

const SECRET = 'large-commit-test-secret';

/** A manifest of `count` parts under a 1,024-byte key, each part with a SHA-256 checksum: the largest S3 allows. */
function manifest(count: number, versionSuffix: string): ObjectRecord {
  const key = `m/${'k'.repeat(1022)}`;
  const parts: PartRef[] = Array.from({ length: count }, (_, i) => ({
    partNumber: i + 1,
    bucket: UPLOADS_BUCKET,
    key: uploadPartKey('bucket-with-a-rather-long-name-of-sixty-three-characters-abcdefg', 'f'.repeat(32), i + 1),
    versionId: `0000000000${(i + 1).toString(16).padStart(6, '0')}aaaaaaaa`,
    sizeBytes: 5 * 1024 * 1024,
    etag: `"${'e'.repeat(32)}"`,
    checksums: { SHA256: 'A'.repeat(43) + '=' },
  }));
  const base = recordFor({ bucket: 'b', key, versionId: `000000000001${versionSuffix}aaaaaaaa`, shardIndex: 0 }, count * 5 * 1024 * 1024);
  return { ...base, parts };
}

t.test('a manifest of 10,000 parts with a 1,024-byte key commits on every node from one serialisation', async (t) => {
  const nodes: StorageNode[] = [];
  const clients: NodeClient[] = [];
  for (let i = 0; i < 2; i += 1) {
    const node = new StorageNode({ nodeId: `n${i}`, dataDir: await tempDir(t, `large-commit-${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
    const { port } = await node.start();
    nodes.push(node);
    clients.push(new NodeClient({ nodeId: `n${i}`, address: `127.0.0.1:${port}`, clusterSecret: SECRET }));
  }
  t.teardown(async () => {
    for (const client of clients) await client.close();
    for (const node of nodes) await node.close();
  });
  const record = manifest(10_000, '0001');
  const encoded = new EncodedCommit({ record, shardIndex: null });
  t.ok(encoded.text.length > 2 * 1024 * 1024, `the manifest is megabytes (${encoded.text.length} bytes), beyond the 1 MiB of other calls`);
  await Promise.all(clients.map((client) => client.commit(encoded)));
  for (const client of clients) {
    const status = await client.objectStatus('b', record.key);
    t.equal(status?.record.parts?.length, 10_000, `${client.nodeId} holds every part`);
    t.same(status?.record.parts?.at(-1), record.parts?.at(-1));
  }
  const tooLarge = manifest(60_000, '0002');
  await t.rejects(clients[0]?.commit(new EncodedCommit({ record: tooLarge, shardIndex: null })) ?? Promise.resolve(), { code: 'BadRequest' }, 'a commit beyond 16 MiB is refused');
});

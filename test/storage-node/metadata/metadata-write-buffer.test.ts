import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import { DEFAULTS, silentLogger } from '../../../src/common/index.js';
import { StorageNode } from '../../../src/storage-node/storage-node.js';
import { readShard, shardRef, tempDir, writeShard } from '../store-fixture.js';
import { seededBytes } from '../../helpers/bytes.js';

/**
 * A node's metadataWriteBufferBytes is LevelDB's write buffer: rows stay in memory and the log until
 * that much is written, then go to a table file. Small buffers make LevelDB compact over and over.
 */

const tableFiles = async (dataDir: string): Promise<string[]> => (await readdir(join(dataDir, 'meta'))).filter((name) => name.endsWith('.ldb'));

t.test("a node's metadataWriteBufferBytes reaches LevelDB: a small buffer writes table files, the default keeps a few hundred KiB of rows in its log", async (t) => {
  t.ok(DEFAULTS.metadataWriteBufferBytes >= 1024 * 1024, 'the default is far above the rows written here');
  for (const [name, metadataWriteBufferBytes] of Object.entries({ small: 64 * 1024, default: undefined })) {
    const dataDir = await tempDir(t, `write-buffer-${name}`);
    const buffer = metadataWriteBufferBytes === undefined ? {} : { metadataWriteBufferBytes };
    const start = async (): Promise<StorageNode> => {
      const node = new StorageNode({ nodeId: name, dataDir, host: '127.0.0.1', port: 0, clusterSecret: 'write-buffer-secret', logger: silentLogger(), healing: false, ...buffer });
      // Closed by the test, or here if an assertion throws first: a node left open holds its directory's LevelDB lock.
      t.teardown(() => node.close());
      await node.start();
      return node;
    };
    let node = await start();
    const refs = Array.from({ length: 100 }, (_, i) => shardRef(`k${i}`, 1));
    for (const [i, ref] of refs.entries()) await writeShard(node.parts.store, ref, seededBytes(2_000, i));
    const tables = await tableFiles(dataDir);
    if (metadataWriteBufferBytes === undefined) t.same(tables, [], 'default: every row is still in the write buffer and its log');
    else t.ok(tables.length > 0, `${name}: LevelDB wrote ${tables.length} table files`);

    await node.close();
    node = await start();
    for (const [i, ref] of refs.entries()) {
      if (!(await readShard(node.parts.store, ref)).equals(seededBytes(2_000, i))) t.fail(`${name}: shard ${i} differs after a restart`);
    }
    t.pass(`${name}: every shard reads back after a restart`);
    await node.close();
  }
});

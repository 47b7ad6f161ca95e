import { readFile, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { t } from 'tap';
import { TesseraError } from '../../src/common/index.js';
import { NodeError, WireError } from '../../src/rpc/index.js';
import { MetadataWriteFenced, ShardCorruptError, ShardStoreError } from '../../src/storage-node/index.js';

/** Every .ts file under `dir`. */
async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

t.test('every error class in src/ descends from TesseraError, so every thrown error carries a code', async (t) => {
  const root = resolve('src');
  const bare: string[] = [];
  for (const file of await sourceFiles(root)) {
    for (const match of (await readFile(file, 'utf8')).matchAll(/class (\w+)(?:<[^>]*>)? extends Error\b/g)) bare.push(`${relative(root, file)}: ${match[1]}`);
  }
  t.same(bare, ['common/errors.ts: TesseraError'], 'only the base extends Error itself');
});

t.test('one family per layer: the wire errors share a base, storage failures share one and map onto wire codes', async (t) => {
  const client = new NodeError('Unavailable', 'n1', 'node unreachable');
  t.ok(client instanceof WireError && client instanceof TesseraError, 'a client-side NodeError is a WireError');
  t.equal(client.nodeId, 'n1');
  const fenced = new MetadataWriteFenced();
  t.ok(fenced instanceof ShardStoreError, 'a fenced metadata store is a storage failure');
  t.equal(fenced.code, 'WriteFenced');
  t.equal(fenced.wireCode, 'Unavailable');
  t.equal(fenced.name, 'MetadataWriteFenced');
  t.equal(new ShardCorruptError('bad chunk').wireCode, 'ChecksumMismatch');
  t.equal(new ShardStoreError('NoSpace', 'full').wireCode, 'InsufficientStorage');
});

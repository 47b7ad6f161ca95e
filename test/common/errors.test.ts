import { t } from 'tap';
import { TesseraError } from '../../src/common/index.js';
import { NodeError, WireError } from '../../src/rpc/index.js';
import { MetadataWriteFenced, ShardCorruptError, ShardStoreError } from '../../src/storage-node/index.js';

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

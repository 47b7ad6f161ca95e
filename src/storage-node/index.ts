export { StorageNode, type StorageNodeOptions } from './storage-node.js';
export { ShardStore, ShardStoreError, shardFileName, type ShardStoreOptions } from './shard-store.js';
export { NodeServer, type NodeServerOptions } from './node-server.js';
export { loadBlockHasher, type BlockHasher } from './checksum.js';
export { ShardCorruptError, SHARD_HEADER_BYTES, DEFAULT_CHUNK_BYTES } from './shard-file.js';
export { RingStore } from './ring-store.js';

export { DEFAULT_RESOLVE_EVERY_MS, StorageNode, type StorageNodeOptions } from './storage-node.js';
export type { ReplicatedChange, ReplicationOutcome, Replicator, ReplicatorFactory } from './workers/replicators.js';
export { PreparedResolver, type PeerStatusClient, type PreparedResolverOptions, type ResolverStatus } from './prepared-resolver.js';
export {
  DEFAULT_INLINE_MAX_SHARD_BYTES,
  DEFAULT_PREPARED_GRACE_MS,
  ShardStore,
  ShardStoreError,
  shardFileName,
  type ShardStoreOptions,
  type ShardStoreStats,
} from './shard-store.js';
export { MetadataStore, MetadataWriteFenced, METADATA_SCHEMA_VERSION, type QuarantineEntry, type StoredObject } from './metadata-store.js';
export type { MetadataOp } from './group-commit.js';
export type { RecoveryReport } from './shard-recovery.js';
export { NODE_METRICS_PATH, NodeServer, type NodeServerOptions } from './node-server.js';
export { NodeMetrics, type NodeMetricsSources } from './node-metrics.js';
export { loadBlockHasher, type BlockHasher } from './checksum.js';
export { ShardCorruptError, SHARD_HEADER_BYTES, DEFAULT_CHUNK_BYTES } from './shard-file.js';
export { RingStore } from './ring-store.js';
export { BucketIncarnations } from './bucket-incarnations.js';

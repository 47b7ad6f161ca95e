// Bucket replication from the gateway's side: reading a version of this cluster to copy it elsewhere.
export { ReplicationSource, ReplicationSourceError, type ReplicationSourceErrorCode, type ReplicationSourceOptions } from './source.js';
export type { SourceVersion } from './source-version.js';

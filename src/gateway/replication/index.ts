// Bucket replication from the gateway's side: reading a version of this cluster (the data path), writing
// it to another store (a SigV4 client), and the replicators a storage node's process delivers with.
export { ReplicationSource, ReplicationSourceError, type ReplicationSourceErrorCode, type ReplicationSourceOptions } from './source.js';
export { isRetryable, RemoteError } from './remote-error.js';
export {
  MAX_ANSWER_BYTES,
  RemoteS3,
  type RemoteCall,
  type RemoteHead,
  type RemoteS3Options,
  type RemoteS3Target,
  type RemoteVersionCall,
  type RemoteWrite,
  type StreamedBody,
} from './remote-s3.js';
export { replicaHeaders, replicaMarkHeaders, replicateTags, replicateVersion, taggingHeader, type ReplicaWrite } from './replicate.js';
export { Replicators, type ChangeToReplicate, type ReplicationResult, type ReplicatorsOptions, type TargetReplicator } from './change-replicator.js';
export type { SourceVersion } from './source-version.js';
export { listBucketVersions, resyncBucket, ResyncSelection, type ListedBucketVersion, type ResyncOptions, type ResyncProgress } from './resync.js';
export { amzDateOf, RequestSigner } from './request-signer.js';

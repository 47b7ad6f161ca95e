// Bucket replication's sending side: a SigV4 client of one remote S3 store, and the copy of one
// source version (or of its tags) to it.
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
export type { SourceVersion } from './source-version.js';

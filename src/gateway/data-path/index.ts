// The gateway's paths to the storage nodes, with no HTTP in them: writing a version's shards, finding
// and streaming a version, merging node listings, bucket records, and the request scope they run in.
export { BucketService } from './bucket-service.js';
export { bucketQuota, type QuotaReport } from './bucket-quota.js';
export { BucketUsageReader, USAGE_CACHE_MS, estimateUsage, type UsageEstimate } from './bucket-usage.js';
export { MAX_ACTIVE_BUCKET_LOOKUPS } from './bucket-lookups.js';
export { rotateMasterKey, type RotationReport } from './key-rotation.js';
export { KmsKeyService } from './kms-key-service.js';
export { KmsKeyAdmin, type KmsKeyActions, type KmsKeyAdminOptions, type KmsKeySummary } from './kms-key-admin.js';
export { TargetAdmin, type TargetActions, type TargetAdminOptions, type TargetSummary } from './target-admin.js';
export { RecordAdminError, type RecordAdminErrorCode } from './record-admin.js';
export { listObjects, type ListRequest, type ListResult } from './list-merge.js';
export { acquireKeyLease, acquireSharedLease, holdKeyLease, releaseSharedLease, type HeldLease, type LeaseScope } from './key-lease.js';
export { openStoredObject, type DataKeyOf } from './object-reader.js';
export { READ_DEADLINE_MS, ReadDeadline, retrySlowRead } from './read-retry.js';
export { metadataSignal, withTimeout, type RequestScope } from './request-scope.js';
export {
  WRITE_STAGES,
  type BodyDigests,
  type BucketAdminDeps,
  type BucketRecords,
  type LifecycleDates,
  type UploadLimits,
  type EncryptionDeps,
  type IndexWrites,
  type ListPathDeps,
  type LookupDeps,
  type MetadataTimeout,
  type NodeRounds,
  type ReadPathDeps,
  type RecordWriteDeps,
  type WritePathDeps,
  type WriteStage,
} from './path-deps.js';
export { abortShards, commitShards, prepareShards, type PreparedShards, type ShardHolder, type WriteOptions, type WriteTarget } from './shard-prepare-commit.js';
export { StripePool } from './stripe-pool.js';
export type { ReadOptions } from './stripe-reader.js';
export { resolveNamedVersion, resolveVersion, type ResolveOptions, type ResolvedVersion } from './version-lookup.js';
export { listVersions, type VersionListRequest, type VersionListResult } from './list-versions.js';
export { listVersionsFromIndex, type ListedIndexVersion } from './index-versions.js';
export {
  bucketStamp,
  stampOf,
  commitPlainRecord,
  commitRecord,
  deleteKey,
  deleteMarker,
  deleteVersion,
  type RecordCommitOptions,
  type ReplicaMarker,
  type VersionDeleteOptions,
} from './version-writer.js';
export {
  noteOf,
  pendingChange,
  replicationDestinations,
  shownVersionId,
  versionNote,
  withReplicationStatus,
  type ChangeFacts,
  type ChangeOrigin,
  type ChangeSubject,
  type PendingChange,
} from './change-notes.js';
export { PendingVersion, type ReceiveOptions, type VerifiedBody, type VersionAttributes } from './pending-version.js';
export { DigestedSource } from './digested-source.js';
export { UserDirectory, USER_REFRESH_MS, type KeyEntry } from './user-directory.js';
export {
  IdentityAdmin,
  IdentityError,
  newAccessKeyId,
  newSecretKey,
  type IdentityActions,
  type IdentityErrorCode,
  type KeySummary,
  type PolicySummary,
  type UserDetail,
  type UserSummary,
} from './identity-admin.js';
export { readNodeStatuses, type NodeStatusRow } from './node-statuses.js';
export { isIndexed, KeyIntent, type BucketIndexDeps, type IndexedBucket } from './bucket-index.js';
export { listFromIndex, type ListedObject } from './index-listing.js';
export { buildIndex, type IndexBuildOptions, type IndexBuildPhase, type IndexBuildProgress } from './index-build.js';
export { inspectObject, type InspectionCluster, type InspectionOptions, type NodeLoss, type ObjectReport, type PartReport } from './object-report.js';

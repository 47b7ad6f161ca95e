export {
  IdentityAdmin,
  IdentityError,
  newAccessKeyId,
  newSecretKey,
  readNodeStatuses,
  type IdentityActions,
  type KeySummary,
  type NodeStatusRow,
  type PolicySummary,
  type UserDetail,
  type UserSummary,
} from './gateway.js';
export { BucketService, bucketQuota, buildIndex, ClusterView, DEFAULT_KMS_KEY, Gateway, KMS_KEY_NAME, MasterKeyring, ObjectSealer, kmsKeyArn, masterKeyLine, newKmsKeyMaterial, nodePackageCipher, readMasterKeyFile, resealKmsKeyMaterial, ringFromConfig, rotateMasterKey, type IndexBuildPhase, type IndexBuildProgress, type MetricsText, type QuotaReport, type RotationReport, type UsageEstimate } from './gateway.js';
export { ADMIN_API_PATH, GATEWAY_HEALTH_PATHS, GATEWAY_METRICS_PATHS, GatewayMetrics, type GatewayHealth } from './http/index.js';
export { S3Error, S3_ERRORS, compareUtf8, type S3ErrorCode } from './s3/index.js';
export { ADMIN_ACTIONS, BUILTIN_POLICIES, parsePolicy, type AdminAction } from './access/index.js';
export {
  amzDateOf,
  isRetryable,
  RemoteError,
  RemoteS3,
  replicateTags,
  RequestSigner,
  replicateVersion,
  resyncBucket,
  ResyncSelection,
  ReplicationSource,
  ReplicationSourceError,
  Replicators,
  type RemoteS3Options,
  type RemoteS3Target,
  type ReplicaWrite,
  type ReplicationResult,
  type ReplicationSourceErrorCode,
  type ReplicationSourceOptions,
  type ResyncProgress,
  type SourceVersion,
  type StreamedBody,
  type TargetReplicator,
} from './replication/index.js';

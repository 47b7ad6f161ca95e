export * from './protocol.js';
export { ErasureParams, Grant, ShardIndex, ShardRef, VersionId, WireName } from './wire-fields.js';
export * from './object-record.js';
export * from './bucket-record.js';
export * from './user-record.js';
export * from './bucket-index.js';
export * from './index-split.js';
export * from './change-log.js';
export * from './replication-rules.js';
export { IndexWriter, type IndexReplica } from './index-writer.js';
export { majority, readQuorum, writeQuorum } from './quorum-rules.js';
export { decideQuorum, fanOut, fanOutHedged, fanOutUntil, isTimeoutFailure, type FanOutNode, type NodeFailure, type NodeOutcome, type QuorumDecision } from './fan-out.js';
export { isNewerRecord, isNewerVersion, newestByName, newestRecord, type RecordOrder } from './newest-record.js';
export { shardDataId, shardRefOf } from './shard-identity.js';
export { lockHold, type LockHold } from './object-lock-state.js';
export { DEADLINE_RULES, LatencyEstimator, followingDeadlineMs, quorumLatencyBoundMs } from './latency-estimator.js';
export { ReplayGuard, type ReplayProblem } from './replay-guard.js';
export { EncodedCommit } from './encoded-commit.js';
export { NodeClient, type NodeClientOptions } from './node-client.js';
export { LinkRefusal } from './link-messages.js';
export { LocalLink } from './local-link.js';
export { serveLocalLink, type LinkRead, type LinkService } from './serve-local-link.js';
export {
  ANY_NODE,
  BODY_HASH_HEADER,
  DATE_HEADER,
  MAX_SIGNATURE_SKEW_MS,
  NODE_HEADER,
  SIGNATURE_HEADER,
  UNSIGNED_BODY,
  bodySha256,
  readSignedHeaders,
  signRequest,
  verifyRequestSignature,
  type SignatureAudience,
  type SignatureProblem,
  type SignedHeaders,
} from './signing.js';
export { NodeError, WIRE_ERROR_STATUS, WireError, isWireErrorCode, wireCodeForStatus, type WireErrorCode } from './wire-errors.js';
export * from './node-reports.js';
export { MESSAGE_CHECKS, checkFor } from './message-checks.js';
export { inspectShards, markLossEffects, type ShardHealth, type ShardReport } from './shard-health.js';
export { readUserRecords, writeUserRecord } from './user-records.js';
export {
  LifecycleFilter,
  LifecycleRule,
  afterDays,
  currentExpiry,
  dueNoncurrent,
  lifecycleFilterMatches,
  noncurrentRules,
  removesExpiredMarker,
  uploadAbortDate,
  type LifecycleDate,
  type LifecycleSubject,
} from './lifecycle-rules.js';
export { MAX_RING_DOCUMENT_BYTES, PLAIN_RING_MAX_BYTES, encodeRingOffer, gunzipRingDocument, gzipRingDocument, type RingOffer } from './ring-document.js';

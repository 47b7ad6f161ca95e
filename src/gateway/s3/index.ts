// S3's own rules, with no HTTP, no node calls and no request: error codes, names, targets and ranges,
// conditions, tags, CORS rules, XML documents. Checksums are the `checksums/` folder beside this file.
export { BUCKET_ENCRYPTION_ROOT, bucketEncryptionBody, parseBucketEncryptionXml, type BucketEncryptionDefault } from './bucket-encryption.js';
export { FIXED_BUCKET_CONFIGURATIONS, UNCONFIGURED_BUCKET_SUBRESOURCES } from './bucket-configurations.js';
export { parseRange, type ByteRange } from './byte-range.js';
export {
  defaultRetentionAt,
  formatRetainUntil,
  LOCKED_MESSAGE,
  MISSING_LOCK_CONFIGURATION,
  objectLockBody,
  parseLegalHoldXml,
  parseLockHeaders,
  parseObjectLockXml,
  parseRetentionXml,
  retentionChange,
  type LockHeaders,
  type ObjectLockConfig,
} from './object-lock.js';
export { decodeMetadataValue, encodeMetadataValue, storedMetadataHeaders } from './metadata-encoding.js';
export { etagListMatches, failedCondition, type Conditions } from './conditions.js';
export { failedDeleteCondition, parseDeleteConditions, type DeleteConditions } from './delete-conditions.js';
export { copySourceRange, MAX_COPY_SOURCE_BYTES, type CopyRange } from './copy-range.js';
export { parseCopySource, type CopySource } from './copy-source.js';
export { matchCorsRule, parseCorsXml, renderCors } from './cors-rules.js';
export { MAX_LOG_PREFIX_BYTES, MAX_LOGGING_BYTES, parseLoggingXml, renderLogging } from './logging-xml.js';
export { MAX_NOTIFICATION_BYTES, parseNotificationXml, renderNotification } from './notification-xml.js';
export { MAX_REPLICATION_BYTES, parseReplicationXml, renderReplication } from './replication-xml.js';
export { isSlowQuorumLoss, quorumError, toS3Error } from './error-mapping.js';
export { countParameter } from './count-parameter.js';
export { copySourceTooLarge, S3Error, S3_ERRORS, type S3ErrorCode, type S3ErrorDetails } from './errors.js';
export { listFieldEncoder, urlEncodeListField } from './list-encoding.js';
export { MAX_KEY_BYTES, validateBucketName, validateKey } from './names.js';
export { objectLocation, type LocationRequest } from './object-location.js';
export { parseTarget, type S3Target } from './request-target.js';
export { requestDocumentRoot } from './request-document.js';
export { MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, parseTaggingHeader, parseTaggingXml, tagCount, tagSetBody, validateTags } from './tag-set.js';
export { compareUtf8 } from './utf8-order.js';
export { parseVersioningXml, s3VersionId, versionIdParam, type VersioningStatus } from './versioning.js';
export { parseXml, renderXml } from './xml.js';
export { XmlWriter } from './xml-writer.js';
export { checkPostPolicy, parsePostPolicy, type PostCondition, type PostPolicy, type SizeRange } from './post-policy.js';
export { expirationHeader, headerSafe, parseLifecycleXml, renderLifecycle } from './lifecycle-xml.js';

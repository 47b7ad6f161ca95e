import {
  abortMultipartUpload,
  completeMultipartUpload,
  copyObject,
  createBucket,
  createMultipartUpload,
  deleteBucket,
  deleteBucketCors,
  deleteBucketLifecycle,
  deleteBucketEncryption,
  deleteBucketOwnershipControls,
  deleteBucketPolicy,
  deleteBucketReplication,
  deletePublicAccessBlock,
  deleteBucketTagging,
  deleteObject,
  deleteObjects,
  deleteObjectTagging,
  getBucketAcl,
  getBucketCors,
  getBucketLifecycle,
  getBucketLogging,
  getBucketNotification,
  getBucketEncryption,
  getBucketFixedConfiguration,
  getBucketLocation,
  getBucketOwnershipControls,
  getBucketPolicy,
  getBucketPolicyStatus,
  getBucketReplication,
  getPublicAccessBlock,
  getBucketTagging,
  getBucketUnconfigured,
  getBucketVersioning,
  getObject,
  getObjectAcl,
  getObjectAttributes,
  getObjectLegalHold,
  getObjectLockConfiguration,
  getObjectRetention,
  getObjectTagging,
  headBucket,
  headObject,
  listBuckets,
  listMultipartUploads,
  listObjectsHandler,
  listObjectVersions,
  listParts,
  putBucketAcl,
  putBucketCors,
  putBucketLifecycle,
  putBucketLogging,
  putBucketNotification,
  putBucketEncryption,
  putBucketOwnershipControls,
  putBucketPolicy,
  putBucketReplication,
  putPublicAccessBlock,
  putBucketTagging,
  postObject,
  putObject,
  putObjectAcl,
  putObjectLegalHold,
  putObjectLockConfiguration,
  putObjectRetention,
  putBucketVersioning,
  putObjectTagging,
  uploadPart,
  uploadPartCopy,
} from './handlers/index.js';
import type { S3Action } from './access/index.js';
import type { Handler } from './http/index.js';
import { FIXED_BUCKET_CONFIGURATIONS, S3Error, UNCONFIGURED_BUCKET_SUBRESOURCES, type S3Target } from './s3/index.js';

/** Where an operation's target lies: the service (no bucket), a bucket, or an object. */
type Scope = 'service' | 'bucket' | 'object';

/** One S3 operation: the requests it answers and the handler that serves them. */
export interface Operation {
  name: string;
  method: string;
  scope: Scope;
  /** The sub-resource query parameters that select this operation: all present, and no other. */
  subresources?: readonly string[];
  /** Sub-resource parameters the operation also accepts (`versionId=null` on an unversioned bucket). */
  optional?: readonly string[];
  /** A request header that selects this operation over the row after it (`x-amz-copy-source`). */
  header?: string;
  /** The S3 action it performs: what the access decision checks (src/gateway/access/). */
  action: S3Action;
  /**
   * The action it performs instead when the request names a version (`versionId`, `null` included),
   * as S3 decides it: reading an old version needs s3:GetObjectVersion, deleting one for good
   * s3:DeleteObjectVersion, whatever s3:GetObject and s3:DeleteObject allow.
   */
  versionedAction?: S3Action;
  /** Serves the request (src/gateway/handlers/). */
  handler: Handler;
  /** The handler takes the access decision itself: a POST upload's signature travels in its body. */
  authorizedByHandler?: true;
}

const VERSIONED = ['versionId'] as const;
/** GetObject and HeadObject also take `partNumber` (one part of the object, like a range). */
const READ_OPTIONS = ['versionId', 'partNumber'] as const;

/**
 * The operation table: every S3 operation the gateway serves, one row each, most specific first. A
 * request takes the first row that matches it; adding an operation is adding its row.
 */
export const OPERATIONS: readonly Operation[] = [
  { name: 'ListBuckets', method: 'GET', scope: 'service', action: 's3:ListAllMyBuckets', handler: listBuckets },
  { name: 'GetBucketLocation', method: 'GET', scope: 'bucket', subresources: ['location'], action: 's3:GetBucketLocation', handler: getBucketLocation },
  { name: 'GetBucketVersioning', method: 'GET', scope: 'bucket', subresources: ['versioning'], action: 's3:GetBucketVersioning', handler: getBucketVersioning },
  { name: 'PutBucketVersioning', method: 'PUT', scope: 'bucket', subresources: ['versioning'], action: 's3:PutBucketVersioning', handler: putBucketVersioning },
  { name: 'GetObjectLockConfiguration', method: 'GET', scope: 'bucket', subresources: ['object-lock'], action: 's3:GetBucketObjectLockConfiguration', handler: getObjectLockConfiguration },
  { name: 'PutObjectLockConfiguration', method: 'PUT', scope: 'bucket', subresources: ['object-lock'], action: 's3:PutBucketObjectLockConfiguration', handler: putObjectLockConfiguration },
  { name: 'ListObjectVersions', method: 'GET', scope: 'bucket', subresources: ['versions'], action: 's3:ListBucketVersions', handler: listObjectVersions },
  { name: 'DeleteObjects', method: 'POST', scope: 'bucket', subresources: ['delete'], action: 's3:DeleteObject', handler: deleteObjects },
  { name: 'GetBucketCors', method: 'GET', scope: 'bucket', subresources: ['cors'], action: 's3:GetBucketCORS', handler: getBucketCors },
  { name: 'PutBucketCors', method: 'PUT', scope: 'bucket', subresources: ['cors'], action: 's3:PutBucketCORS', handler: putBucketCors },
  { name: 'DeleteBucketCors', method: 'DELETE', scope: 'bucket', subresources: ['cors'], action: 's3:PutBucketCORS', handler: deleteBucketCors },
  { name: 'GetBucketEncryption', method: 'GET', scope: 'bucket', subresources: ['encryption'], action: 's3:GetEncryptionConfiguration', handler: getBucketEncryption },
  { name: 'PutBucketEncryption', method: 'PUT', scope: 'bucket', subresources: ['encryption'], action: 's3:PutEncryptionConfiguration', handler: putBucketEncryption },
  { name: 'DeleteBucketEncryption', method: 'DELETE', scope: 'bucket', subresources: ['encryption'], action: 's3:PutEncryptionConfiguration', handler: deleteBucketEncryption },
  { name: 'GetBucketAcl', method: 'GET', scope: 'bucket', subresources: ['acl'], action: 's3:GetBucketAcl', handler: getBucketAcl },
  { name: 'PutBucketAcl', method: 'PUT', scope: 'bucket', subresources: ['acl'], action: 's3:PutBucketAcl', handler: putBucketAcl },
  { name: 'GetBucketOwnershipControls', method: 'GET', scope: 'bucket', subresources: ['ownershipControls'], action: 's3:GetBucketOwnershipControls', handler: getBucketOwnershipControls },
  { name: 'PutBucketOwnershipControls', method: 'PUT', scope: 'bucket', subresources: ['ownershipControls'], action: 's3:PutBucketOwnershipControls', handler: putBucketOwnershipControls },
  { name: 'DeleteBucketOwnershipControls', method: 'DELETE', scope: 'bucket', subresources: ['ownershipControls'], action: 's3:PutBucketOwnershipControls', handler: deleteBucketOwnershipControls },
  { name: 'GetBucketPolicy', method: 'GET', scope: 'bucket', subresources: ['policy'], action: 's3:GetBucketPolicy', handler: getBucketPolicy },
  { name: 'PutBucketPolicy', method: 'PUT', scope: 'bucket', subresources: ['policy'], action: 's3:PutBucketPolicy', handler: putBucketPolicy },
  { name: 'DeleteBucketPolicy', method: 'DELETE', scope: 'bucket', subresources: ['policy'], action: 's3:DeleteBucketPolicy', handler: deleteBucketPolicy },
  { name: 'GetBucketPolicyStatus', method: 'GET', scope: 'bucket', subresources: ['policyStatus'], action: 's3:GetBucketPolicyStatus', handler: getBucketPolicyStatus },
  { name: 'GetPublicAccessBlock', method: 'GET', scope: 'bucket', subresources: ['publicAccessBlock'], action: 's3:GetBucketPublicAccessBlock', handler: getPublicAccessBlock },
  { name: 'PutPublicAccessBlock', method: 'PUT', scope: 'bucket', subresources: ['publicAccessBlock'], action: 's3:PutBucketPublicAccessBlock', handler: putPublicAccessBlock },
  { name: 'DeletePublicAccessBlock', method: 'DELETE', scope: 'bucket', subresources: ['publicAccessBlock'], action: 's3:PutBucketPublicAccessBlock', handler: deletePublicAccessBlock },
  { name: 'GetBucketTagging', method: 'GET', scope: 'bucket', subresources: ['tagging'], action: 's3:GetBucketTagging', handler: getBucketTagging },
  { name: 'PutBucketTagging', method: 'PUT', scope: 'bucket', subresources: ['tagging'], action: 's3:PutBucketTagging', handler: putBucketTagging },
  { name: 'DeleteBucketTagging', method: 'DELETE', scope: 'bucket', subresources: ['tagging'], action: 's3:PutBucketTagging', handler: deleteBucketTagging },
  { name: 'GetBucketLifecycleConfiguration', method: 'GET', scope: 'bucket', subresources: ['lifecycle'], action: 's3:GetLifecycleConfiguration', handler: getBucketLifecycle },
  { name: 'PutBucketLifecycleConfiguration', method: 'PUT', scope: 'bucket', subresources: ['lifecycle'], action: 's3:PutLifecycleConfiguration', handler: putBucketLifecycle },
  { name: 'DeleteBucketLifecycle', method: 'DELETE', scope: 'bucket', subresources: ['lifecycle'], action: 's3:PutLifecycleConfiguration', handler: deleteBucketLifecycle },
  { name: 'GetBucketNotificationConfiguration', method: 'GET', scope: 'bucket', subresources: ['notification'], action: 's3:GetBucketNotification', handler: getBucketNotification },
  { name: 'PutBucketNotificationConfiguration', method: 'PUT', scope: 'bucket', subresources: ['notification'], action: 's3:PutBucketNotification', handler: putBucketNotification },
  { name: 'GetBucketLogging', method: 'GET', scope: 'bucket', subresources: ['logging'], action: 's3:GetBucketLogging', handler: getBucketLogging },
  { name: 'PutBucketLogging', method: 'PUT', scope: 'bucket', subresources: ['logging'], action: 's3:PutBucketLogging', handler: putBucketLogging },
  { name: 'GetBucketReplication', method: 'GET', scope: 'bucket', subresources: ['replication'], action: 's3:GetReplicationConfiguration', handler: getBucketReplication },
  { name: 'PutBucketReplication', method: 'PUT', scope: 'bucket', subresources: ['replication'], action: 's3:PutReplicationConfiguration', handler: putBucketReplication },
  // S3 authorizes the removal with the action that sets it, as for lifecycle and CORS.
  { name: 'DeleteBucketReplication', method: 'DELETE', scope: 'bucket', subresources: ['replication'], action: 's3:PutReplicationConfiguration', handler: deleteBucketReplication },
  ...Object.keys(FIXED_BUCKET_CONFIGURATIONS).map(
    (name): Operation => ({ name: 'GetBucketFixedConfiguration', method: 'GET', scope: 'bucket', subresources: [name], action: 's3:GetBucketConfiguration', handler: getBucketFixedConfiguration }),
  ),
  ...Object.keys(UNCONFIGURED_BUCKET_SUBRESOURCES).map(
    (name): Operation => ({ name: 'GetBucketUnconfigured', method: 'GET', scope: 'bucket', subresources: [name], action: 's3:GetBucketConfiguration', handler: getBucketUnconfigured }),
  ),
  { name: 'ListMultipartUploads', method: 'GET', scope: 'bucket', subresources: ['uploads'], action: 's3:ListBucketMultipartUploads', handler: listMultipartUploads },
  { name: 'CreateMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploads'], action: 's3:PutObject', handler: createMultipartUpload },
  { name: 'UploadPartCopy', method: 'PUT', scope: 'object', subresources: ['partNumber', 'uploadId'], header: 'x-amz-copy-source', action: 's3:PutObject', handler: uploadPartCopy },
  { name: 'UploadPart', method: 'PUT', scope: 'object', subresources: ['partNumber', 'uploadId'], action: 's3:PutObject', handler: uploadPart },
  { name: 'CompleteMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploadId'], action: 's3:PutObject', handler: completeMultipartUpload },
  { name: 'AbortMultipartUpload', method: 'DELETE', scope: 'object', subresources: ['uploadId'], action: 's3:AbortMultipartUpload', handler: abortMultipartUpload },
  { name: 'ListParts', method: 'GET', scope: 'object', subresources: ['uploadId'], action: 's3:ListMultipartUploadParts', handler: listParts },
  { name: 'GetObjectTagging', method: 'GET', scope: 'object', subresources: ['tagging'], optional: VERSIONED, action: 's3:GetObjectTagging', versionedAction: 's3:GetObjectVersionTagging', handler: getObjectTagging },
  { name: 'PutObjectTagging', method: 'PUT', scope: 'object', subresources: ['tagging'], optional: VERSIONED, action: 's3:PutObjectTagging', versionedAction: 's3:PutObjectVersionTagging', handler: putObjectTagging },
  { name: 'DeleteObjectTagging', method: 'DELETE', scope: 'object', subresources: ['tagging'], optional: VERSIONED, action: 's3:DeleteObjectTagging', versionedAction: 's3:DeleteObjectVersionTagging', handler: deleteObjectTagging },
  { name: 'GetObjectRetention', method: 'GET', scope: 'object', subresources: ['retention'], optional: VERSIONED, action: 's3:GetObjectRetention', handler: getObjectRetention },
  { name: 'PutObjectRetention', method: 'PUT', scope: 'object', subresources: ['retention'], optional: VERSIONED, action: 's3:PutObjectRetention', handler: putObjectRetention },
  { name: 'GetObjectLegalHold', method: 'GET', scope: 'object', subresources: ['legal-hold'], optional: VERSIONED, action: 's3:GetObjectLegalHold', handler: getObjectLegalHold },
  { name: 'PutObjectLegalHold', method: 'PUT', scope: 'object', subresources: ['legal-hold'], optional: VERSIONED, action: 's3:PutObjectLegalHold', handler: putObjectLegalHold },
  { name: 'GetObjectAttributes', method: 'GET', scope: 'object', subresources: ['attributes'], optional: VERSIONED, action: 's3:GetObjectAttributes', versionedAction: 's3:GetObjectVersionAttributes', handler: getObjectAttributes },
  { name: 'GetObjectAcl', method: 'GET', scope: 'object', subresources: ['acl'], optional: VERSIONED, action: 's3:GetObjectAcl', versionedAction: 's3:GetObjectVersionAcl', handler: getObjectAcl },
  { name: 'PutObjectAcl', method: 'PUT', scope: 'object', subresources: ['acl'], optional: VERSIONED, action: 's3:PutObjectAcl', versionedAction: 's3:PutObjectVersionAcl', handler: putObjectAcl },
  { name: 'CreateBucket', method: 'PUT', scope: 'bucket', action: 's3:CreateBucket', handler: createBucket },
  { name: 'HeadBucket', method: 'HEAD', scope: 'bucket', action: 's3:ListBucket', handler: headBucket },
  { name: 'DeleteBucket', method: 'DELETE', scope: 'bucket', action: 's3:DeleteBucket', handler: deleteBucket },
  { name: 'ListObjects', method: 'GET', scope: 'bucket', action: 's3:ListBucket', handler: listObjectsHandler },
  { name: 'CopyObject', method: 'PUT', scope: 'object', header: 'x-amz-copy-source', action: 's3:PutObject', handler: copyObject },
  { name: 'PostObject', method: 'POST', scope: 'bucket', action: 's3:PutObject', handler: postObject, authorizedByHandler: true },
  { name: 'PutObject', method: 'PUT', scope: 'object', action: 's3:PutObject', handler: putObject },
  { name: 'GetObject', method: 'GET', scope: 'object', optional: READ_OPTIONS, action: 's3:GetObject', versionedAction: 's3:GetObjectVersion', handler: getObject },
  { name: 'HeadObject', method: 'HEAD', scope: 'object', optional: READ_OPTIONS, action: 's3:GetObject', versionedAction: 's3:GetObjectVersion', handler: headObject },
  { name: 'DeleteObject', method: 'DELETE', scope: 'object', optional: VERSIONED, action: 's3:DeleteObject', versionedAction: 's3:DeleteObjectVersion', handler: deleteObject },
];

/**
 * Query parameters that turn a request into a different S3 operation. A request carrying one the
 * table does not serve is refused with NotImplemented rather than served as the plain operation:
 * `PUT /b/k?retention` must never overwrite the object.
 */
const SUBRESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering',
  'inventory', 'legal-hold', 'lifecycle', 'location', 'logging', 'metrics', 'notification', 'object-lock',
  'ownershipControls', 'partNumber', 'policy', 'policyStatus', 'publicAccessBlock', 'replication',
  'requestPayment', 'restore', 'retention', 'select', 'tagging', 'torrent', 'uploadId', 'uploads',
  'versioning', 'versionId', 'versions', 'website',
]);

/** Picks the operation for a method, target and headers, or throws the S3 error a real S3 would. */
export function resolveOperation(
  method: string,
  target: S3Target,
  headers: Readonly<Record<string, string | string[] | undefined>> = {},
): Operation {
  const scope: Scope = target.bucket === undefined ? 'service' : target.key === undefined ? 'bucket' : 'object';
  const present = [...target.query.keys()].filter((name) => SUBRESOURCES.has(name));
  for (const row of OPERATIONS) {
    if (row.method !== method || row.scope !== scope) continue;
    if (row.header !== undefined && headers[row.header] === undefined) continue;
    const wanted = row.subresources ?? [];
    const extra = present.filter((name) => !wanted.includes(name));
    if (wanted.every((name) => target.query.has(name)) && extra.every((name) => row.optional?.includes(name) === true)) {
      return row;
    }
  }
  if (present.length > 0) {
    throw new S3Error('NotImplemented', { message: `The ${present.join(', ')} sub-resource is not implemented.` });
  }
  throw new S3Error('MethodNotAllowed');
}

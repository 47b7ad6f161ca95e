// One file per S3 resource, each exporting the handlers the operation table names, in a folder per
// kind of resource: bucket/ (a bucket, its configuration and its listings), object/, multipart/ (an
// upload and its parts), and subresource/ (ACLs, tags and object lock, on a bucket and an object alike).
// What handlers of several folders share (the current version, an upload, preconditions, attributes)
// lives in shared/, each in a file of its own.
export { getBucketAcl, getObjectAcl, putBucketAcl, putObjectAcl } from './subresource/acl.js';
export { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './bucket/bucket.js';
export {
  deleteBucketOwnershipControls,
  getBucketFixedConfiguration,
  getBucketOwnershipControls,
  getBucketUnconfigured,
  getBucketVersioning,
  putBucketOwnershipControls,
  putBucketVersioning,
} from './bucket/bucket-config.js';
export { deleteBucketCors, getBucketCors, putBucketCors } from './bucket/bucket-cors.js';
export { deleteBucketLifecycle, getBucketLifecycle, putBucketLifecycle } from './bucket/bucket-lifecycle.js';
export { getBucketLogging, putBucketLogging } from './bucket/bucket-logging.js';
export { getBucketNotification, putBucketNotification } from './bucket/bucket-notification.js';
export { deleteBucketReplication, getBucketReplication, putBucketReplication } from './bucket/bucket-replication.js';
export { deleteBucketEncryption, getBucketEncryption, putBucketEncryption } from './bucket/bucket-encryption.js';
export {
  deleteBucketPolicy,
  deletePublicAccessBlock,
  getBucketPolicy,
  getBucketPolicyStatus,
  getPublicAccessBlock,
  putBucketPolicy,
  putPublicAccessBlock,
} from './bucket/bucket-policy.js';
export { copyObject, uploadPartCopy } from './object/copy-object.js';
export { deleteObjects } from './object/delete-objects.js';
export { getObjectAttributes } from './object/get-object-attributes.js';
export { listObjectVersions, listObjectsHandler } from './bucket/list-objects.js';
export { abortMultipartUpload, createMultipartUpload, uploadPart } from './multipart/multipart.js';
export { completeMultipartUpload } from './multipart/multipart-complete.js';
export { listMultipartUploads, listParts } from './multipart/multipart-listing.js';
export { deleteObject, getObject, headObject, putObject } from './object/object.js';
export { postObject } from './object/post-object.js';
export {
  getObjectLegalHold,
  getObjectLockConfiguration,
  getObjectRetention,
  putObjectLegalHold,
  putObjectLockConfiguration,
  putObjectRetention,
} from './subresource/object-lock.js';
export { deleteBucketTagging, deleteObjectTagging, getBucketTagging, getObjectTagging, putBucketTagging, putObjectTagging } from './subresource/tagging.js';

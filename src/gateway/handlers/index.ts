// One file per S3 resource, each exporting the handlers the operation table names; what several
// handlers share (the current version, an upload, preconditions, attributes) has files of its own.
export { getBucketAcl, getObjectAcl, putBucketAcl, putObjectAcl } from './acl.js';
export { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './bucket.js';
export {
  deleteBucketOwnershipControls,
  getBucketFixedConfiguration,
  getBucketOwnershipControls,
  getBucketUnconfigured,
  getBucketVersioning,
  putBucketOwnershipControls,
  putBucketVersioning,
} from './bucket-config.js';
export { deleteBucketCors, getBucketCors, putBucketCors } from './bucket-cors.js';
export { deleteBucketLifecycle, getBucketLifecycle, putBucketLifecycle } from './bucket-lifecycle.js';
export { deleteBucketEncryption, getBucketEncryption, putBucketEncryption } from './bucket-encryption.js';
export {
  deleteBucketPolicy,
  deletePublicAccessBlock,
  getBucketPolicy,
  getBucketPolicyStatus,
  getPublicAccessBlock,
  putBucketPolicy,
  putPublicAccessBlock,
} from './bucket-policy.js';
export { copyObject, uploadPartCopy } from './copy-object.js';
export { deleteObjects } from './delete-objects.js';
export { getObjectAttributes } from './get-object-attributes.js';
export { listObjectVersions, listObjectsHandler } from './list-objects.js';
export { abortMultipartUpload, createMultipartUpload, uploadPart } from './multipart.js';
export { completeMultipartUpload } from './multipart-complete.js';
export { listMultipartUploads, listParts } from './multipart-listing.js';
export { deleteObject, getObject, headObject, putObject } from './object.js';
export { postObject } from './post-object.js';
export {
  getObjectLegalHold,
  getObjectLockConfiguration,
  getObjectRetention,
  putObjectLegalHold,
  putObjectLockConfiguration,
  putObjectRetention,
} from './object-lock.js';
export { deleteBucketTagging, deleteObjectTagging, getBucketTagging, getObjectTagging, putBucketTagging, putObjectTagging } from './tagging.js';

import {
  abortMultipartUpload,
  completeMultipartUpload,
  copyObject,
  createBucket,
  createMultipartUpload,
  deleteBucket,
  deleteBucketCors,
  deleteBucketEncryption,
  deleteBucketTagging,
  deleteObject,
  deleteObjects,
  deleteObjectTagging,
  getBucketAcl,
  getBucketCors,
  getBucketEncryption,
  getBucketFixedConfiguration,
  getBucketLocation,
  getBucketTagging,
  getBucketUnconfigured,
  getBucketVersioning,
  getObject,
  getObjectAcl,
  getObjectAttributes,
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
  putBucketEncryption,
  putBucketTagging,
  putObject,
  putObjectAcl,
  putBucketVersioning,
  putObjectTagging,
  uploadPart,
  uploadPartCopy,
} from './handlers/index.js';
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
  /** Serves the request (src/gateway/handlers/). */
  handler: Handler;
}

const VERSIONED = ['versionId'] as const;
/** GetObject and HeadObject also take `partNumber` (one part of the object, like a range). */
const READ_OPTIONS = ['versionId', 'partNumber'] as const;

/**
 * The operation table: every S3 operation the gateway serves, one row each, most specific first. A
 * request takes the first row that matches it; adding an operation is adding its row.
 */
export const OPERATIONS: readonly Operation[] = [
  { name: 'ListBuckets', method: 'GET', scope: 'service', handler: listBuckets },
  { name: 'GetBucketLocation', method: 'GET', scope: 'bucket', subresources: ['location'], handler: getBucketLocation },
  { name: 'GetBucketVersioning', method: 'GET', scope: 'bucket', subresources: ['versioning'], handler: getBucketVersioning },
  { name: 'PutBucketVersioning', method: 'PUT', scope: 'bucket', subresources: ['versioning'], handler: putBucketVersioning },
  { name: 'ListObjectVersions', method: 'GET', scope: 'bucket', subresources: ['versions'], handler: listObjectVersions },
  { name: 'DeleteObjects', method: 'POST', scope: 'bucket', subresources: ['delete'], handler: deleteObjects },
  { name: 'GetBucketCors', method: 'GET', scope: 'bucket', subresources: ['cors'], handler: getBucketCors },
  { name: 'PutBucketCors', method: 'PUT', scope: 'bucket', subresources: ['cors'], handler: putBucketCors },
  { name: 'DeleteBucketCors', method: 'DELETE', scope: 'bucket', subresources: ['cors'], handler: deleteBucketCors },
  { name: 'GetBucketEncryption', method: 'GET', scope: 'bucket', subresources: ['encryption'], handler: getBucketEncryption },
  { name: 'PutBucketEncryption', method: 'PUT', scope: 'bucket', subresources: ['encryption'], handler: putBucketEncryption },
  { name: 'DeleteBucketEncryption', method: 'DELETE', scope: 'bucket', subresources: ['encryption'], handler: deleteBucketEncryption },
  { name: 'GetBucketAcl', method: 'GET', scope: 'bucket', subresources: ['acl'], handler: getBucketAcl },
  { name: 'PutBucketAcl', method: 'PUT', scope: 'bucket', subresources: ['acl'], handler: putBucketAcl },
  { name: 'GetBucketTagging', method: 'GET', scope: 'bucket', subresources: ['tagging'], handler: getBucketTagging },
  { name: 'PutBucketTagging', method: 'PUT', scope: 'bucket', subresources: ['tagging'], handler: putBucketTagging },
  { name: 'DeleteBucketTagging', method: 'DELETE', scope: 'bucket', subresources: ['tagging'], handler: deleteBucketTagging },
  ...Object.keys(FIXED_BUCKET_CONFIGURATIONS).map(
    (name): Operation => ({ name: 'GetBucketFixedConfiguration', method: 'GET', scope: 'bucket', subresources: [name], handler: getBucketFixedConfiguration }),
  ),
  ...Object.keys(UNCONFIGURED_BUCKET_SUBRESOURCES).map(
    (name): Operation => ({ name: 'GetBucketUnconfigured', method: 'GET', scope: 'bucket', subresources: [name], handler: getBucketUnconfigured }),
  ),
  { name: 'ListMultipartUploads', method: 'GET', scope: 'bucket', subresources: ['uploads'], handler: listMultipartUploads },
  { name: 'CreateMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploads'], handler: createMultipartUpload },
  { name: 'UploadPartCopy', method: 'PUT', scope: 'object', subresources: ['partNumber', 'uploadId'], header: 'x-amz-copy-source', handler: uploadPartCopy },
  { name: 'UploadPart', method: 'PUT', scope: 'object', subresources: ['partNumber', 'uploadId'], handler: uploadPart },
  { name: 'CompleteMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploadId'], handler: completeMultipartUpload },
  { name: 'AbortMultipartUpload', method: 'DELETE', scope: 'object', subresources: ['uploadId'], handler: abortMultipartUpload },
  { name: 'ListParts', method: 'GET', scope: 'object', subresources: ['uploadId'], handler: listParts },
  { name: 'GetObjectTagging', method: 'GET', scope: 'object', subresources: ['tagging'], optional: VERSIONED, handler: getObjectTagging },
  { name: 'PutObjectTagging', method: 'PUT', scope: 'object', subresources: ['tagging'], optional: VERSIONED, handler: putObjectTagging },
  { name: 'DeleteObjectTagging', method: 'DELETE', scope: 'object', subresources: ['tagging'], optional: VERSIONED, handler: deleteObjectTagging },
  { name: 'GetObjectAttributes', method: 'GET', scope: 'object', subresources: ['attributes'], optional: VERSIONED, handler: getObjectAttributes },
  { name: 'GetObjectAcl', method: 'GET', scope: 'object', subresources: ['acl'], optional: VERSIONED, handler: getObjectAcl },
  { name: 'PutObjectAcl', method: 'PUT', scope: 'object', subresources: ['acl'], optional: VERSIONED, handler: putObjectAcl },
  { name: 'CreateBucket', method: 'PUT', scope: 'bucket', handler: createBucket },
  { name: 'HeadBucket', method: 'HEAD', scope: 'bucket', handler: headBucket },
  { name: 'DeleteBucket', method: 'DELETE', scope: 'bucket', handler: deleteBucket },
  { name: 'ListObjects', method: 'GET', scope: 'bucket', handler: listObjectsHandler },
  { name: 'CopyObject', method: 'PUT', scope: 'object', header: 'x-amz-copy-source', handler: copyObject },
  { name: 'PutObject', method: 'PUT', scope: 'object', handler: putObject },
  { name: 'GetObject', method: 'GET', scope: 'object', optional: READ_OPTIONS, handler: getObject },
  { name: 'HeadObject', method: 'HEAD', scope: 'object', optional: READ_OPTIONS, handler: headObject },
  { name: 'DeleteObject', method: 'DELETE', scope: 'object', optional: VERSIONED, handler: deleteObject },
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

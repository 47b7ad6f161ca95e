import { FIXED_BUCKET_CONFIGURATIONS, S3Error, UNCONFIGURED_BUCKET_SUBRESOURCES, type S3Target } from './s3/index.js';

/** Every S3 operation the gateway serves. */
export type OperationName =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'ListObjects'
  | 'ListObjectVersions'
  | 'DeleteObjects'
  | 'GetBucketCors'
  | 'PutBucketCors'
  | 'DeleteBucketCors'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'GetBucketTagging'
  | 'PutBucketTagging'
  | 'DeleteBucketTagging'
  | 'GetBucketFixedConfiguration'
  | 'GetBucketUnconfigured'
  | 'PutObject'
  | 'CopyObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'GetObjectTagging'
  | 'PutObjectTagging'
  | 'DeleteObjectTagging'
  | 'GetObjectAcl'
  | 'PutObjectAcl'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'ListMultipartUploads';

type Scope = 'service' | 'bucket' | 'object';

interface OperationRow {
  name: OperationName;
  method: string;
  scope: Scope;
  /** The sub-resource query parameters that select this operation: all present, and no other. */
  subresources?: readonly string[];
  /** Sub-resource parameters the operation also accepts (`versionId=null` on an unversioned bucket). */
  optional?: readonly string[];
  /** A request header that selects this operation over the row after it (`x-amz-copy-source`). */
  header?: string;
}

const VERSIONED = ['versionId'] as const;

/** The routing table: one row per operation, most specific first. */
export const OPERATIONS: readonly OperationRow[] = [
  { name: 'ListBuckets', method: 'GET', scope: 'service' },
  { name: 'GetBucketLocation', method: 'GET', scope: 'bucket', subresources: ['location'] },
  { name: 'GetBucketVersioning', method: 'GET', scope: 'bucket', subresources: ['versioning'] },
  { name: 'ListObjectVersions', method: 'GET', scope: 'bucket', subresources: ['versions'] },
  { name: 'DeleteObjects', method: 'POST', scope: 'bucket', subresources: ['delete'] },
  { name: 'GetBucketCors', method: 'GET', scope: 'bucket', subresources: ['cors'] },
  { name: 'PutBucketCors', method: 'PUT', scope: 'bucket', subresources: ['cors'] },
  { name: 'DeleteBucketCors', method: 'DELETE', scope: 'bucket', subresources: ['cors'] },
  { name: 'GetBucketAcl', method: 'GET', scope: 'bucket', subresources: ['acl'] },
  { name: 'PutBucketAcl', method: 'PUT', scope: 'bucket', subresources: ['acl'] },
  { name: 'GetBucketTagging', method: 'GET', scope: 'bucket', subresources: ['tagging'] },
  { name: 'PutBucketTagging', method: 'PUT', scope: 'bucket', subresources: ['tagging'] },
  { name: 'DeleteBucketTagging', method: 'DELETE', scope: 'bucket', subresources: ['tagging'] },
  ...Object.keys(FIXED_BUCKET_CONFIGURATIONS).map(
    (name): OperationRow => ({ name: 'GetBucketFixedConfiguration', method: 'GET', scope: 'bucket', subresources: [name] }),
  ),
  ...Object.keys(UNCONFIGURED_BUCKET_SUBRESOURCES).map(
    (name): OperationRow => ({ name: 'GetBucketUnconfigured', method: 'GET', scope: 'bucket', subresources: [name] }),
  ),
  { name: 'ListMultipartUploads', method: 'GET', scope: 'bucket', subresources: ['uploads'] },
  { name: 'CreateMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploads'] },
  { name: 'UploadPartCopy', method: 'PUT', scope: 'object', subresources: ['partNumber', 'uploadId'], header: 'x-amz-copy-source' },
  { name: 'UploadPart', method: 'PUT', scope: 'object', subresources: ['partNumber', 'uploadId'] },
  { name: 'CompleteMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploadId'] },
  { name: 'AbortMultipartUpload', method: 'DELETE', scope: 'object', subresources: ['uploadId'] },
  { name: 'ListParts', method: 'GET', scope: 'object', subresources: ['uploadId'] },
  { name: 'GetObjectTagging', method: 'GET', scope: 'object', subresources: ['tagging'], optional: VERSIONED },
  { name: 'PutObjectTagging', method: 'PUT', scope: 'object', subresources: ['tagging'], optional: VERSIONED },
  { name: 'DeleteObjectTagging', method: 'DELETE', scope: 'object', subresources: ['tagging'], optional: VERSIONED },
  { name: 'GetObjectAcl', method: 'GET', scope: 'object', subresources: ['acl'], optional: VERSIONED },
  { name: 'PutObjectAcl', method: 'PUT', scope: 'object', subresources: ['acl'], optional: VERSIONED },
  { name: 'CreateBucket', method: 'PUT', scope: 'bucket' },
  { name: 'HeadBucket', method: 'HEAD', scope: 'bucket' },
  { name: 'DeleteBucket', method: 'DELETE', scope: 'bucket' },
  { name: 'ListObjects', method: 'GET', scope: 'bucket' },
  { name: 'CopyObject', method: 'PUT', scope: 'object', header: 'x-amz-copy-source' },
  { name: 'PutObject', method: 'PUT', scope: 'object' },
  { name: 'GetObject', method: 'GET', scope: 'object', optional: VERSIONED },
  { name: 'HeadObject', method: 'HEAD', scope: 'object', optional: VERSIONED },
  { name: 'DeleteObject', method: 'DELETE', scope: 'object', optional: VERSIONED },
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
): OperationName {
  const scope: Scope = target.bucket === undefined ? 'service' : target.key === undefined ? 'bucket' : 'object';
  const present = [...target.query.keys()].filter((name) => SUBRESOURCES.has(name));
  for (const row of OPERATIONS) {
    if (row.method !== method || row.scope !== scope) continue;
    if (row.header !== undefined && headers[row.header] === undefined) continue;
    const wanted = row.subresources ?? [];
    const extra = present.filter((name) => !wanted.includes(name));
    if (wanted.every((name) => target.query.has(name)) && extra.every((name) => row.optional?.includes(name) === true)) {
      return row.name;
    }
  }
  if (present.length > 0) {
    throw new S3Error('NotImplemented', { message: `The ${present.join(', ')} sub-resource is not implemented.` });
  }
  throw new S3Error('MethodNotAllowed');
}

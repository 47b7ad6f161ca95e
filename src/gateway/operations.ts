import type { S3Target } from './s3-request.js';
import { S3Error } from './s3-errors.js';

/** Every S3 operation the gateway serves. */
export type OperationName =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'ListObjects'
  | 'DeleteObjects'
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
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
}

/** The routing table: one row per operation, most specific first. */
export const OPERATIONS: readonly OperationRow[] = [
  { name: 'ListBuckets', method: 'GET', scope: 'service' },
  { name: 'GetBucketLocation', method: 'GET', scope: 'bucket', subresources: ['location'] },
  { name: 'DeleteObjects', method: 'POST', scope: 'bucket', subresources: ['delete'] },
  { name: 'ListMultipartUploads', method: 'GET', scope: 'bucket', subresources: ['uploads'] },
  { name: 'CreateMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploads'] },
  { name: 'UploadPart', method: 'PUT', scope: 'object', subresources: ['partNumber', 'uploadId'] },
  { name: 'CompleteMultipartUpload', method: 'POST', scope: 'object', subresources: ['uploadId'] },
  { name: 'AbortMultipartUpload', method: 'DELETE', scope: 'object', subresources: ['uploadId'] },
  { name: 'ListParts', method: 'GET', scope: 'object', subresources: ['uploadId'] },
  { name: 'CreateBucket', method: 'PUT', scope: 'bucket' },
  { name: 'HeadBucket', method: 'HEAD', scope: 'bucket' },
  { name: 'DeleteBucket', method: 'DELETE', scope: 'bucket' },
  { name: 'ListObjects', method: 'GET', scope: 'bucket' },
  { name: 'PutObject', method: 'PUT', scope: 'object' },
  { name: 'GetObject', method: 'GET', scope: 'object' },
  { name: 'HeadObject', method: 'HEAD', scope: 'object' },
  { name: 'DeleteObject', method: 'DELETE', scope: 'object' },
];

/**
 * Query parameters that turn a request into a different S3 operation. A request carrying one the
 * table does not serve is refused with NotImplemented rather than served as the plain operation:
 * `PUT /b/k?tagging` must never overwrite the object.
 */
const SUBRESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering',
  'inventory', 'legal-hold', 'lifecycle', 'location', 'logging', 'metrics', 'notification', 'object-lock',
  'ownershipControls', 'partNumber', 'policy', 'policyStatus', 'publicAccessBlock', 'replication',
  'requestPayment', 'restore', 'retention', 'select', 'tagging', 'torrent', 'uploadId', 'uploads',
  'versioning', 'versionId', 'versions', 'website',
]);

/** Picks the operation for a method and target, or throws the S3 error a real S3 would. */
export function resolveOperation(method: string, target: S3Target): OperationName {
  const scope: Scope = target.bucket === undefined ? 'service' : target.key === undefined ? 'bucket' : 'object';
  const present = [...target.query.keys()].filter((name) => SUBRESOURCES.has(name));
  for (const row of OPERATIONS) {
    if (row.method !== method || row.scope !== scope) continue;
    const wanted = row.subresources ?? [];
    if (wanted.length === present.length && wanted.every((name) => target.query.has(name))) {
      return row.name;
    }
  }
  if (present.length > 0) {
    throw new S3Error('NotImplemented', { message: `The ${present.join(', ')} sub-resource is not implemented.` });
  }
  throw new S3Error('MethodNotAllowed');
}

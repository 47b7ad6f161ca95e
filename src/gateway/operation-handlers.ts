import { getBucketAcl, getObjectAcl, putBucketAcl, putObjectAcl } from './acl.js';
import {
  deleteBucketTagging,
  getBucketFixedConfiguration,
  getBucketTagging,
  getBucketUnconfigured,
  getBucketVersioning,
  putBucketTagging,
} from './bucket-config.js';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './bucket-handlers.js';
import { copyObject, uploadPartCopy } from './copy-object.js';
import { deleteBucketCors, getBucketCors, putBucketCors } from './cors.js';
import { deleteObjects } from './delete-objects.js';
import type { RequestContext } from './http/index.js';
import { listObjectVersions, listObjectsHandler } from './list-handlers.js';
import { listMultipartUploads, listParts } from './multipart-listing.js';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, uploadPart } from './multipart.js';
import { deleteObject, getObject, putObject } from './object-handlers.js';
import { deleteObjectTagging, getObjectTagging, putObjectTagging } from './object-tagging.js';
import type { OperationName } from './operations.js';

/** The handler of every operation in the routing table. */
export const HANDLERS: Record<OperationName, (ctx: RequestContext) => Promise<void>> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  GetBucketVersioning: getBucketVersioning,
  ListObjects: listObjectsHandler,
  ListObjectVersions: listObjectVersions,
  DeleteObjects: deleteObjects,
  GetBucketCors: getBucketCors,
  PutBucketCors: putBucketCors,
  DeleteBucketCors: deleteBucketCors,
  GetBucketAcl: getBucketAcl,
  PutBucketAcl: putBucketAcl,
  GetBucketTagging: getBucketTagging,
  PutBucketTagging: putBucketTagging,
  DeleteBucketTagging: deleteBucketTagging,
  GetBucketFixedConfiguration: getBucketFixedConfiguration,
  GetBucketUnconfigured: getBucketUnconfigured,
  PutObject: putObject,
  CopyObject: copyObject,
  GetObject: (ctx) => getObject(ctx, false),
  HeadObject: (ctx) => getObject(ctx, true),
  DeleteObject: deleteObject,
  GetObjectTagging: getObjectTagging,
  PutObjectTagging: putObjectTagging,
  DeleteObjectTagging: deleteObjectTagging,
  GetObjectAcl: getObjectAcl,
  PutObjectAcl: putObjectAcl,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  UploadPartCopy: uploadPartCopy,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  ListMultipartUploads: listMultipartUploads,
};

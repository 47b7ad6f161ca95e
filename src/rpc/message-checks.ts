import type { TSchema } from 'typebox';
import { SchemaCheck } from '../common/index.js';
import { NodeHealth, NodeWorkStatus, PartitionDigest, PartitionEntriesResponse, PartitionGoneResponse } from './node-reports.js';
import { IndexApplyRequest, IndexListResponse, IndexVersionListResponse } from './bucket-index.js';
import { IndexDropRequest, IndexExportResponse } from './index-split.js';
import { ChangeLogPage } from './change-log.js';
import {
  AbortRequest,
  BatchCall,
  BatchRequest,
  BatchResponse,
  ChangeOfferRequest,
  ChangeOfferResponse,
  ChangesDoneRequest,
  ChangesDoneResponse,
  CommitRequest,
  LeaseRequest,
  LeaseResponse,
  ListResponse,
  ObjectStatusOrNull,
  PrepareResponse,
  RingOfferResponse,
  TagUpdateRequest,
  VersionDeleteRequest,
  VersionDeleteResponse,
} from './protocol.js';
import { BucketRecord, BucketUsageResponse, BucketsResponse } from './bucket-record.js';
import { UserRecord, UsersResponse } from './user-record.js';
import { ErasureParams, ShardRef, VersionId, WireName } from './wire-fields.js';

/**
 * The checks of every node protocol message, one instance per process: the node server validates
 * request bodies with them (as Fastify route schemas) and the client validates answers.
 */
export const MESSAGE_CHECKS = {
  name: new SchemaCheck('name', WireName),
  versionId: new SchemaCheck('version id', VersionId),
  shardRef: new SchemaCheck('shard', ShardRef),
  erasure: new SchemaCheck('erasure parameters', ErasureParams),
  commit: new SchemaCheck('commit request', CommitRequest),
  abort: new SchemaCheck('abort request', AbortRequest),
  tags: new SchemaCheck('tag update', TagUpdateRequest),
  bucket: new SchemaCheck('bucket record', BucketRecord),
  batch: new SchemaCheck('batch', BatchRequest),
  batchCall: new SchemaCheck('batch call', BatchCall),
  prepared: new SchemaCheck('prepare answer', PrepareResponse),
  objectStatus: new SchemaCheck('version status', ObjectStatusOrNull),
  batchAnswer: new SchemaCheck('batch answer', BatchResponse),
  list: new SchemaCheck('listing', ListResponse),
  indexApply: new SchemaCheck('index changes', IndexApplyRequest),
  indexList: new SchemaCheck('index page', IndexListResponse),
  indexExport: new SchemaCheck('index rows export', IndexExportResponse),
  indexDrop: new SchemaCheck('index rows drop', IndexDropRequest),
  changeLog: new SchemaCheck('change log page', ChangeLogPage),
  indexVersionList: new SchemaCheck('index versions page', IndexVersionListResponse),
  versionDelete: new SchemaCheck('version delete', VersionDeleteRequest),
  lease: new SchemaCheck('lease request', LeaseRequest),
  leaseAnswer: new SchemaCheck('lease answer', LeaseResponse),
  versionDeleted: new SchemaCheck('version delete answer', VersionDeleteResponse),
  buckets: new SchemaCheck('bucket list', BucketsResponse),
  usage: new SchemaCheck('bucket usage', BucketUsageResponse),
  user: new SchemaCheck('user record', UserRecord),
  users: new SchemaCheck('user list', UsersResponse),
  ringOffer: new SchemaCheck('ring offer answer', RingOfferResponse),
  health: new SchemaCheck('health report', NodeHealth),
  partitionDigest: new SchemaCheck('partition digest', PartitionDigest),
  partitionEntries: new SchemaCheck('partition listing', PartitionEntriesResponse),
  partitionGone: new SchemaCheck('partition version tombstones', PartitionGoneResponse),
  workStatus: new SchemaCheck('work status', NodeWorkStatus),
  changeOffer: new SchemaCheck('change offer', ChangeOfferRequest),
  changeOfferAnswer: new SchemaCheck('change offer answer', ChangeOfferResponse),
  changesDone: new SchemaCheck('changes done', ChangesDoneRequest),
  changesDoneAnswer: new SchemaCheck('changes done answer', ChangesDoneResponse),
} as const;

/** The shared check of a message schema (a route's body schema), or a new one for a schema outside the table. */
export function checkFor<T extends TSchema>(schema: T): SchemaCheck<T> {
  const known = Object.values(MESSAGE_CHECKS).find((check) => (check.schema as TSchema) === schema);
  return (known as SchemaCheck<T> | undefined) ?? new SchemaCheck('body', schema);
}

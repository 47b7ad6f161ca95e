import type { TSchema } from 'typebox';
import { MessageCheck } from './message-check.js';
import { NodeHealth, NodeWorkStatus, PartitionDigest, PartitionEntriesResponse } from './node-reports.js';
import {
  AbortRequest,
  BatchCall,
  BatchRequest,
  BatchResponse,
  BucketRecord,
  BucketsResponse,
  CommitRequest,
  ErasureParams,
  ListResponse,
  ObjectStatusOrNull,
  PrepareResponse,
  RingOfferResponse,
  ShardRef,
  TagUpdateRequest,
  WireName,
} from './protocol.js';

/**
 * The checks of every node protocol message, one instance per process: the node server validates
 * request bodies with them (as Fastify route schemas) and the client validates answers.
 */
export const MESSAGE_CHECKS = {
  name: new MessageCheck('name', WireName),
  shardRef: new MessageCheck('shard', ShardRef),
  erasure: new MessageCheck('erasure parameters', ErasureParams),
  commit: new MessageCheck('commit request', CommitRequest),
  abort: new MessageCheck('abort request', AbortRequest),
  tags: new MessageCheck('tag update', TagUpdateRequest),
  bucket: new MessageCheck('bucket record', BucketRecord),
  batch: new MessageCheck('batch', BatchRequest),
  batchCall: new MessageCheck('batch call', BatchCall),
  prepared: new MessageCheck('prepare answer', PrepareResponse),
  objectStatus: new MessageCheck('version status', ObjectStatusOrNull),
  batchAnswer: new MessageCheck('batch answer', BatchResponse),
  list: new MessageCheck('listing', ListResponse),
  buckets: new MessageCheck('bucket list', BucketsResponse),
  ringOffer: new MessageCheck('ring offer answer', RingOfferResponse),
  health: new MessageCheck('health report', NodeHealth),
  partitionDigest: new MessageCheck('partition digest', PartitionDigest),
  partitionEntries: new MessageCheck('partition listing', PartitionEntriesResponse),
  workStatus: new MessageCheck('work status', NodeWorkStatus),
} as const;

/** The shared check of a message schema (a route's body schema), or a new one for a schema outside the table. */
export function checkFor<T extends TSchema>(schema: T): MessageCheck<T> {
  const known = Object.values(MESSAGE_CHECKS).find((check) => (check.schema as TSchema) === schema);
  return (known as MessageCheck<T> | undefined) ?? new MessageCheck('body', schema);
}

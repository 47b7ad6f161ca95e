import { Readable } from 'node:stream';
import { CallBatcher } from './call-batcher.js';
import { EncodedCommit } from './encoded-commit.js';
import type { LatencyEstimator } from './latency-estimator.js';
import type { LocalLink } from './local-link.js';
import { MESSAGE_CHECKS } from './message-checks.js';
import { NodeTransport, type CallOptions } from './node-transport.js';
import { encodeRingOffer, type RingOffer } from './ring-document.js';
import type { LoggedChange } from './change-log.js';
import type { NodeHealth, NodeWorkStatus, PartitionCursor, PartitionDigest, PartitionEntriesResponse, PartitionGoneResponse, PartitionVersionCursor, PartitionVersionsResponse } from './node-reports.js';
import {
  NODE_PATHS,
  type AbortRequest,
  type BatchCall,
  type BatchResult,
  type ChangeOfferRequest,
  type ChangeOfferResponse,
  type CommitRequest,
  type ReplicationOutcome,
  type LeaseResponse,
  type LeaseRequest,
  type ListQuery,
  type ListResponse,
  type ObjectStatus,
  type PrepareResponse,
  type RingOfferResponse,
  type ResealRequest,
  type ReplicationStatusRequest,
  type TagUpdateRequest,
  type VersionDeleteRequest,
  type IndexListQuery,
  type IndexShardBounds,
  type IndexVersionListQuery,
  type VersionListQuery,
} from './protocol.js';
import type { BucketRecord, BucketUsageResponse } from './bucket-record.js';
import type { IndexApplyRequest, IndexListResponse, IndexVersionListResponse } from './bucket-index.js';
import type { IndexDropRequest, IndexExportQuery, IndexExportResponse } from './index-split.js';
import type { ObjectRecord } from './object-record.js';
import type { UserRecord } from './user-record.js';
import type { ErasureParams, ShardRef } from './wire-fields.js';
import { NodeError, isWireErrorCode } from './wire-errors.js';

/** How a gateway reaches one storage node. */
export interface NodeClientOptions {
  nodeId: string;
  /**
   * The node at `address` is not known by id yet (a seed asked for its ring; `nodeId` only names it in
   * errors): requests are signed for any node, which a node takes only for reading its rings.
   */
  idUnknown?: boolean;
  /** host:port of the node's HTTP endpoint. */
  address: string;
  clusterSecret: string;
  /** Keep-alive connections kept per node. */
  connections?: number;
  /** Time allowed for a node to start answering. */
  headersTimeoutMs?: number;
  /**
   * Time allowed to open a connection. A request waiting for a connection does not see its abort
   * signal, so this bounds how long an unreachable node (a cut link) can hold any request.
   */
  connectTimeoutMs?: number;
  /** Time allowed between two body chunks once a node answers. */
  bodyTimeoutMs?: number;
  clock?: () => number;
  /** Told of every request: 'ok' or the wire error code, and seconds until the node answered (headers). */
  observe?: ((outcome: string, seconds: number) => void) | undefined;
  /**
   * The node's in-process link (local-link.ts), when it runs in this process: batched calls, shard
   * reads and shard uploads take it instead of HTTP. Everything else (listings, records, rings) still
   * speaks HTTP to `address`.
   */
  local?: LocalLink | undefined;
}

/** Options of a shard prepare. */
interface PrepareOptions extends CallOptions {
  /**
   * The writer took this shard's data id for this very write (a client write's new version), so no
   * commit of it can have reached the node before this prepare: the node skips looking for one.
   * Repairs and moves of existing versions leave it unset.
   */
  fresh?: boolean | undefined;
  /** A plain write's shared key lease, asked for with the prepare (key-lease.ts). */
  leaseToken?: string | undefined;
}

/**
 * Calls larger than this go in a request of their own (a multipart manifest can be megabytes);
 * everything smaller may share a batch.
 */
const MAX_BATCHED_CALL_BYTES = 64 * 1024;
/** Limits of one batch request: well under the node's JSON body limit. */
const BATCH_LIMITS = { maxCalls: 128, maxBytes: 512 * 1024 } as const;

/** The one client for the node protocol: signs every request and turns failures into NodeError. */
export class NodeClient {
  readonly nodeId: string;
  readonly address: string;
  private readonly transport: NodeTransport;
  private readonly batcher: CallBatcher;
  private readonly local: LocalLink | undefined;
  /** How long this node takes to answer a call, learned from its answers; deadlines follow it. */
  readonly latency: LatencyEstimator;

  constructor(options: NodeClientOptions) {
    this.nodeId = options.nodeId;
    this.local = options.local;
    this.address = options.address;
    this.transport = new NodeTransport(options);
    this.latency = this.transport.latency;
    this.batcher = new CallBatcher((calls, signal) => this.sendBatch(calls, signal), BATCH_LIMITS);
  }

  /** Streams one shard to the node; resolves once the node has it durably but not yet visible. */
  async putShard(ref: ShardRef, erasure: ErasureParams, body: Readable, options: PrepareOptions = {}): Promise<PrepareResponse> {
    const lease = options.leaseToken === undefined ? '' : `&lease=${encodeURIComponent(options.leaseToken)}`;
    const params = `k=${erasure.dataShards}&m=${erasure.parityShards}&block=${erasure.blockSizeBytes}${options.fresh === true ? '&fresh=1' : ''}${lease}`;
    const query = `${shardQuery(ref)}&${params}`;
    if (this.local !== undefined) return this.transport.linkUpload(this.local, query, body, options);
    return this.transport.json(MESSAGE_CHECKS.prepared, 'PUT', `${NODE_PATHS.shards}?${query}`, { stream: body }, options);
  }

  /**
   * Stores a small shard held whole in memory, like putShard; it travels in the node's next batch, so
   * the prepares of concurrent small writes share requests.
   */
  async prepareShard(ref: ShardRef, erasure: ErasureParams, shard: Uint8Array, options: PrepareOptions = {}): Promise<PrepareResponse> {
    const call: BatchCall = {
      op: 'prepare',
      ref,
      erasure,
      shard: Buffer.from(shard.buffer, shard.byteOffset, shard.byteLength).toString('base64'),
      ...(options.fresh === true ? { fresh: true } : {}),
      ...(options.leaseToken === undefined ? {} : { lease: options.leaseToken }),
    };
    const value = await this.batched(call, options, () => this.putShard(ref, erasure, Readable.from([shard]), options));
    return this.transport.answer(MESSAGE_CHECKS.prepared, value);
  }

  /** Makes a version visible on the node (or writes a tombstone); an EncodedCommit is sent as it is. */
  async commit(request: CommitRequest | EncodedCommit, options: CallOptions = {}): Promise<void> {
    if (!(request instanceof EncodedCommit)) {
      await this.batched({ op: 'commit', request }, options, () => this.transport.json(null, 'POST', NODE_PATHS.commit, { json: request }, options));
      return;
    }
    const single = (): Promise<unknown> => this.transport.json(null, 'POST', NODE_PATHS.commit, { encoded: request }, options);
    if (request.text.length > MAX_BATCHED_CALL_BYTES) {
      await single();
      return;
    }
    await this.batched(`{"op":"commit","request":${request.text}}`, options, single);
  }

  /** Replaces how the node's current version of a key seals its data key (rotation); NotFound when that version is not its current one. */
  async reseal(request: ResealRequest, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'POST', NODE_PATHS.reseal, { json: request }, options);
  }

  /** Replaces the tags of the node's current version of a key in place; NotFound when that version is not its current one. */
  async updateTags(request: TagUpdateRequest, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'POST', NODE_PATHS.tags, { json: request }, options);
  }

  /** Drops a prepared shard that will never be committed. */
  async abort(request: AbortRequest, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'POST', NODE_PATHS.abort, { json: request }, options);
  }

  /**
   * The node's newest committed version of a key, or null when it has none. With `withInlineShard` the
   * answer carries the shard's bytes when the node keeps them inline (a small object).
   */
  async objectStatus(bucket: string, key: string, options: CallOptions & { withInlineShard?: boolean } = {}): Promise<ObjectStatus | null> {
    const value = await this.batched({ op: 'status', bucket, key, withInlineShard: options.withInlineShard === true }, options, async () => {
      const url = `${NODE_PATHS.objects}?${new URLSearchParams({ bucket, key }).toString()}`;
      try {
        return await this.transport.json(MESSAGE_CHECKS.objectStatus, 'GET', url, {}, options);
      } catch (err) {
        if (err instanceof NodeError && err.code === 'NotFound') return null;
        throw err;
      }
    });
    return this.transport.answer(MESSAGE_CHECKS.objectStatus, value);
  }

  /** Streams `lengthBytes` of a shard from `offsetBytes`; the node checks its stored block checksums as it sends (nothing covers the bytes in transit). */
  async readShard(ref: ShardRef, offsetBytes: number, lengthBytes: number, options: CallOptions = {}): Promise<Readable> {
    const query = `${shardQuery(ref)}&offset=${offsetBytes}&length=${lengthBytes}`;
    if (this.local !== undefined) return this.transport.linkRead(this.local, query, options);
    const response = await this.transport.send('GET', `${NODE_PATHS.shards}?${query}`, {}, options);
    return response.body as unknown as Readable;
  }

  /** One page of the node's ordered listing of a bucket. */
  async list(query: ListQuery, options: CallOptions = {}): Promise<ListResponse> {
    return this.transport.json(MESSAGE_CHECKS.list, 'GET', `${NODE_PATHS.list}?${listParams(query)}`, {}, options);
  }

  /**
   * One version of a key by its id (`null`: the key's null version), current or not, delete markers
   * included; null when the node does not hold it.
   */
  async versionStatus(bucket: string, key: string, versionId: string, options: CallOptions = {}): Promise<ObjectStatus | null> {
    const url = `${NODE_PATHS.objects}?${new URLSearchParams({ bucket, key, version: versionId }).toString()}`;
    try {
      return await this.transport.json(MESSAGE_CHECKS.objectStatus, 'GET', url, {}, options);
    } catch (err) {
      if (err instanceof NodeError && err.code === 'NotFound') return null;
      throw err;
    }
  }

  /**
   * As versionStatus, but a node that knows the version was deleted by id answers so (`gone`) instead
   * of null: a reader must not take a copy on a node that missed the delete for the version.
   */
  async versionLookup(bucket: string, key: string, versionId: string, options: CallOptions = {}): Promise<ObjectStatus | null> {
    const url = `${NODE_PATHS.objects}?${new URLSearchParams({ bucket, key, version: versionId, withGone: '1' }).toString()}`;
    try {
      return await this.transport.json(MESSAGE_CHECKS.objectStatus, 'GET', url, {}, options);
    } catch (err) {
      if (err instanceof NodeError && err.code === 'NotFound') return null;
      throw err;
    }
  }

  /** One page of the node's ordered listing of every version of a bucket's keys (key ascending, newest first). */
  async listVersions(query: VersionListQuery, options: CallOptions = {}): Promise<ListResponse> {
    return this.transport.json(MESSAGE_CHECKS.list, 'GET', `${NODE_PATHS.versions}?${listParams(query)}`, {}, options);
  }

  /** Applies changes to the node's replica of a bucket index shard (bucket-index.ts). */
  async applyIndex(request: IndexApplyRequest, options: CallOptions = {}): Promise<void> {
    // In the node's next batch: the intents and settles of concurrent writes share one request.
    await this.batched({ op: 'index', request }, options, () => this.transport.json(null, 'POST', NODE_PATHS.index, { json: request }, options));
  }

  /** A page of the node's replica of a bucket index shard. */
  async listIndex(query: IndexListQuery, options: CallOptions = {}): Promise<IndexListResponse> {
    return this.transport.json(MESSAGE_CHECKS.indexList, 'GET', `${NODE_PATHS.index}?${listParams(query)}`, {}, options);
  }

  /** A page of the node's index rows of keys in a range, as the changes that would write them elsewhere (a shard split's copy). */
  async exportIndex(query: IndexExportQuery, options: CallOptions = {}): Promise<IndexExportResponse> {
    const params = new URLSearchParams({ bucket: query.bucket, incarnation: String(query.incarnation), from: query.from, limit: String(query.limit) });
    if (query.before !== undefined) params.set('before', query.before);
    if (query.after !== undefined) params.set('after', query.after);
    return this.transport.json(MESSAGE_CHECKS.indexExport, 'GET', `${NODE_PATHS.indexExport}?${params.toString()}`, {}, options);
  }

  /** Removes the node's index rows of keys in a range (a split moved them to a shard it holds no replica of). */
  async dropIndex(request: IndexDropRequest, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'POST', NODE_PATHS.indexDrop, { json: request }, options);
  }

  /** A page of the node's replica of a bucket index shard in versions mode: every live version of each key. */
  async listIndexVersions(query: IndexVersionListQuery, options: CallOptions = {}): Promise<IndexVersionListResponse> {
    return this.transport.json(MESSAGE_CHECKS.indexVersionList, 'GET', `${NODE_PATHS.index}?${listParams(query, true)}`, {}, options);
  }

  /** A page of the node's change log: up to `limit` changes after sequence `after` (from the start without one). */
  async listChanges(query: { after?: string | undefined; limit: number }, options: CallOptions = {}): Promise<LoggedChange[]> {
    const params = new URLSearchParams({ limit: String(query.limit), ...(query.after === undefined ? {} : { after: query.after }) });
    return (await this.transport.json(MESSAGE_CHECKS.changeLog, 'GET', `${NODE_PATHS.changes}?${params.toString()}`, {}, options)).changes;
  }

  /** Removes one version of a key for good; answers the record removed, or null when the node did not hold it. */
  async deleteVersion(request: VersionDeleteRequest, options: CallOptions = {}): Promise<ObjectRecord | null> {
    return (await this.transport.json(MESSAGE_CHECKS.versionDeleted, 'POST', NODE_PATHS.versionDelete, { json: request }, options)).removed;
  }

  /** Takes, renews or (with `release`) gives back a key's short lease on this node; answers whether it is held. */
  async lease(request: LeaseRequest, options: CallOptions = {}): Promise<boolean> {
    return (await this.leaseAnswer(request, options)).granted;
  }

  /** Like lease, with the whole answer: a shared grant's fence, an exclusive grant's current record. */
  async leaseAnswer(request: LeaseRequest, options: CallOptions = {}): Promise<LeaseResponse> {
    return this.transport.json(MESSAGE_CHECKS.leaseAnswer, 'POST', NODE_PATHS.leases, { json: request }, options);
  }

  /** Stores a bucket record if it is newer than the node's. */
  async putBucket(record: BucketRecord, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'PUT', NODE_PATHS.buckets, { json: record }, options);
  }

  /** Every bucket record the node holds, tombstones included. */
  async listBuckets(options: CallOptions = {}): Promise<BucketRecord[]> {
    return (await this.transport.json(MESSAGE_CHECKS.buckets, 'GET', NODE_PATHS.buckets, {}, options)).buckets;
  }

  /** The node's usage counts of `bucket`, or (without one) of every bucket it holds anything of. */
  async bucketUsage(bucket: string | undefined, options: CallOptions = {}): Promise<BucketUsageResponse['buckets']> {
    const path = bucket === undefined ? NODE_PATHS.usage : `${NODE_PATHS.usage}?${new URLSearchParams({ bucket }).toString()}`;
    return (await this.transport.json(MESSAGE_CHECKS.usage, 'GET', path, {}, options)).buckets;
  }

  /** Stores a user record if it is newer than the node's. */
  async putUser(record: UserRecord, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'PUT', NODE_PATHS.users, { json: record }, options);
  }

  /** Every user record the node holds, removed users included. */
  async listUsers(options: CallOptions = {}): Promise<UserRecord[]> {
    return (await this.transport.json(MESSAGE_CHECKS.users, 'GET', NODE_PATHS.users, {}, options)).users;
  }

  /** Offers a ring (its JSON document) to the node, which keeps it if the epoch is newer. */
  async offerRing(ringDocument: unknown, options: CallOptions = {}): Promise<RingOfferResponse> {
    return this.offerEncodedRing(await encodeRingOffer(JSON.stringify(ringDocument)), options);
  }

  /** offerRing with the document encoded once (encodeRingOffer) for every node it goes to. */
  offerEncodedRing(offer: RingOffer, options: CallOptions = {}): Promise<RingOfferResponse> {
    return this.transport.json(MESSAGE_CHECKS.ringOffer, 'PUT', NODE_PATHS.ring, { ring: offer }, options);
  }

  /** The newest ring the node holds (its JSON document), or null. */
  fetchRing(options: CallOptions = {}): Promise<unknown> {
    return this.ringDocument(NODE_PATHS.ring, options);
  }

  /**
   * The ring the node's newest ring replaced (its JSON document), or null when it has none. Read
   * `health()` first: its `ringEpoch` and `previousRingEpoch` say which rings these are.
   */
  fetchPreviousRing(options: CallOptions = {}): Promise<unknown> {
    return this.ringDocument(NODE_PATHS.previousRing, options);
  }

  private async ringDocument(path: string, options: CallOptions): Promise<unknown> {
    try {
      return await this.transport.ringDocument(path, options);
    } catch (err) {
      if (err instanceof NodeError && err.code === 'NotFound') return null;
      throw err;
    }
  }


  /** Offers the node (a key's leader) copies of changes; answers, per change, whether it delivered it or holds it now. */
  async offerChanges(request: ChangeOfferRequest, options: CallOptions = {}): Promise<ChangeOfferResponse['answers']> {
    const { answers } = await this.transport.json(MESSAGE_CHECKS.changeOfferAnswer, 'POST', NODE_PATHS.changeOffer, { json: request }, options);
    if (answers.length !== request.changes.length) throw new NodeError('Internal', this.nodeId, 'node answered an offer with the wrong number of answers');
    return answers;
  }

  /**
   * Tells the node which changes were delivered (at most MAX_DONE_IDS) and, by change id, how their
   * replication ended (the node rewrites the status of each change's version it holds); answers how
   * many copies it removed.
   */
  async changesDone(ids: readonly string[], options: CallOptions = {}, outcomes?: Readonly<Record<string, ReplicationOutcome>>): Promise<number> {
    const body = outcomes === undefined ? { ids } : { ids, outcomes };
    return (await this.transport.json(MESSAGE_CHECKS.changesDoneAnswer, 'POST', NODE_PATHS.changesDone, { json: body }, options)).removed;
  }

  /** Sets a version's replication status on the node, in place (nothing when the node does not hold it, or it is a replica). */
  async setReplicationStatus(request: ReplicationStatusRequest, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'POST', NODE_PATHS.replicationStatus, { json: request }, options);
  }

  /** The node's health report. */
  async health(options: CallOptions = {}): Promise<NodeHealth> {
    return this.transport.json(MESSAGE_CHECKS.health, 'GET', NODE_PATHS.health, {}, options);
  }

  /**
   * The node's digest of one ring partition (`bits` is the ring's partitionBits). It travels in the
   * node's next batch: an audit asks for several partitions at once, and they share one request.
   */
  async partitionDigest(partition: number, bits: number, options: CallOptions = {}): Promise<PartitionDigest> {
    const single = (): Promise<PartitionDigest> =>
      this.transport.json(MESSAGE_CHECKS.partitionDigest, 'GET', `${NODE_PATHS.partitionDigest}?partition=${partition}&bits=${bits}`, {}, options);
    let value: unknown;
    try {
      value = await this.batched({ op: 'digest', partition, bits }, options, single);
    } catch (err) {
      // A node of an earlier release refuses the call in a batch (its check does not know it); its own route answers.
      if (err instanceof NodeError && err.code === 'BadRequest') return single();
      throw err;
    }
    return this.transport.answer(MESSAGE_CHECKS.partitionDigest, value);
  }

  /** One page of the node's keys in a ring partition, in hash order, after `after` (exclusive). */
  async partitionEntries(
    partition: number,
    bits: number,
    after: PartitionCursor | null,
    limit: number,
    options: CallOptions = {},
  ): Promise<PartitionEntriesResponse> {
    const params = new URLSearchParams({ partition: String(partition), bits: String(bits), limit: String(limit) });
    if (after !== null) {
      params.set('afterHash', after.hashHex);
      params.set('afterBucket', after.bucket);
      params.set('afterKey', after.key);
    }
    return this.transport.json(MESSAGE_CHECKS.partitionEntries, 'GET', `${NODE_PATHS.partitionEntries}?${params.toString()}`, {}, options);
  }

  /** One page of every version the node holds of a ring partition's keys (hash order, newest first), after `after`. */
  async partitionVersions(partition: number, bits: number, after: PartitionVersionCursor | null, limit: number, options: CallOptions = {}): Promise<PartitionVersionsResponse> {
    return this.transport.json(MESSAGE_CHECKS.partitionEntries, 'GET', `${NODE_PATHS.partitionVersions}?${versionPageParams(partition, bits, after, limit)}`, {}, options);
  }

  /** One page of the node's tombstones of versions deleted by id in a ring partition, in hash order, after `after`. */
  async partitionGone(partition: number, bits: number, after: PartitionVersionCursor | null, limit: number, options: CallOptions = {}): Promise<PartitionGoneResponse> {
    return this.transport.json(MESSAGE_CHECKS.partitionGone, 'GET', `${NODE_PATHS.partitionGone}?${versionPageParams(partition, bits, after, limit)}`, {}, options);
  }

  /** The node's background work: scrub, repair, audit, rebalance and gc figures. */
  async workStatus(options: CallOptions = {}): Promise<NodeWorkStatus> {
    return this.transport.json(MESSAGE_CHECKS.workStatus, 'GET', NODE_PATHS.adminStatus, {}, options);
  }

  /** Starts a full scrub pass on the node now; `fast` lifts its rate limit for that pass. */
  async startScrub(fast: boolean, options: CallOptions = {}): Promise<void> {
    await this.transport.json(null, 'POST', `${NODE_PATHS.adminScrub}?fast=${fast ? 1 : 0}`, {}, options);
  }

  /** Closes the connection pool (an in-process link is its owner's to close). */
  async close(): Promise<void> {
    await this.transport.close();
  }

  /**
   * Sends a small call in the node's next batch, or alone (`single`) when it is too large to share one.
   * A call's own wire error arrives as a NodeError, like a failed request of its own.
   */
  private async batched<T>(call: BatchCall | string, options: CallOptions, single: () => Promise<T>): Promise<unknown> {
    const json = typeof call === 'string' ? call : JSON.stringify(call);
    if (json.length > MAX_BATCHED_CALL_BYTES) return single();
    let result: BatchResult;
    const startedMs = performance.now();
    try {
      result = await this.batcher.call(json, options.signal);
    } catch (err) {
      this.transport.noteExpiry(err, options.signal, startedMs);
      throw this.transport.transportError(err, options.signal);
    }
    if (result.ok) return result.value;
    throw new NodeError(isWireErrorCode(result.code) ? result.code : 'Internal', this.nodeId, result.message);
  }

  private async sendBatch(calls: readonly string[], signal: AbortSignal): Promise<BatchResult[]> {
    // The calls are JSON already: join them rather than parse and serialise them again.
    const text = `{"calls":[${calls.join(',')}]}`;
    const response =
      this.local === undefined ? await this.transport.json(MESSAGE_CHECKS.batchAnswer, 'POST', NODE_PATHS.batch, { text }, { signal }) : await this.transport.linkBatch(this.local, text, signal);
    if (response.results.length !== calls.length) {
      throw new NodeError('Internal', this.nodeId, 'node answered a batch with the wrong number of results');
    }
    return response.results;
  }
}

function shardQuery(ref: ShardRef): string {
  const query = new URLSearchParams({
    bucket: ref.bucket,
    key: ref.key,
    version: ref.versionId,
    shard: String(ref.shardIndex),
  });
  if (ref.dataId !== undefined) query.set('data', ref.dataId);
  return query.toString();
}

/** The query of a partition version or tombstone page. */
function versionPageParams(partition: number, bits: number, after: PartitionVersionCursor | null, limit: number): string {
  const params = new URLSearchParams({ partition: String(partition), bits: String(bits), limit: String(limit) });
  if (after !== null) {
    params.set('afterHash', after.hashHex);
    params.set('afterBucket', after.bucket);
    params.set('afterKey', after.key);
    params.set('afterVersion', after.versionId);
  }
  return params.toString();
}

/**
 * The query string of a listing call: the ListQuery fields, and those of a version listing
 * (`afterVersion`) or of an index page (`incarnation`; `versions` for versions mode) when present.
 */
function listParams(query: ListQuery & { afterVersion?: string | undefined; incarnation?: number } & IndexShardBounds, versions = false): string {
  const params = new URLSearchParams({
    bucket: query.bucket,
    prefix: query.prefix,
    after: query.after,
    afterIsPrefix: query.afterIsPrefix ? '1' : '0',
    limit: String(query.limit),
  });
  if (query.incarnation !== undefined) params.set('incarnation', String(query.incarnation));
  if (query.afterVersion !== undefined) params.set('afterVersion', query.afterVersion);
  if (query.delimiter !== undefined && query.delimiter !== '') params.set('delimiter', query.delimiter);
  if (query.from !== undefined && query.from !== '') params.set('from', query.from);
  if (query.before !== undefined) params.set('before', query.before);
  if (versions) params.set('versions', '1');
  return params.toString();
}

import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Static } from 'typebox';
import { TurnQueue, type Logger } from '../../common/index.js';
import {
  MESSAGE_CHECKS,
  ReplayGuard,
  WireError,
  type BatchRequest,
  type BatchResponse,
  type BatchResult,
  type CommitRequest,
  type ErasureParams,
  type LeaseRequest,
  type LeaseResponse,
  type ObjectStatus,
  type PartitionDigest,
  type PrepareResponse,
  type ReplayProblem,
  type SharedLeaseAnswer,
  type ShardRef,
} from '../../rpc/index.js';
import { KeyLeases } from '../key-leases.js';
import { toObjectStatus } from '../metadata-store.js';
import { ReadBufferPool } from '../read-buffer-pool.js';
import { READ_BATCH_CLASS_BYTES } from '../shard-file.js';
import type { ShardStore } from '../shard-store.js';
import type { ForegroundActivity } from '../workers/foreground.js';
import { isPartitionOf, partitionDigest } from '../workers/healing-routes.js';
import { isClientBatch } from './client-batch.js';
import { badRequest, intParam, shardRef } from './query-params.js';
import { wireAnswerOf } from './wire-answer.js';

/** How long a shared lease taken with a prepare lives unless its commit gives it back: a gateway that dies holding one blocks conditional writes of the key this long. */
const SHARED_LEASE_TTL_MS = 30_000;
/** Free read buffers a node keeps for its shard GETs: a few 1 MiB batches, or many small shards' reads. */
const READ_BUFFERS_FREE_BYTES = 4 * 1024 * 1024;
/** Largest JSON body a node accepts (commit records carry user metadata, capped by S3 at 2 KiB). */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;
/**
 * Partition digests a node computes at once. Every leader audits several partitions at once and asks
 * every member, so a node of a busy cluster is asked for dozens together: computed all at once they
 * share its metadata reads, each finishes late, and their callers give up and ask again.
 */
export const MAX_ACTIVE_DIGESTS = 2;
/** Digest requests a node lets wait for a turn; past that it answers Unavailable at once. */
export const MAX_QUEUED_DIGESTS = 256;

/** Construction parameters of a node's calls. */
export interface NodeCallsOptions {
  store: ShardStore;
  clock: () => number;
  logger: Logger;
  foreground?: ForegroundActivity | undefined;
}

/** How a node's partition digests fare, for its metrics. */
export interface DigestFigures {
  /** Being computed now (at most MAX_ACTIVE_DIGESTS). */
  running: number;
  /** Waiting for a turn. */
  waiting: number;
  /** Computed and answered since start. */
  done: number;
  /** Dropped since start because their caller went away, waiting or part way. */
  abandoned: number;
  /** Refused since start because MAX_QUEUED_DIGESTS already waited. */
  refused: number;
}

/** A shard read opened from its query: its first chunk read and verified, the rest to come. */
export interface OpenedRead {
  ref: ShardRef;
  sizeBytes: number;
  first: Buffer | undefined;
  chunks: AsyncGenerator<Buffer>;
}

/**
 * What a node does for a call, whichever way it arrives: its HTTP route, a call of a batch, or an
 * in-process link (local-link.ts). Holds the state calls share: key leases, the shard-write replay
 * guard and the read buffers.
 */
export class NodeCalls {
  private readonly store: ShardStore;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly foreground: ForegroundActivity | undefined;
  /** Streamed shard bodies are not signed: each signed shard PUT is accepted once (replay-guard.ts). */
  private readonly shardWrites: ReplayGuard;
  private readonly leases: KeyLeases;
  /** Turns at computing a partition digest: a few at once, the rest waiting while their callers do. */
  private readonly digests = new TurnQueue({
    maxActive: MAX_ACTIVE_DIGESTS,
    maxQueued: MAX_QUEUED_DIGESTS,
    refusal: () => new WireError('Unavailable', 'too many partition digests waiting'),
  });
  private readonly digestCounts = { done: 0, abandoned: 0, refused: 0 };
  /** Buffers shard GETs read into, reused once sent. */
  readonly readBuffers = new ReadBufferPool({ classBytes: READ_BATCH_CLASS_BYTES, maxFreeBytes: READ_BUFFERS_FREE_BYTES });

  constructor(options: NodeCallsOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger;
    this.foreground = options.foreground;
    this.shardWrites = new ReplayGuard({ startMs: this.clock() });
    this.leases = new KeyLeases(this.clock);
  }

  /** Admits a signed shard PUT once: null, or why its signature may not be used again. */
  admitShardWrite(headers: Record<string, string | string[] | undefined>): ReplayProblem | null {
    return this.shardWrites.admitSigned(headers, this.clock());
  }

  /**
   * The node's newest version of a key, or null. With `withInlineShard`, an inline shard's bytes come
   * along, read through the same checksummed path as a shard read (a bad one is quarantined and left out).
   */
  async objectStatus(bucket: string, key: string, withInlineShard: boolean): Promise<ObjectStatus | null> {
    if (!withInlineShard) {
      const stored = await this.store.objectStatus(bucket, key);
      return stored === undefined ? null : toObjectStatus(stored);
    }
    const found = await this.store.objectStatusWithInline(bucket, key);
    if (found === undefined) return null;
    const status = toObjectStatus(found.stored);
    // Without the bytes (a file shard, or an inline one that failed its checks) the reader reads or rebuilds the shard on its own path.
    return found.inlineShard === null ? status : { ...status, inlineShard: found.inlineShard.toString('base64') };
  }

  /**
   * The node's digest of one ring partition, once a turn is free. The signal aborts when its caller
   * has gone away: a digest still waiting leaves the queue, a running one stops at its next page.
   */
  async partitionDigest(partition: number, bits: number, signal: AbortSignal): Promise<PartitionDigest> {
    if (!isPartitionOf(partition, bits)) throw new WireError('BadRequest', 'bad partition');
    let release: () => void;
    try {
      release = await this.digests.enter(signal);
    } catch (err) {
      if (signal.aborted) this.digestCounts.abandoned += 1;
      else this.digestCounts.refused += 1;
      throw err;
    }
    try {
      const digest = await partitionDigest(this.store, partition, bits, signal);
      this.digestCounts.done += 1;
      return digest;
    } catch (err) {
      if (signal.aborted) this.digestCounts.abandoned += 1;
      throw err;
    } finally {
      release();
    }
  }

  /** How partition digests fare on this node. */
  digestFigures(): DigestFigures {
    return { running: this.digests.active, waiting: this.digests.queued, ...this.digestCounts };
  }

  /** POST /v1/leases: takes or gives back a key's lease; an exclusive grant carries the key's current version. */
  async lease(request: LeaseRequest): Promise<LeaseResponse> {
    const { bucket, key, token, ttlMs, release, mode, fence } = request;
    if (release === true) {
      this.leases.release(bucket, key, token, fence);
      return { granted: false };
    }
    if (mode === 'shared') return this.leases.acquireShared(bucket, key, token, ttlMs);
    if (!this.leases.acquire(bucket, key, token, ttlMs)) return { granted: false };
    // Read after the grant: every plain write that held the key here has committed by now.
    const current = await this.store.objectStatus(bucket, key);
    return { granted: true, current: current?.record ?? null };
  }

  /** A plain write's shared lease on the shard's key, taken once its shard is durable (`token` given), as the prepare's answer carries it. */
  private sharedLeaseWith(ref: { bucket: string; key: string }, token: string | undefined): { lease?: SharedLeaseAnswer } {
    if (token === undefined || token === '' || token.length > 64) return {};
    return { lease: this.leases.acquireShared(ref.bucket, ref.key, token, SHARED_LEASE_TTL_MS) };
  }

  /** Commits, then gives back the plain write's shared lease the commit names: the key is free for a conditional write once this node holds the version. */
  async commitAndRelease(request: CommitRequest): Promise<void> {
    const intent = request.indexIntent;
    // The intent a commit carries announces that commit's own key, and no other.
    if (intent !== undefined && (intent.bucket !== request.record.bucket || intent.key !== request.record.key)) throw new WireError('BadRequest', 'the index intent names another key');
    await this.store.commit(request);
    if (request.leaseToken !== undefined) this.leases.release(request.record.bucket, request.record.key, request.leaseToken);
  }

  /** PUT /v1/shards once its request is checked: stores the body, and takes the shared lease its query asks for. */
  async prepareFrom(ref: ShardRef, erasure: ErasureParams, query: Record<string, string | undefined>, body: Readable, signal: AbortSignal): Promise<PrepareResponse> {
    const sizeBytes = await this.store.prepare(ref, erasure, body, signal, { fresh: query['fresh'] === '1' });
    return { sizeBytes, ...this.sharedLeaseWith(ref, query['lease']) };
  }

  /**
   * A shard read as GET /v1/shards opens it from its query: the shard and its header checked, and its
   * first chunk read and verified before any status is sent, so a corrupt one is an error status.
   */
  async openRead(query: Record<string, string | undefined>, options: { transient?: boolean } = {}): Promise<OpenedRead> {
    const ref = shardRef(query);
    const offset = intParam(query, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const length = intParam(query, 'length', 0, Number.MAX_SAFE_INTEGER);
    const shard = await this.store.openShard(ref, offset, length, { pool: this.readBuffers, transient: options.transient });
    const first = await shard.chunks.next();
    return { ref, sizeBytes: shard.sizeBytes, first: first.done === true ? undefined : first.value, chunks: shard.chunks };
  }

  /**
   * Serves a batch that came over an in-process link (local-link.ts): the batch route's JSON text in,
   * its JSON answer out, checked and counted as the route does. The link is the node's own, handed over
   * by the code that started it, so there is no signature to check; a malformed batch is refused with
   * the route's wire error.
   */
  async serveLocalBatch(text: string, signal: AbortSignal): Promise<string> {
    // Its length in UTF-16 units is at most its length in UTF-8 bytes: the route's limit holds either way.
    if (text.length > MAX_JSON_BODY_BYTES) throw new WireError('BadRequest', 'body too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new WireError('BadRequest', 'body is not JSON');
    }
    const batch = MESSAGE_CHECKS.batch.parse(body, badRequest);
    const end = this.foreground !== undefined && isClientBatch(batch) ? this.foreground.begin() : undefined;
    try {
      return JSON.stringify(await this.runBatch(batch, this.logger, signal));
    } finally {
      end?.();
    }
  }

  /**
   * The calls of a batch run together, so their metadata writes can share one sync; each is checked and
   * answers for itself. The signal aborts when the batch's sender has gone away: the reads it asked for
   * (digests) stop, the writes finish, as they would have had it stayed.
   */
  async runBatch(batch: Static<typeof BatchRequest>, log: FastifyBaseLogger | Logger, signal: AbortSignal): Promise<BatchResponse> {
    // Each digest waiting for its turn listens to the batch's signal.
    setMaxListeners(batch.calls.length + 10, signal);
    return { results: await Promise.all(batch.calls.map((call) => this.runBatchCall(call, log, signal))) };
  }

  private async runBatchCall(body: unknown, log: FastifyBaseLogger | Logger, signal: AbortSignal): Promise<BatchResult> {
    try {
      // The same schemas as the calls' own routes (a prepare's ref and erasure as PUT /v1/shards checks them).
      const call = MESSAGE_CHECKS.batchCall.parse(body, badRequest);
      if (call.op === 'prepare') {
        const sizeBytes = await this.store.prepare(call.ref, call.erasure, Buffer.from(call.shard, 'base64'), undefined, { fresh: call.fresh === true });
        return { ok: true, value: { sizeBytes, ...this.sharedLeaseWith(call.ref, call.lease) } };
      }
      if (call.op === 'commit') {
        await this.commitAndRelease(call.request);
        return { ok: true, value: null };
      }
      if (call.op === 'index') {
        await this.store.indexRows.apply(call.request.ops);
        return { ok: true, value: null };
      }
      if (call.op === 'digest') return { ok: true, value: await this.partitionDigest(call.partition, call.bits, signal) };
      return { ok: true, value: await this.objectStatus(call.bucket, call.key, call.withInlineShard) };
    } catch (err) {
      // Nobody reads the answer of a call its sender stopped waiting for; any other failure is still logged.
      if (signal.aborted && err === signal.reason) return { ok: false, code: 'Unavailable', message: 'the batch was cancelled' };
      const answer = wireAnswerOf(err);
      if (answer.code === 'Internal') log.error({ err }, 'node batch call failed');
      return { ok: false, ...answer };
    }
  }
}

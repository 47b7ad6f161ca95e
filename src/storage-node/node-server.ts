import type { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { join } from 'node:path';
import { PROMETHEUS_CONTENT_TYPE, bearerAllowed, type Logger } from '../common/index.js';
import {
  AbortRequest,
  BODY_HASH_HEADER,
  BatchRequest,
  BucketRecord,
  UserRecord,
  CommitRequest,
  MESSAGE_CHECKS,
  NODE_HEADER,
  NODE_PATHS,
  LeaseRequest,
  ResealRequest,
  ReplayGuard,
  TagUpdateRequest,
  UNSIGNED_BODY,
  VersionDeleteRequest,
  WIRE_ERROR_STATUS,
  WireError,
  checkFor,
  verifyRequestSignature,
  type BatchResponse,
  type BatchResult,
  type ErasureParams,
  type LinkService,
  type ListQuery,
  type ListResponse,
  type NodeHealth,
  type ObjectStatus,
  type PrepareResponse,
  type ShardRef,
} from '../rpc/index.js';
import { KeyLeases } from './key-leases.js';
import { goneRecord, toObjectStatus } from './metadata-store.js';
import { NodeMetrics } from './node-metrics.js';
import { sendPooledBody } from './pooled-body.js';
import { badRequest, erasureOf, intParam, optionalStringParam, shardRef, stringParam } from './node-server/query-params.js';
import { nodeHealth } from './node-server/node-health.js';
import { readJson } from './node-server/read-json.js';
import { registerRingRoutes } from './node-server/ring-routes.js';
import { isClientBatch } from './node-server/client-batch.js';
import { prepended } from './node-server/prepended.js';
import { wireAnswerOf } from './node-server/wire-answer.js';
import { ReadBufferPool } from './read-buffer-pool.js';
import { READ_BATCH_CLASS_BYTES } from './shard-file.js';
import type { PreparedResolver } from './prepared-resolver.js';
import type { RingStore } from './ring-store.js';
import type { ShardStore } from './shard-store.js';
import type { ForegroundActivity } from './workers/foreground.js';
import { isPartitionOf, partitionDigest, registerHealingRoutes, type HealingControl } from './workers/healing-routes.js';

/** Construction parameters of a storage node's HTTP server. */
export interface NodeServerOptions {
  nodeId: string;
  store: ShardStore;
  rings: RingStore;
  /** Reported in health when present. */
  resolver?: PreparedResolver;
  /** Background work behind the admin routes; partition digests and listings are served either way. */
  healing?: HealingControl;
  /** Called when a PUT /v1/ring adopted a newer ring. */
  onRingAdopted?: () => void;
  clusterSecret: string;
  logger: Logger;
  clock?: () => number;
  /** The node's data directory, for the LevelDB size in metrics (left out without it). */
  dataDir?: string | undefined;
  /** Bearer token GET /metrics requires; without one it is open. */
  metricsToken?: string | undefined;
  /** Told of every client-path request (FOREGROUND_PATHS) while it is served, so background work gives way. */
  foreground?: ForegroundActivity | undefined;
}

/**
 * The routes of the clients' data path: what gateways call to read and write objects. Everything else
 * (partition digests and listings, admin, health, metrics, rings) serves background work or operators.
 * POST /v1/batch is decided by its calls, once its body is read (see its route).
 */
const FOREGROUND_PATHS: ReadonlySet<string> = new Set([
  NODE_PATHS.shards,
  NODE_PATHS.commit,
  NODE_PATHS.abort,
  NODE_PATHS.objects,
  NODE_PATHS.list,
  NODE_PATHS.versions,
  NODE_PATHS.versionDelete,
  NODE_PATHS.leases,
  NODE_PATHS.tags,
]);

/** Where a node answers Prometheus: the one path not signed with the cluster secret besides /health. */
export const NODE_METRICS_PATH = '/metrics';

/** How long a shared lease taken with a prepare lives unless its commit gives it back: a gateway that dies holding one blocks conditional writes of the key this long. */
const SHARED_LEASE_TTL_MS = 30_000;

/** Largest JSON body a node accepts (commit records carry user metadata, capped by S3 at 2 KiB). */
const MAX_JSON_BODY_BYTES = 1024 * 1024;
/**
 * Largest commit: a multipart manifest lists up to 10,000 parts, each with its internal key, version,
 * ETag and checksums (about 200 bytes, up to 500 with every checksum algorithm), beside a 1 KiB key.
 */
const MAX_COMMIT_BODY_BYTES = 16 * 1024 * 1024;
const MAX_LIST_LIMIT = 10_000;
/** A listing's delimiter is no longer than a key (a longer one could never occur in one). */
const MAX_DELIMITER_BYTES = 1_024;

function delimiterParam(query: Record<string, string | undefined>): string {
  const delimiter = optionalStringParam(query, 'delimiter');
  if (Buffer.byteLength(delimiter, 'utf8') > MAX_DELIMITER_BYTES) throw badRequest('delimiter too long');
  return delimiter;
}
/** Free read buffers a node keeps for its shard GETs: a few 1 MiB batches, or many small shards' reads. */
const READ_BUFFERS_FREE_BYTES = 4 * 1024 * 1024;

/** The storage node's side of the node protocol: authenticates every request, then serves the shard store. */
export class NodeServer {
  private readonly app: FastifyInstance;
  private readonly options: NodeServerOptions;
  private readonly clock: () => number;
  /** The node's Prometheus figures. */
  readonly metrics: NodeMetrics;
  /** Streamed shard bodies are not signed: each signed shard PUT is accepted once (replay-guard.ts). */
  private readonly shardWrites: ReplayGuard;
  private readonly leases: KeyLeases;
  /** Buffers shard GETs read into, reused once sent. */
  private readonly readBuffers = new ReadBufferPool({ classBytes: READ_BATCH_CLASS_BYTES, maxFreeBytes: READ_BUFFERS_FREE_BYTES });

  constructor(options: NodeServerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    const healing = options.healing;
    this.metrics = new NodeMetrics({
      nodeId: options.nodeId,
      health: () => this.health(),
      workStatus: healing === undefined ? undefined : () => healing.workStatus(),
      countKeys: () => options.store.countKeys(),
      metadataDir: options.dataDir === undefined ? undefined : join(options.dataDir, 'meta'),
    });
    this.shardWrites = new ReplayGuard({ startMs: this.clock() });
    this.leases = new KeyLeases(this.clock);
    this.app = Fastify({
      loggerInstance: options.logger as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
      keepAliveTimeout: 60_000,
      // Closing cuts the connections still open, requests in flight included: a peer's upload whose
      // source stalled would otherwise hold a stopping node forever. What it cuts is a failed request
      // to its sender, and an interrupted shard write leaves nothing visible.
      forceCloseConnections: true,
    });
    this.app.removeAllContentTypeParsers();
    // Shard bodies stream to disk from their handler. A route with a body schema takes JSON: read here,
    // checked against its signed hash before it is parsed, then validated against the schema.
    this.app.addContentTypeParser('*', (request, payload, done) => {
      if (request.routeOptions.schema?.body === undefined) return done(null);
      const limitBytes = request.routeOptions.url === NODE_PATHS.commit ? MAX_COMMIT_BODY_BYTES : MAX_JSON_BODY_BYTES;
      readJson(request, payload, limitBytes).then((body) => done(null, body), (err: Error) => done(err));
    });
    this.app.setValidatorCompiler(({ schema }) => {
      const check = checkFor(schema as TSchema);
      return (data: unknown) => {
        const problem = check.problem(data);
        return problem === null ? { value: data } : { error: new WireError('BadRequest', problem) };
      };
    });
    const { foreground } = options;
    if (foreground !== undefined) {
      this.app.addHook('onRequest', async (request, reply) => {
        if (!FOREGROUND_PATHS.has(request.routeOptions.url ?? '')) return;
        // 'close' comes once for every response, sent or cut off.
        reply.raw.once('close', foreground.begin());
      });
    }
    this.app.addHook('onRequest', async (request) => this.authenticate(request));
    this.app.setErrorHandler((err, request, reply) => this.sendError(err, request, reply));
    this.routes();
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('node server has no TCP address');
    return { host: address.address, port: address.port };
  }

  /** Stops accepting requests and closes idle connections. */
  async close(): Promise<void> {
    await this.app.close();
  }

  private async authenticate(request: FastifyRequest): Promise<void> {
    if (request.url === NODE_PATHS.health) return;
    // Prometheus cannot sign with the cluster secret: the metrics route checks its own bearer token.
    if (request.url === NODE_METRICS_PATH && request.method === 'GET') return;
    // Rings are one document for the whole cluster, read and offered before the asker knows which
    // node answers (a seed, an address given to ring push): a request for any node may reach them.
    const anyNode = request.url === NODE_PATHS.ring || (request.method === 'GET' && request.url === NODE_PATHS.previousRing);
    const problem = verifyRequestSignature(
      this.options.clusterSecret,
      request.method,
      request.url,
      // Every value of a repeated header apart: a signed header must come once.
      request.raw.headersDistinct,
      this.clock(),
      { nodeId: this.options.nodeId, anyNode },
    );
    if (problem === 'other-node') {
      throw new WireError('Unauthorized', `request signed for node ${String(request.headers[NODE_HEADER])}; this is node ${this.options.nodeId} (a node's id must be the ring's id for it)`);
    }
    if (problem !== null) throw new WireError('Unauthorized', `request signature ${problem}`);
  }

  private routes(): void {
    const { store } = this.options;
    this.app.put(NODE_PATHS.shards, async (request) => {
      if (request.headers[BODY_HASH_HEADER] !== UNSIGNED_BODY) throw new WireError('BadRequest', 'shard bodies are unsigned-shard');
      const query = request.query as Record<string, string | undefined>;
      const ref = shardRef(query);
      const erasure = erasureOf(query);
      // The signature (verified by now) covers the target but not the body: it may be used only once.
      const replay = this.shardWrites.admitSigned(request.raw.headersDistinct, this.clock());
      if (replay !== null) throw new WireError('Unauthorized', `shard write refused: ${replay}`);
      const abort = new AbortController();
      request.raw.once('aborted', () => abort.abort());
      return this.prepareFrom(ref, erasure, query, request.raw, abort.signal);
    });
    this.app.post<{ Body: CommitRequest }>(NODE_PATHS.commit, { schema: { body: CommitRequest } }, async (request) => {
      await this.commitAndRelease(request.body);
      return {};
    });
    this.app.post<{ Body: Static<typeof BatchRequest> }>(NODE_PATHS.batch, { schema: { body: BatchRequest } }, async (request, reply): Promise<BatchResponse> => {
      const { foreground } = this.options;
      if (foreground !== undefined && isClientBatch(request.body)) reply.raw.once('close', foreground.begin());
      return this.runBatch(request.body, request.log);
    });
    this.app.post<{ Body: AbortRequest }>(NODE_PATHS.abort, { schema: { body: AbortRequest } }, async (request) => {
      const { bucket, key, versionId, shardIndex } = request.body;
      await store.abort({ bucket, key, versionId, shardIndex });
      return {};
    });
    this.app.get(NODE_PATHS.objects, async (request) => {
      const query = request.query as Record<string, string | undefined>;
      const version = query['version'];
      if (version !== undefined) {
        if (version !== 'null' && !MESSAGE_CHECKS.versionId.is(version)) throw new WireError('BadRequest', 'bad version');
        const bucket = stringParam(query, 'bucket');
        const key = stringParam(query, 'key');
        const stored = await store.versionStatus(bucket, key, version);
        if (stored === undefined && query['withGone'] === '1' && version !== 'null') {
          const gone = await store.versionGone(bucket, key, version);
          if (gone !== undefined) return { record: goneRecord(gone), shardIndex: null, shardSizeBytes: 0, gone: true };
        }
        if (stored === undefined) throw new WireError('NotFound', 'no such version of this key');
        return toObjectStatus(stored);
      }
      const status = await this.objectStatus(stringParam(query, 'bucket'), stringParam(query, 'key'), false);
      if (status === null) throw new WireError('NotFound', 'no version of this key');
      return status;
    });
    this.app.get(NODE_PATHS.shards, async (request, reply) => {
      const { ref, sizeBytes, first, chunks } = await this.openRead(request.query as Record<string, string | undefined>);
      // The body is written by hand, not piped, so each buffer goes back to the pool once its bytes are sent.
      reply.hijack();
      const onError = (err: unknown): void => request.log.warn({ err, ref }, 'shard read failed after its status was sent');
      await sendPooledBody(reply.raw, sizeBytes, first, chunks, this.readBuffers, onError);
    });
    this.app.get(NODE_PATHS.list, async (request): Promise<ListResponse> => {
      const query = request.query as Record<string, string | undefined>;
      const listQuery: ListQuery = {
        bucket: stringParam(query, 'bucket'),
        prefix: optionalStringParam(query, 'prefix'),
        after: optionalStringParam(query, 'after'),
        afterIsPrefix: query['afterIsPrefix'] === '1',
        limit: intParam(query, 'limit', 1, MAX_LIST_LIMIT),
        delimiter: delimiterParam(query),
      };
      const page = await store.list(listQuery);
      return {
        entries: page.entries.map((stored) => ({ key: stored.record.key, record: stored.record, ...(stored.rollup === undefined ? {} : { rollup: stored.rollup }) })),
        truncated: page.truncated,
        ...(page.resume === undefined ? {} : { resume: page.resume }),
      };
    });
    this.app.get(NODE_PATHS.versions, async (request): Promise<ListResponse> => {
      const query = request.query as Record<string, string | undefined>;
      const afterVersion = query['afterVersion'];
      if (afterVersion !== undefined && afterVersion !== 'null' && !MESSAGE_CHECKS.versionId.is(afterVersion)) throw new WireError('BadRequest', 'bad afterVersion');
      const page = await store.listVersions({
        bucket: stringParam(query, 'bucket'),
        prefix: query['prefix'] ?? '',
        after: query['after'] ?? '',
        afterIsPrefix: query['afterIsPrefix'] === '1',
        limit: intParam(query, 'limit', 1, MAX_LIST_LIMIT),
        ...(afterVersion === undefined ? {} : { afterVersion }),
        delimiter: delimiterParam(query),
      });
      return {
        entries: page.entries.map((stored) => ({
          key: stored.record.key,
          record: stored.record,
          ...(stored.gone === true ? { gone: true as const } : {}),
          ...(stored.rollup === undefined ? {} : { rollup: stored.rollup }),
        })),
        truncated: page.truncated,
        ...(page.resume === undefined ? {} : { resume: page.resume }),
      };
    });
    this.app.post<{ Body: VersionDeleteRequest }>(NODE_PATHS.versionDelete, { schema: { body: VersionDeleteRequest } }, async (request) => {
      const { bucket, key, versionId, bypassGovernance } = request.body;
      return { removed: await store.deleteVersion(bucket, key, versionId, { bypassGovernance }) };
    });
    this.app.post<{ Body: LeaseRequest }>(NODE_PATHS.leases, { schema: { body: LeaseRequest } }, async (request) => {
      const { bucket, key, token, ttlMs, release, mode, fence } = request.body;
      if (release === true) {
        this.leases.release(bucket, key, token, fence);
        return { granted: false };
      }
      if (mode === 'shared') return this.leases.acquireShared(bucket, key, token, ttlMs);
      if (!this.leases.acquire(bucket, key, token, ttlMs)) return { granted: false };
      // Read after the grant: every plain write that held the key here has committed by now.
      const current = await store.objectStatus(bucket, key);
      return { granted: true, current: current?.record ?? null };
    });
    this.app.put<{ Body: BucketRecord }>(NODE_PATHS.buckets, { schema: { body: BucketRecord } }, async (request) => {
      await store.putBucket(request.body);
      return {};
    });
    this.app.get(NODE_PATHS.buckets, async () => ({ buckets: await store.listBuckets() }));
    this.app.put<{ Body: UserRecord }>(NODE_PATHS.users, { schema: { body: UserRecord } }, async (request) => {
      await store.putUser(request.body);
      return {};
    });
    this.app.get(NODE_PATHS.users, async () => ({ users: await store.listUsers() }));
    this.app.post<{ Body: TagUpdateRequest }>(NODE_PATHS.tags, { schema: { body: TagUpdateRequest } }, async (request) => {
      await store.updateTags(request.body);
      return {};
    });
    this.app.post<{ Body: ResealRequest }>(NODE_PATHS.reseal, { schema: { body: ResealRequest } }, async (request) => {
      await store.reseal(request.body);
      return {};
    });
    registerRingRoutes(this.app, this.options.rings, this.options.onRingAdopted);
    registerHealingRoutes(this.app, store, this.options.healing);
    this.app.get(NODE_PATHS.health, async (): Promise<NodeHealth> => this.health());
    this.app.get(NODE_METRICS_PATH, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!bearerAllowed(request.headers.authorization, this.options.metricsToken)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="tessera metrics"').type('text/plain').send('a bearer token is required\n');
      }
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(await this.metrics.text());
    });
  }

  /** The node's health report: GET /health, and the source of the health figures in metrics. */
  private health(): Promise<NodeHealth> {
    return nodeHealth(this.options);
  }

  /**
   * The node's newest version of a key, or null. With `withInlineShard`, an inline shard's bytes come
   * along, read through the same checksummed path as a shard read (a bad one is quarantined and left out).
   */
  private async objectStatus(bucket: string, key: string, withInlineShard: boolean): Promise<ObjectStatus | null> {
    const { store } = this.options;
    if (!withInlineShard) {
      const stored = await store.objectStatus(bucket, key);
      return stored === undefined ? null : toObjectStatus(stored);
    }
    const found = await store.objectStatusWithInline(bucket, key);
    if (found === undefined) return null;
    const status = toObjectStatus(found.stored);
    // Without the bytes (a file shard, or an inline one that failed its checks) the reader reads or rebuilds the shard on its own path.
    return found.inlineShard === null ? status : { ...status, inlineShard: found.inlineShard.toString('base64') };
  }

  /** A plain write's shared lease on the shard's key, taken once its shard is durable (`token` given), as the prepare's answer carries it. */
  private sharedLeaseWith(ref: { bucket: string; key: string }, token: string | undefined): { lease?: { granted: boolean; fence?: string } } {
    if (token === undefined || token === '' || token.length > 64) return {};
    return { lease: this.leases.acquireShared(ref.bucket, ref.key, token, SHARED_LEASE_TTL_MS) };
  }

  /** Commits, then gives back the plain write's shared lease the commit names: the key is free for a conditional write once this node holds the version. */
  private async commitAndRelease(request: CommitRequest): Promise<void> {
    await this.options.store.commit(request);
    if (request.leaseToken !== undefined) this.leases.release(request.record.bucket, request.record.key, request.leaseToken);
  }

  /** PUT /v1/shards once its request is checked: stores the body, and takes the shared lease its query asks for. */
  private async prepareFrom(ref: ShardRef, erasure: ErasureParams, query: Record<string, string | undefined>, body: Readable, signal: AbortSignal): Promise<PrepareResponse> {
    const sizeBytes = await this.options.store.prepare(ref, erasure, body, signal, { fresh: query['fresh'] === '1' });
    return { sizeBytes, ...this.sharedLeaseWith(ref, query['lease']) };
  }

  /**
   * A shard read as GET /v1/shards opens it from its query: the shard and its header checked, and its
   * first chunk read and verified before any status is sent, so a corrupt one is an error status.
   */
  private async openRead(
    query: Record<string, string | undefined>,
    options: { transient?: boolean } = {},
  ): Promise<{ ref: ShardRef; sizeBytes: number; first: Buffer | undefined; chunks: AsyncGenerator<Buffer> }> {
    const ref = shardRef(query);
    const offset = intParam(query, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const length = intParam(query, 'length', 0, Number.MAX_SAFE_INTEGER);
    const shard = await this.options.store.openShard(ref, offset, length, { pool: this.readBuffers, transient: options.transient });
    const first = await shard.chunks.next();
    return { ref, sizeBytes: shard.sizeBytes, first: first.done === true ? undefined : first.value, chunks: shard.chunks };
  }

  /**
   * What this node serves over an in-process link (local-link.ts): its batch route and its shard
   * reads and uploads, checked, limited and counted as client traffic as their routes are. The link is the node's
   * own, handed over by the code that started it, so there is no signature to check.
   */
  linkService(): LinkService {
    const { foreground, logger } = this.options;
    return {
      batch: (text) => this.serveLocalBatch(text),
      read: async (queryText) => {
        const end = foreground?.begin() ?? (() => undefined);
        try {
          // The link copies each chunk before it asks for the next and keeps none, so the pooled buffers
          // need no references of their own, and a direct read's chunks may be views of its buffer.
          const { sizeBytes, first, chunks } = await this.openRead(Object.fromEntries(new URLSearchParams(queryText)), { transient: true });
          return { sizeBytes, chunks: first === undefined ? chunks : prepended(first, chunks), end };
        } catch (err) {
          end();
          throw err;
        }
      },
      upload: async (queryText, body, signal) => {
        const end = foreground?.begin() ?? (() => undefined);
        try {
          const query = Object.fromEntries(new URLSearchParams(queryText));
          return JSON.stringify(await this.prepareFrom(shardRef(query), erasureOf(query), query, body, signal));
        } finally {
          end();
        }
      },
      refusal: wireAnswerOf,
      readFailed: (err) => logger.warn({ err }, 'shard read failed after its size was sent'),
    };
  }

  /**
   * Serves a batch that came over an in-process link (local-link.ts): the batch route's JSON text in,
   * its JSON answer out, checked and counted as the route does. The link is the node's own, handed over
   * by the code that started it, so there is no signature to check; a malformed batch is refused with
   * the route's wire error.
   */
  private async serveLocalBatch(text: string): Promise<string> {
    // Its length in UTF-16 units is at most its length in UTF-8 bytes: the route's limit holds either way.
    if (text.length > MAX_JSON_BODY_BYTES) throw new WireError('BadRequest', 'body too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new WireError('BadRequest', 'body is not JSON');
    }
    const batch = MESSAGE_CHECKS.batch.parse(body, badRequest);
    const end = this.options.foreground !== undefined && isClientBatch(batch) ? this.options.foreground.begin() : undefined;
    try {
      return JSON.stringify(await this.runBatch(batch, this.options.logger));
    } finally {
      end?.();
    }
  }

  /** The calls of a batch run together, so their metadata writes can share one sync; each is checked and answers for itself. */
  private async runBatch(batch: Static<typeof BatchRequest>, log: FastifyBaseLogger | Logger): Promise<BatchResponse> {
    return { results: await Promise.all(batch.calls.map((call) => this.runBatchCall(call, log))) };
  }

  private async runBatchCall(body: unknown, log: FastifyBaseLogger | Logger): Promise<BatchResult> {
    try {
      // The same schemas as the calls' own routes (a prepare's ref and erasure as PUT /v1/shards checks them).
      const call = MESSAGE_CHECKS.batchCall.parse(body, badRequest);
      if (call.op === 'prepare') {
        const sizeBytes = await this.options.store.prepare(call.ref, call.erasure, Buffer.from(call.shard, 'base64'), undefined, { fresh: call.fresh === true });
        return { ok: true, value: { sizeBytes, ...this.sharedLeaseWith(call.ref, call.lease) } };
      }
      if (call.op === 'commit') {
        await this.commitAndRelease(call.request);
        return { ok: true, value: null };
      }
      if (call.op === 'digest') {
        if (!isPartitionOf(call.partition, call.bits)) throw new WireError('BadRequest', 'bad partition');
        return { ok: true, value: await partitionDigest(this.options.store, call.partition, call.bits) };
      }
      return { ok: true, value: await this.objectStatus(call.bucket, call.key, call.withInlineShard) };
    } catch (err) {
      const answer = wireAnswerOf(err);
      if (answer.code === 'Internal') log.error({ err }, 'node batch call failed');
      return { ok: false, ...answer };
    }
  }

  private sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const { code, message } = wireAnswerOf(err);
    if (code === 'Internal') request.log.error({ err }, 'node request failed');
    else request.log.debug({ err, code }, 'node request refused');
    // A refused request may still be sending its body: close the connection rather than read it.
    if (code === 'Unauthorized' || code === 'InsufficientStorage') reply.header('connection', 'close');
    // A shard read that fails before its first byte has already set an octet-stream type: errors are JSON.
    return reply.status(WIRE_ERROR_STATUS[code]).type('application/json').send({ code, message });
  }
}

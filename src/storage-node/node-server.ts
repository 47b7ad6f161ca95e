import { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isVersionId, type Logger } from '../common/index.js';
import {
  BODY_HASH_HEADER,
  NODE_PATHS,
  UNSIGNED_BODY,
  WIRE_ERROR_STATUS,
  WireError,
  bodySha256,
  verifyRequestSignature,
  type AbortRequest,
  type BatchCall,
  type BatchRequest,
  type BatchResponse,
  type BatchResult,
  type BucketRecord,
  type CommitRequest,
  type ListQuery,
  type ListResponse,
  type NodeHealth,
  type ObjectStatus,
  type ShardRef,
  type TagUpdateRequest,
  type WireErrorCode,
} from '../rpc/index.js';
import { parseRing, serializeRing } from '../placement/index.js';
import { toObjectStatus } from './metadata-store.js';
import type { PreparedResolver } from './prepared-resolver.js';
import type { RingStore } from './ring-store.js';
import type { ShardStore } from './shard-store.js';
import { ShardStoreError } from './shard-store-error.js';
import { registerHealingRoutes, type HealingControl } from './workers/healing-routes.js';

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
}

/** Largest JSON body a node accepts (commit records carry user metadata, capped by S3 at 2 KiB). */
const MAX_JSON_BODY_BYTES = 1024 * 1024;
/** Most calls one batch may carry (the client sends at most 128). */
const MAX_BATCH_CALLS = 1024;
const MAX_LIST_LIMIT = 10_000;

/** The storage node's side of the node protocol: authenticates every request, then serves the shard store. */
export class NodeServer {
  private readonly app: FastifyInstance;
  private readonly options: NodeServerOptions;
  private readonly clock: () => number;

  constructor(options: NodeServerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
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
    // Bodies are read by the handlers themselves: shard bodies stream to disk, JSON bodies are hash-checked first.
    this.app.addContentTypeParser('*', (_request, _payload, done) => done(null));
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
    const problem = verifyRequestSignature(
      this.options.clusterSecret,
      request.method,
      request.url,
      request.headers,
      this.clock(),
    );
    if (problem !== null) throw new WireError('Unauthorized', `request signature ${problem}`);
  }

  private routes(): void {
    const { store } = this.options;
    this.app.put(NODE_PATHS.shards, async (request) => {
      if (request.headers[BODY_HASH_HEADER] !== UNSIGNED_BODY) throw new WireError('BadRequest', 'shard bodies are unsigned-shard');
      const query = request.query as Record<string, string | undefined>;
      const ref = shardRef(query);
      const erasure = erasureParams(query);
      const abort = new AbortController();
      request.raw.once('aborted', () => abort.abort());
      const sizeBytes = await store.prepare(ref, erasure, request.raw, abort.signal);
      return { sizeBytes };
    });
    this.app.post(NODE_PATHS.commit, async (request) => {
      await this.commit(await readJson<CommitRequest>(request));
      return {};
    });
    this.app.post(NODE_PATHS.batch, async (request): Promise<BatchResponse> => {
      const body = await readJson<BatchRequest>(request);
      if (!Array.isArray(body.calls) || body.calls.length > MAX_BATCH_CALLS) throw new WireError('BadRequest', 'bad batch');
      // The calls run together, so their metadata writes can share one sync; each answers for itself.
      return { results: await Promise.all(body.calls.map((call) => this.runBatchCall(call, request))) };
    });
    this.app.post(NODE_PATHS.abort, async (request) => {
      const body = await readJson<AbortRequest>(request);
      checkName(body.bucket, 'bucket');
      checkName(body.key, 'key');
      checkShardIndex(body.shardIndex);
      if (!isVersionId(body.versionId)) throw new WireError('BadRequest', 'bad version id');
      await store.abort({ bucket: body.bucket, key: body.key, versionId: body.versionId, shardIndex: body.shardIndex });
      return {};
    });
    this.app.get(NODE_PATHS.objects, async (request) => {
      const query = request.query as Record<string, string | undefined>;
      const status = await this.objectStatus(stringParam(query, 'bucket'), stringParam(query, 'key'), false);
      if (status === null) throw new WireError('NotFound', 'no version of this key');
      return status;
    });
    this.app.get(NODE_PATHS.shards, async (request, reply) => {
      const query = request.query as Record<string, string | undefined>;
      const ref = shardRef(query);
      const offset = intParam(query, 'offset', 0, Number.MAX_SAFE_INTEGER);
      const length = intParam(query, 'length', 0, Number.MAX_SAFE_INTEGER);
      const shard = await store.openShard(ref, offset, length);
      reply.header('content-type', 'application/octet-stream');
      reply.header('content-length', shard.sizeBytes);
      return reply.send(Readable.from(shard.chunks, { objectMode: false }));
    });
    this.app.get(NODE_PATHS.list, async (request): Promise<ListResponse> => {
      const query = request.query as Record<string, string | undefined>;
      const listQuery: ListQuery = {
        bucket: stringParam(query, 'bucket'),
        prefix: query['prefix'] ?? '',
        after: query['after'] ?? '',
        afterIsPrefix: query['afterIsPrefix'] === '1',
        limit: intParam(query, 'limit', 1, MAX_LIST_LIMIT),
      };
      const page = await store.list(listQuery);
      return {
        entries: page.entries.map((stored) => ({ key: stored.record.key, record: stored.record })),
        truncated: page.truncated,
      };
    });
    this.app.put(NODE_PATHS.buckets, async (request) => {
      const record = await readJson<BucketRecord>(request);
      if (!isVersionId(record.versionId)) throw new WireError('BadRequest', 'bad bucket record');
      checkName(record.name, 'bucket');
      await store.putBucket(record);
      return {};
    });
    this.app.get(NODE_PATHS.buckets, async () => ({ buckets: await store.metadata.listBuckets() }));
    this.app.post(NODE_PATHS.tags, async (request) => {
      const body = await readJson<TagUpdateRequest>(request);
      if (!isVersionId(body.versionId) || !isVersionId(body.tagsRevision)) throw new WireError('BadRequest', 'bad version id');
      if (typeof body.tags !== 'object' || body.tags === null) throw new WireError('BadRequest', 'bad tags');
      checkName(body.bucket, 'bucket');
      checkName(body.key, 'key');
      await store.updateTags(body);
      return {};
    });
    this.app.put(NODE_PATHS.ring, async (request) => {
      const document = await readJson<unknown>(request);
      let ring;
      try {
        ring = parseRing(document);
      } catch (err) {
        throw new WireError('BadRequest', `invalid ring: ${(err as Error).message}`);
      }
      const adopted = await this.options.rings.offer(ring);
      if (adopted) {
        request.log.info({ epoch: ring.epoch }, 'adopted a newer ring');
        this.options.onRingAdopted?.();
      }
      return { adopted, epoch: this.options.rings.current?.epoch ?? 0 };
    });
    this.app.get(NODE_PATHS.ring, async (_request, reply) => {
      const ring = this.options.rings.current;
      if (ring === undefined) throw new WireError('NotFound', 'this node holds no ring');
      return reply.type('application/json').send(serializeRing(ring));
    });
    registerHealingRoutes(this.app, store, this.options.healing);
    this.app.get(NODE_PATHS.health, async (): Promise<NodeHealth> => {
      const metadataStore = store.metadata.status;
      const stats = store.stats;
      const recovery = stats.lastRecovery;
      return {
        nodeId: this.options.nodeId,
        // After one failed metadata write the node refuses writes until it restarts (metadata-store.ts).
        status: metadataStore === 'open' && store.metadata.writeFailures === 0 ? 'ok' : 'degraded',
        metadataStore,
        freeBytes: await store.freeBytes(),
        checksumFailures: stats.checksumFailures,
        ringEpoch: this.options.rings.current?.epoch ?? 0,
        quarantinedShards: stats.quarantinedShards,
        noSpaceRefusals: stats.noSpaceRefusals,
        ioErrors: stats.ioErrors,
        capacityBytes: stats.capacityBytes,
        usedBytes: stats.usedBytes,
        recovery:
          recovery === null
            ? null
            : {
                tmpFilesRemoved: recovery.tmpFilesRemoved,
                stalePreparedDropped: recovery.stalePreparedDropped,
                orphanFilesRemoved: recovery.orphanFilesRemoved,
                missingFiles: recovery.missingFiles,
                completedMs: recovery.completedMs,
              },
        ...(this.options.resolver === undefined ? {} : { preparedResolver: this.options.resolver.status() }),
      };
    });
  }

  /** Validates and applies a commit (POST /v1/commit, or one call of a batch). */
  private async commit(body: CommitRequest): Promise<void> {
    if (typeof body !== 'object' || body === null || typeof body.record !== 'object' || body.record === null || !isVersionId(body.record.versionId)) {
      throw new WireError('BadRequest', 'bad version id');
    }
    checkName(body.record.bucket, 'bucket');
    checkName(body.record.key, 'key');
    if (body.shardIndex !== null) checkShardIndex(body.shardIndex);
    await this.options.store.commit(body);
  }

  /**
   * The node's newest version of a key, or null. With `withInlineShard`, an inline shard's bytes come
   * along, read through the same checksummed path as a shard read (a bad one is quarantined and left out).
   */
  private async objectStatus(bucket: string, key: string, withInlineShard: boolean): Promise<ObjectStatus | null> {
    const { store } = this.options;
    const stored = await store.objectStatus(bucket, key);
    if (stored === undefined) return null;
    const status = toObjectStatus(stored);
    if (!withInlineShard || stored.inline !== true || stored.shardIndex === null) return status;
    const ref = { bucket, key, versionId: stored.record.versionId, shardIndex: stored.shardIndex };
    try {
      const shard = await store.openShard(ref, 0, stored.shardSizeBytes);
      const pieces: Buffer[] = [];
      for await (const piece of shard.chunks) pieces.push(piece);
      return { ...status, inlineShard: Buffer.concat(pieces).toString('base64') };
    } catch (err) {
      // The reader falls back to reading (or rebuilding) this shard on its own path, which reports the fault.
      if (err instanceof ShardStoreError && err.code !== 'WriteFenced') return status;
      throw err;
    }
  }

  private async runBatchCall(call: BatchCall, request: FastifyRequest): Promise<BatchResult> {
    try {
      if (typeof call !== 'object' || call === null) throw new WireError('BadRequest', 'bad batch call');
      if (call.op === 'prepare') {
        if (typeof call.ref !== 'object' || call.ref === null || typeof call.erasure !== 'object' || call.erasure === null || typeof call.shard !== 'string') {
          throw new WireError('BadRequest', 'bad prepare');
        }
        // The same checks as PUT /v1/shards, on the same fields as strings.
        const ref = shardRef(stringFields(call.ref as unknown as Record<string, unknown>));
        const erasure = erasureParams({ k: String(call.erasure.dataShards), m: String(call.erasure.parityShards), block: String(call.erasure.blockSizeBytes) });
        const sizeBytes = await this.options.store.prepare(ref, erasure, Readable.from([Buffer.from(call.shard, 'base64')]));
        return { ok: true, value: { sizeBytes } };
      }
      if (call.op === 'commit') {
        await this.commit(call.request);
        return { ok: true, value: null };
      }
      if (call.op === 'status') {
        checkName(call.bucket, 'bucket');
        checkName(call.key, 'key');
        return { ok: true, value: await this.objectStatus(call.bucket, call.key, call.withInlineShard === true) };
      }
      throw new WireError('BadRequest', 'unknown batch call');
    } catch (err) {
      const code = wireCodeOf(err);
      if (code === 'Internal') request.log.error({ err }, 'node batch call failed');
      return { ok: false, code, message: code === 'Internal' ? 'internal error' : (err as Error).message };
    }
  }

  private sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const code = wireCodeOf(err);
    if (code === 'Internal') request.log.error({ err }, 'node request failed');
    else request.log.debug({ err, code }, 'node request refused');
    const message = code === 'Internal' ? 'internal error' : (err as Error).message;
    // A refused request may still be sending its body: close the connection rather than read it.
    if (code === 'Unauthorized' || code === 'InsufficientStorage') reply.header('connection', 'close');
    // A shard read that fails before its first byte has already set an octet-stream type: errors are JSON.
    return reply.status(WIRE_ERROR_STATUS[code]).type('application/json').send({ code, message });
  }
}

/** The one mapping of node failures onto the wire: protocol errors as they are, storage errors by their table. */
function wireCodeOf(err: unknown): WireErrorCode {
  if (err instanceof WireError) return err.code;
  if (err instanceof ShardStoreError) return err.wireCode;
  return 'Internal';
}

function stringParam(query: Record<string, string | undefined>, name: string): string {
  const value = query[name];
  if (value === undefined || value.length === 0 || value.includes('\0')) throw new WireError('BadRequest', `bad ${name}`);
  return value;
}

/**
 * Bucket names and keys from JSON bodies get the same check as query strings: NUL separates the parts
 * of LevelDB keys, so a name holding one could reach into another bucket's rows.
 */
function checkName(value: unknown, name: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) throw new WireError('BadRequest', `bad ${name}`);
}

function checkShardIndex(value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) throw new WireError('BadRequest', 'bad shard');
}

function intParam(query: Record<string, string | undefined>, name: string, min: number, max: number): number {
  const raw = query[name];
  const value = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new WireError('BadRequest', `bad ${name}`);
  return value;
}

function erasureParams(query: Record<string, string | undefined>): { dataShards: number; parityShards: number; blockSizeBytes: number } {
  return {
    dataShards: intParam(query, 'k', 1, 256),
    parityShards: intParam(query, 'm', 0, 255),
    blockSizeBytes: intParam(query, 'block', 1, 2 ** 31),
  };
}

/** A shard ref from a JSON body, as the query-string fields shardRef checks. */
function stringFields(ref: Record<string, unknown>): Record<string, string | undefined> {
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
  return { bucket: text(ref['bucket']), key: text(ref['key']), version: text(ref['versionId']), shard: text(ref['shardIndex']) };
}

function shardRef(query: Record<string, string | undefined>): ShardRef {
  const versionId = stringParam(query, 'version');
  if (!isVersionId(versionId)) throw new WireError('BadRequest', 'bad version');
  return {
    bucket: stringParam(query, 'bucket'),
    key: stringParam(query, 'key'),
    versionId,
    shardIndex: intParam(query, 'shard', 0, 255),
  };
}

async function readJson<T>(request: FastifyRequest): Promise<T> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw) {
    total += (chunk as Buffer).length;
    if (total > MAX_JSON_BODY_BYTES) throw new WireError('BadRequest', 'body too large');
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  if (bodySha256(body) !== request.headers[BODY_HASH_HEADER]) throw new WireError('Unauthorized', 'body hash mismatch');
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new WireError('BadRequest', 'body is not JSON');
  }
}

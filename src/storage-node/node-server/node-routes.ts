import { PROMETHEUS_CONTENT_TYPE, bearerAllowed } from '../../common/index.js';
import {
  AbortRequest,
  BODY_HASH_HEADER,
  BatchRequest,
  BucketRecord,
  CommitRequest,
  IndexApplyRequest,
  IndexDropRequest,
  MAX_INDEX_EXPORT_ROWS,
  LeaseRequest,
  MESSAGE_CHECKS,
  NODE_PATHS,
  ResealRequest,
  TagUpdateRequest,
  UNSIGNED_BODY,
  UserRecord,
  VersionDeleteRequest,
  WireError,
  type BatchResponse,
  type ChangeLogPage,
  type IndexExportResponse,
  type IndexListResponse,
  type IndexVersionListResponse,
  type ListQuery,
  type ListResponse,
  type NodeHealth,
  type ObjectStatus,
} from '../../rpc/index.js';
import { goneRecord, toObjectStatus } from '../metadata-store.js';
import { MAX_CHANGE_PAGE } from '../metadata/change-rows.js';
import { sendPooledBody } from '../pooled-body.js';
import { CHANGE_ROUTES } from '../workers/change-routes.js';
import { HEALING_ROUTES } from '../workers/healing-routes.js';
import { isClientBatch } from './client-batch.js';
import { callerGoneSignal, queryOf, withBody, type NodeRoute, type NodeRouteContext } from './node-route.js';
import { badRequest, erasureOf, intParam, optionalStringParam, shardRef, stringParam } from './query-params.js';
import { RING_ROUTES } from './ring-routes.js';

/** Where a node answers Prometheus: the one path not signed with the cluster secret besides /health. */
export const NODE_METRICS_PATH = '/metrics';

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

/** GET /v1/objects: the newest version of a key, or with `version` that one (with `withGone`, its tombstone once deleted). */
async function objectLookup(node: NodeRouteContext, query: Record<string, string | undefined>): Promise<ObjectStatus> {
  const version = query['version'];
  if (version === undefined) {
    const status = await node.calls.objectStatus(stringParam(query, 'bucket'), stringParam(query, 'key'), false);
    if (status === null) throw new WireError('NotFound', 'no version of this key');
    return status;
  }
  if (version !== 'null' && !MESSAGE_CHECKS.versionId.is(version)) throw new WireError('BadRequest', 'bad version');
  const bucket = stringParam(query, 'bucket');
  const key = stringParam(query, 'key');
  const stored = await node.store.versionStatus(bucket, key, version);
  if (stored === undefined && query['withGone'] === '1' && version !== 'null') {
    const gone = await node.store.versionGone(bucket, key, version);
    if (gone !== undefined) return { record: goneRecord(gone), shardIndex: null, shardSizeBytes: 0, gone: true };
  }
  if (stored === undefined) throw new WireError('NotFound', 'no such version of this key');
  return toObjectStatus(stored);
}

/** GET /v1/list: a page of a bucket's keys, each with its newest record (with a delimiter, one row per common prefix). */
async function listKeys(node: NodeRouteContext, query: Record<string, string | undefined>): Promise<ListResponse> {
  const listQuery: ListQuery = {
    bucket: stringParam(query, 'bucket'),
    prefix: optionalStringParam(query, 'prefix'),
    after: optionalStringParam(query, 'after'),
    afterIsPrefix: query['afterIsPrefix'] === '1',
    limit: intParam(query, 'limit', 1, MAX_LIST_LIMIT),
    delimiter: delimiterParam(query),
  };
  const page = await node.store.list(listQuery);
  return {
    entries: page.entries.map((stored) => ({ key: stored.record.key, record: stored.record, ...(stored.rollup === undefined ? {} : { rollup: stored.rollup }) })),
    truncated: page.truncated,
    ...(page.resume === undefined ? {} : { resume: page.resume }),
  };
}

/**
 * GET /v1/index: a page of a bucket index replica, one row per key (with a delimiter, one per common
 * prefix); with `versions=1`, every version of each key the replica's rows do not hide.
 */
async function listIndex(node: NodeRouteContext, query: Record<string, string | undefined>): Promise<IndexListResponse | IndexVersionListResponse> {
  const listQuery = {
    bucket: stringParam(query, 'bucket'),
    incarnation: intParam(query, 'incarnation', 0, Number.MAX_SAFE_INTEGER),
    prefix: optionalStringParam(query, 'prefix'),
    after: optionalStringParam(query, 'after'),
    afterIsPrefix: query['afterIsPrefix'] === '1',
    limit: intParam(query, 'limit', 1, MAX_LIST_LIMIT),
    delimiter: delimiterParam(query),
    ...shardBoundsParams(query),
  };
  if (query['versions'] !== '1') return node.store.indexRows.list(listQuery);
  const afterVersion = afterVersionParam(query);
  return node.store.indexRows.listVersions({ ...listQuery, ...(afterVersion === undefined ? {} : { afterVersion }) });
}

/** The key range of the index shard a listing or export reads (IndexShardBounds); absent bounds: open. */
function shardBoundsParams(query: Record<string, string | undefined>): { from?: string; before?: string } {
  const from = query['from'] === undefined ? undefined : stringParam(query, 'from');
  const before = query['before'] === undefined ? undefined : stringParam(query, 'before');
  return { ...(from === undefined ? {} : { from }), ...(before === undefined ? {} : { before }) };
}

/** GET /v1/index/export: a page of the replica's rows of keys in a range, as changes (a shard split's copy). */
async function exportIndex(node: NodeRouteContext, query: Record<string, string | undefined>): Promise<IndexExportResponse> {
  const after = query['after'];
  if (after !== undefined && !/^(?:[0-9a-f]{2}){1,4096}$/.test(after)) throw new WireError('BadRequest', 'bad after');
  const bounds = shardBoundsParams(query);
  return node.store.indexRows.exportRange({
    bucket: stringParam(query, 'bucket'),
    incarnation: intParam(query, 'incarnation', 0, Number.MAX_SAFE_INTEGER),
    from: bounds.from ?? '',
    before: bounds.before,
    ...(after === undefined ? {} : { after }),
    limit: intParam(query, 'limit', 1, MAX_INDEX_EXPORT_ROWS),
  });
}

/** GET /v1/changes: a page of the node's change log, after sequence `after` (16 hex digits) when given. */
async function listChanges(node: NodeRouteContext, query: Record<string, string | undefined>): Promise<ChangeLogPage> {
  const after = query['after'];
  if (after !== undefined && !/^[0-9a-f]{16}$/.test(after)) throw new WireError('BadRequest', 'bad after');
  return { changes: await node.store.changes.page(after, intParam(query, 'limit', 1, MAX_CHANGE_PAGE)) };
}

/** The `afterVersion` of a version listing: a version id, or `null` (the key's null version). */
function afterVersionParam(query: Record<string, string | undefined>): string | undefined {
  const afterVersion = query['afterVersion'];
  if (afterVersion !== undefined && afterVersion !== 'null' && !MESSAGE_CHECKS.versionId.is(afterVersion)) throw new WireError('BadRequest', 'bad afterVersion');
  return afterVersion;
}

/** GET /v1/versions: a page of a bucket's versions, tombstones marked. */
async function listVersions(node: NodeRouteContext, query: Record<string, string | undefined>): Promise<ListResponse> {
  const afterVersion = afterVersionParam(query);
  const page = await node.store.listVersions({
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
}

/** The clients' data path: what gateways call to read and write objects, each request counted as foreground work. */
const DATA_ROUTES: readonly NodeRoute[] = [
  {
    method: 'PUT',
    path: NODE_PATHS.shards,
    foreground: true,
    handler: async (node, request) => {
      if (request.headers[BODY_HASH_HEADER] !== UNSIGNED_BODY) throw new WireError('BadRequest', 'shard bodies are unsigned-shard');
      const query = queryOf(request);
      const ref = shardRef(query);
      const erasure = erasureOf(query);
      // The signature (verified by now) covers the target but not the body: it may be used only once.
      const replay = node.calls.admitShardWrite(request.raw.headersDistinct);
      if (replay !== null) throw new WireError('Unauthorized', `shard write refused: ${replay}`);
      const abort = new AbortController();
      request.raw.once('aborted', () => abort.abort());
      return node.calls.prepareFrom(ref, erasure, query, request.raw, abort.signal);
    },
  },
  withBody({
    method: 'POST',
    path: NODE_PATHS.commit,
    body: CommitRequest,
    bodyLimitBytes: MAX_COMMIT_BODY_BYTES,
    foreground: true,
    handler: async (node, body) => {
      await node.calls.commitAndRelease(body);
      return {};
    },
  }),
  withBody({
    method: 'POST',
    path: NODE_PATHS.abort,
    body: AbortRequest,
    foreground: true,
    handler: async (node, { bucket, key, versionId, shardIndex }) => {
      await node.store.abort({ bucket, key, versionId, shardIndex });
      return {};
    },
  }),
  { method: 'GET', path: NODE_PATHS.objects, foreground: true, handler: async (node, request) => objectLookup(node, queryOf(request)) },
  {
    method: 'GET',
    path: NODE_PATHS.shards,
    foreground: true,
    handler: async (node, request, reply) => {
      const { ref, sizeBytes, first, chunks } = await node.calls.openRead(queryOf(request));
      // The body is written by hand, not piped, so each buffer goes back to the pool once its bytes are sent.
      reply.hijack();
      const onError = (err: unknown): void => request.log.warn({ err, ref }, 'shard read failed after its status was sent');
      await sendPooledBody(reply.raw, sizeBytes, first, chunks, node.calls.readBuffers, onError);
    },
  },
  { method: 'GET', path: NODE_PATHS.list, foreground: true, handler: async (node, request) => listKeys(node, queryOf(request)) },
  { method: 'GET', path: NODE_PATHS.versions, foreground: true, handler: async (node, request) => listVersions(node, queryOf(request)) },
  withBody({
    method: 'POST',
    path: NODE_PATHS.versionDelete,
    body: VersionDeleteRequest,
    foreground: true,
    handler: async (node, { bucket, key, versionId, bypassGovernance, change }) => ({ removed: await node.store.deleteVersion(bucket, key, versionId, { bypassGovernance, change }) }),
  }),
  { method: 'GET', path: NODE_PATHS.index, foreground: true, handler: async (node, request) => listIndex(node, queryOf(request)) },
  { method: 'GET', path: NODE_PATHS.indexExport, handler: async (node, request) => exportIndex(node, queryOf(request)) },
  withBody({
    method: 'POST',
    path: NODE_PATHS.indexDrop,
    body: IndexDropRequest,
    handler: async (node, body) => {
      await node.store.indexRows.dropRange(body);
      return {};
    },
  }),
  { method: 'GET', path: NODE_PATHS.changes, handler: async (node, request) => listChanges(node, queryOf(request)) },
  withBody({
    method: 'POST',
    path: NODE_PATHS.index,
    body: IndexApplyRequest,
    foreground: true,
    handler: async (node, { ops }) => {
      await node.store.indexRows.apply(ops);
      return {};
    },
  }),
  withBody({ method: 'POST', path: NODE_PATHS.leases, body: LeaseRequest, foreground: true, handler: async (node, body) => node.calls.lease(body) }),
  withBody({
    method: 'POST',
    path: NODE_PATHS.tags,
    body: TagUpdateRequest,
    foreground: true,
    handler: async (node, body) => {
      await node.store.updateTags(body);
      return {};
    },
  }),
  // Client traffic or a peer's audit, as its calls decide once its body is read: counted by its handler.
  withBody({
    method: 'POST',
    path: NODE_PATHS.batch,
    body: BatchRequest,
    handler: async (node, body, request, reply): Promise<BatchResponse> => {
      if (node.foreground !== undefined && isClientBatch(body)) reply.raw.once('close', node.foreground.begin());
      return node.calls.runBatch(body, request.log, callerGoneSignal(reply));
    },
  }),
];

/** Cluster records a node keeps beside its shards: buckets, users, and keys resealed under a new master key. */
const RECORD_ROUTES: readonly NodeRoute[] = [
  withBody({
    method: 'PUT',
    path: NODE_PATHS.buckets,
    body: BucketRecord,
    handler: async (node, body) => {
      await node.store.putBucket(body);
      return {};
    },
  }),
  { method: 'GET', path: NODE_PATHS.buckets, handler: async (node) => ({ buckets: await node.store.listBuckets() }) },
  {
    method: 'GET',
    path: NODE_PATHS.usage,
    handler: async (node, request) => {
      const bucket = queryOf(request)['bucket'];
      return { buckets: await node.store.bucketUsage(bucket === undefined ? undefined : stringParam({ bucket }, 'bucket')) };
    },
  },
  withBody({
    method: 'PUT',
    path: NODE_PATHS.users,
    body: UserRecord,
    handler: async (node, body) => {
      await node.store.putUser(body);
      return {};
    },
  }),
  { method: 'GET', path: NODE_PATHS.users, handler: async (node) => ({ users: await node.store.listUsers() }) },
  withBody({
    method: 'POST',
    path: NODE_PATHS.reseal,
    body: ResealRequest,
    handler: async (node, body) => {
      await node.store.reseal(body);
      return {};
    },
  }),
];

/** What operators and their tools read: health (open) and Prometheus metrics (behind their own bearer token). */
const OPERATOR_ROUTES: readonly NodeRoute[] = [
  { method: 'GET', path: NODE_PATHS.health, auth: 'open', handler: async (node): Promise<NodeHealth> => node.health() },
  {
    method: 'GET',
    path: NODE_METRICS_PATH,
    auth: 'bearer',
    handler: async (node, request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!bearerAllowed(request.headers.authorization, node.metricsToken)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="tessera metrics"').type('text/plain').send('a bearer token is required\n');
      }
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(await node.metricsText());
    },
  },
];

/**
 * The route table: every route a storage node serves, one row each. Adding a route is adding its row;
 * the node server registers them all, authenticates each request as its row says, and counts the
 * data path's requests as foreground work.
 */
export const NODE_ROUTES: readonly NodeRoute[] = [...DATA_ROUTES, ...RECORD_ROUTES, ...RING_ROUTES, ...HEALING_ROUTES, ...CHANGE_ROUTES, ...OPERATOR_ROUTES];

import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatLogLine, holdResponseEnd, logDestination, logOperationName, redactedTarget, type AccessLogDelivery, type ResponseOutcome } from '../access-log/index.js';
import type { BucketRecords } from '../data-path/index.js';
import { S3Error, type S3Target } from '../s3/index.js';

/** What the S3 route needs to log requests to buckets whose logging is on. */
export interface AccessLogSettings {
  delivery: AccessLogDelivery;
  region: string;
  /** The cluster owner's canonical id: the owner of buckets that record none. */
  ownerId: string;
}

const OBJECT_READS = new Set(['GetObject', 'HeadObject']);
const OBJECT_WRITES = new Set(['PutObject', 'UploadPart', 'PostObject']);

/**
 * Starts the access log of a request whose bucket has logging on: reserves its record (SlowDown when
 * every slot is taken; the refusal is not logged) and holds its response's end until the record is in
 * a durable log object. A bucket that cannot be read, or has logging off, costs the cached lookup only.
 */
export async function startAccessLog(
  request: FastifyRequest,
  reply: FastifyReply,
  scope: { target: S3Target; services: BucketRecords; signal: AbortSignal },
  settings: AccessLogSettings,
): Promise<void> {
  const { target, services } = scope;
  const bucket = target.bucket;
  if (bucket === undefined) return;
  let record;
  try {
    // The request's own signal: a cached record costs no timer, and a node read has its own deadline.
    record = await services.buckets.require(bucket, scope.signal, { anonymous: true });
  } catch (err) {
    // A missing bucket is the route's to answer, after authentication (existence is not told to
    // strangers). Any other failure (the nodes unreachable) is answered now: the route's own lookup
    // would wait for the same nodes a second time before failing the same way.
    if (err instanceof S3Error && err.code === 'NoSuchBucket') return;
    throw err;
  }
  const logging = record.logging;
  if (logging === undefined) return;
  if (!settings.delivery.reserve()) throw new S3Error('SlowDown');
  const startedMs = performance.now() - reply.elapsedTime;
  const arrivedMs = Date.now() - reply.elapsedTime;
  let bodyEndMs = request.raw.complete ? performance.now() : undefined;
  if (bodyEndMs === undefined) request.raw.once('end', () => (bodyEndMs ??= performance.now()));
  const bucketOwnerId = record.owner ?? settings.ownerId;
  const destination = logDestination(logging, { ownerId: bucketOwnerId, region: settings.region, bucket });
  holdResponseEnd(reply.raw, async (outcome) => {
    const line = logLine(request, reply, target, { bucketOwnerId, arrivedMs, startedMs, bodyEndMs: bodyEndMs ?? startedMs }, outcome);
    try {
      await settings.delivery.submit(destination, line, arrivedMs);
      return 'release';
    } catch (err) {
      // A deleted target takes no more records, as in S3: the response is answered without one.
      return (err as { code?: unknown }).code === 'LogTargetGone' ? 'release' : 'cut';
    }
  });
}

function logLine(
  request: FastifyRequest,
  reply: FastifyReply,
  target: S3Target,
  times: { bucketOwnerId: string; arrivedMs: number; startedMs: number; bodyEndMs: number },
  outcome: ResponseOutcome,
): string {
  const socket = request.raw.socket as Partial<TLSSocket>;
  const cipher = typeof socket.getCipher === 'function' ? socket.getCipher().name : undefined;
  const tlsVersion = typeof socket.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined;
  const versionId = text(reply.getHeader('x-amz-version-id')) ?? target.query.get('versionId');
  const signature = signatureOf(request);
  return formatLogLine({
    bucketOwnerId: times.bucketOwnerId,
    bucket: target.bucket ?? '',
    timeMs: times.arrivedMs,
    remoteIp: request.ip,
    requesterId: request.s3Requester,
    requestId: request.id,
    operation: logOperationName(request.s3Operation, request.method, target.key !== undefined),
    key: target.key,
    requestLine: `${request.method} ${redactedTarget(request.raw.url ?? '/')} HTTP/${request.raw.httpVersion}`,
    status: outcome.ended ? reply.raw.statusCode : 500,
    errorCode: request.s3ErrorCode,
    bytesSent: request.method === 'HEAD' ? 0 : outcome.bodyBytes,
    objectSizeBytes: objectSizeOf(request, reply),
    totalTimeMs: outcome.endMs - times.startedMs,
    turnAroundTimeMs: outcome.firstByteMs === undefined ? undefined : outcome.firstByteMs - Math.max(times.bodyEndMs, times.startedMs),
    referrer: text(request.headers.referer),
    userAgent: text(request.headers['user-agent']),
    versionId,
    hostId: text(reply.getHeader('x-amz-id-2')) ?? '',
    signatureVersion: signature?.version,
    cipherSuite: cipher,
    authType: signature?.type,
    hostHeader: text(request.headers.host),
    tlsVersion,
    aclRequired: false,
  });
}

/** The object's size: a read's whole object (Content-Range's total, else the body), a write's body. */
function objectSizeOf(request: FastifyRequest, reply: FastifyReply): number | undefined {
  if (OBJECT_READS.has(request.s3Operation) && reply.raw.statusCode < 300) {
    const range = text(reply.getHeader('content-range'));
    const total = range === undefined ? undefined : Number(range.slice(range.lastIndexOf('/') + 1));
    if (total !== undefined && Number.isSafeInteger(total)) return total;
    const length = Number(text(reply.getHeader('content-length')));
    return Number.isSafeInteger(length) ? length : undefined;
  }
  if (OBJECT_WRITES.has(request.s3Operation)) {
    const declared = Number(text(request.headers['x-amz-decoded-content-length']) ?? text(request.headers['content-length']));
    return Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
  }
  return undefined;
}

/** How the request was signed: SigV2 or SigV4, in a header or a presigned URL; undefined when unsigned. */
function signatureOf(request: FastifyRequest): { version: 'SigV2' | 'SigV4'; type: 'AuthHeader' | 'QueryString' } | undefined {
  const authorization = text(request.headers.authorization);
  if (authorization !== undefined) return { version: authorization.startsWith('AWS4-') ? 'SigV4' : 'SigV2', type: 'AuthHeader' };
  const url = request.raw.url ?? '';
  if (url.includes('X-Amz-Signature=')) return { version: 'SigV4', type: 'QueryString' };
  if (url.includes('Signature=')) return { version: 'SigV2', type: 'QueryString' };
  return undefined;
}

function text(value: unknown): string | undefined {
  if (Array.isArray(value)) return text(value[0]);
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value : undefined;
}

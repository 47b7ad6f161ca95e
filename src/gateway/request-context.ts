import { setMaxListeners } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HybridClock, Logger } from '../common/index.js';
import type { Codec } from '../erasure/index.js';
import type { ErasureParams } from '../rpc/index.js';
import type { AuthResult } from './auth/index.js';
import type { BucketService } from './bucket-service.js';
import type { ClusterView } from './cluster/index.js';
import type { DigestPool } from './digest/index.js';
import { S3Error, type S3Target } from './s3/index.js';
import type { StripePool } from './stripe-pool.js';

/** Everything a handler may use: passed in, never reached through globals. */
export interface GatewayServices {
  cluster: ClusterView;
  buckets: BucketService;
  clock: HybridClock;
  codec: Codec;
  erasure: ErasureParams;
  region: string;
  ownerId: string;
  /** Longest wait for one node's metadata answer. */
  metadataTimeoutMs: number;
  /** Longest silence tolerated from one shard stream before another shard is used. */
  stallTimeoutMs: number;
  logger: Logger;
  /** Worker threads that hash large request bodies; without them, bodies are hashed on the request thread. */
  digestPool?: DigestPool | undefined;
  /** Stripe buffers reused by large writes; without it, each stripe is a fresh allocation. */
  stripePool?: StripePool | undefined;
}

/** One authenticated S3 request on its way through a handler. */
export interface RequestContext {
  request: FastifyRequest;
  reply: FastifyReply;
  target: S3Target;
  auth: AuthResult;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  services: GatewayServices;
}

/** The request's bucket; the router guarantees one for bucket and object operations. */
export function bucketOf(ctx: RequestContext): string {
  if (ctx.target.bucket === undefined) throw new S3Error('InvalidRequest', { message: 'A bucket is required.' });
  return ctx.target.bucket;
}

/** The request's key; the router guarantees one for object operations. */
export function keyOf(ctx: RequestContext): string {
  if (ctx.target.key === undefined) throw new S3Error('InvalidRequest', { message: 'A key is required.' });
  return ctx.target.key;
}

/** `signal` plus a timeout; one listener per node request may be added, so the listener cap is lifted. */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const combined = signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  setMaxListeners(0, combined);
  return combined;
}

/** A signal for one metadata round: the client's signal plus the metadata timeout. */
export function metadataSignal(ctx: RequestContext): AbortSignal {
  return withTimeout(ctx.signal, ctx.services.metadataTimeoutMs);
}

/** A single header value (the first when repeated). */
export function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthResult } from '../auth/index.js';
import type { RequestAccess } from './authorize.js';
import type { BucketAdminDeps, EncryptionDeps, ListPathDeps, ReadPathDeps, RequestScope, UploadLimits, WritePathDeps } from '../data-path/index.js';
import type { AuthDeps } from './auth-deps.js';
import { S3Error, type S3Target } from '../s3/index.js';
import type { ByteBudget } from './byte-budget.js';
import type { SlowClientLimits } from './slow-body.js';

/**
 * Every path's dependencies in one value: what the gateway assembles once at start and hands each
 * request. A function takes its own path's interface (data-path/path-deps.ts, auth-deps.ts), not this.
 */
export interface GatewayDeps extends WritePathDeps, ReadPathDeps, ListPathDeps, BucketAdminDeps, EncryptionDeps, AuthDeps, UploadLimits {}

/**
 * One authenticated S3 request on its way through a handler. `Deps` names what a function uses of the
 * gateway's dependencies (`unknown`: none of them, only the request); the gateway passes them all.
 */
export interface RequestContext<Deps = GatewayDeps> extends RequestScope<Deps> {
  request: FastifyRequest;
  reply: FastifyReply;
  target: S3Target;
  auth: AuthResult;
  /** How slowly the client may send its body before it is cut off (slow-body.ts); unwatched without it. */
  slowClients?: SlowClientLimits | undefined;
  /** The gateway's cap on small bodies held in memory at once (byte-budget.ts); uncapped without it. */
  bodyBudget?: ByteBudget | undefined;
  /** Who sent the request and what the access decision left to check on the object. */
  access: RequestAccess;
}

/**
 * Serves one S3 operation (src/gateway/handlers/); the operation table names one per operation. A
 * handler declares the narrower RequestContext it uses and still fits: it is given every dependency.
 */
export type Handler = (ctx: RequestContext) => Promise<void>;

/** The request's bucket; the router guarantees one for bucket and object operations. */
export function bucketOf(ctx: RequestContext<unknown>): string {
  if (ctx.target.bucket === undefined) throw new S3Error('InvalidRequest', { message: 'A bucket is required.' });
  return ctx.target.bucket;
}

/** The request's key; the router guarantees one for object operations. */
export function keyOf(ctx: RequestContext<unknown>): string {
  if (ctx.target.key === undefined) throw new S3Error('InvalidRequest', { message: 'A key is required.' });
  return ctx.target.key;
}

/** A single header value (the first when repeated). */
export function header(ctx: RequestContext<unknown>, name: string): string | undefined {
  const value = ctx.request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

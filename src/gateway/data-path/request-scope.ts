import { setMaxListeners } from 'node:events';
import type { HybridClock, Logger } from '../../common/index.js';
import type { Codec } from '../../erasure/index.js';
import type { ErasureParams } from '../../rpc/index.js';
import type { ClusterView } from '../cluster/index.js';
import type { DigestPool } from '../digest/index.js';
import type { ObjectOwnership } from '../access/index.js';
import type { BucketService } from './bucket-service.js';
import type { UserDirectory } from './user-directory.js';
import type { StripePool } from './stripe-pool.js';

/** Everything a handler may use: passed in, never reached through globals. */
export interface GatewayServices {
  cluster: ClusterView;
  buckets: BucketService;
  /** The cluster's users and access keys, followed from the nodes. */
  users: UserDirectory;
  clock: HybridClock;
  codec: Codec;
  erasure: ErasureParams;
  region: string;
  /** Object ownership of buckets created without x-amz-object-ownership. */
  objectOwnership: ObjectOwnership;
  /** Canonical id of the administrator (the configured credentials' owner); owner of buckets that name none. */
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

/** What a data-path call needs of the request it serves; a handler passes its RequestContext. */
export interface RequestScope {
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  services: GatewayServices;
}

/** `signal` plus a timeout; one listener per node request may be added, so the listener cap is lifted. */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const combined = signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  setMaxListeners(0, combined);
  return combined;
}

/** A signal for one metadata round: the client's signal plus the metadata timeout. */
export function metadataSignal(ctx: RequestScope): AbortSignal {
  return withTimeout(ctx.signal, ctx.services.metadataTimeoutMs);
}

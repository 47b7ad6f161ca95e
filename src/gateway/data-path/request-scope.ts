import { setMaxListeners } from 'node:events';
import type { HybridClock, Logger } from '../../common/index.js';
import type { Codec } from '../../erasure/index.js';
import type { ErasureParams } from '../../rpc/index.js';
import type { ClusterView } from '../cluster/index.js';
import type { DigestPool } from '../digest/index.js';
import type { ObjectSealer } from '../encryption/index.js';
import type { ObjectOwnership } from '../access/index.js';
import type { BucketService } from './bucket-service.js';
import type { UserDirectory } from './user-directory.js';
import type { StripePool } from './stripe-pool.js';

/**
 * The stages of an object write, in order, as the write-stage figures name them: `prepare` (the body
 * received, encoded and its shards durable on a write quorum), `checks` (the body's digests, the
 * key's lease and any condition) and `commit` (the record on a write quorum).
 */
export const WRITE_STAGES = ['prepare', 'checks', 'commit'] as const;
export type WriteStage = (typeof WRITE_STAGES)[number];

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
  /** SigV4 scope regions accepted besides `region` (`*`: any), and whether SigV2 is (the `auth` settings). */
  auth: { acceptedRegions: readonly string[]; signatureV2: boolean };
  /** Object ownership of buckets created without x-amz-object-ownership. */
  objectOwnership: ObjectOwnership;
  /** Canonical id of the administrator (the configured credentials' owner); owner of buckets that name none. */
  ownerId: string;
  /**
   * Longest wait for one node's metadata answer. It follows the nodes' observed latency (the
   * configured value is its floor), so read it when a call starts rather than keeping a copy.
   */
  readonly metadataTimeoutMs: number;
  /** Longest silence tolerated from one shard stream before another shard is used; follows latency like metadataTimeoutMs. */
  readonly stallTimeoutMs: number;
  /** Smallest multipart part but the last (EntityTooSmall below it). */
  minPartSizeBytes: number;
  logger: Logger;
  /** Worker threads that hash large request bodies; without them, bodies are hashed on the request thread. */
  digestPool?: DigestPool | undefined;
  /** Stripe buffers reused by large writes; without it, each stripe is a fresh allocation. */
  stripePool?: StripePool | undefined;
  /** Seals and opens the data keys of encrypted objects (SSE-S3 needs a master key file, SSE-C does not). */
  sealer: ObjectSealer;
  /** Whether SSE-C keys are accepted over plain HTTP (always over HTTPS). */
  sseCustomerKeysOverHttp: boolean;
  /** Length of a lifecycle rule's "day" (a real day, shortened in tests), for expiry and abort dates. */
  lifecycleDayMs?: number;
  /** Told how long each stage of a successful object write took (the gateway's figures). */
  observeWriteStage?: ((stage: WriteStage, seconds: number) => void) | undefined;
}

/** What a data-path call needs of the request it serves; a handler passes its RequestContext. */
export interface RequestScope {
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  services: GatewayServices;
  /** When the request started (performance.now()): its reads retry slow rounds until a deadline counted from here. */
  startedMs?: number | undefined;
}

/** The reason of every timed-out round: one shared object, so a timer that fires costs no stack capture. */
const TIMED_OUT = new DOMException('The operation was aborted due to timeout', 'TimeoutError');

/**
 * `signal` plus a timeout; one listener per node request may be added, so the listener cap is lifted.
 * Built from one controller and one unreferenced timer rather than AbortSignal.any + AbortSignal.timeout:
 * a profile of small requests showed those (signal bookkeeping for the garbage collector, and a
 * DOMException with a stack trace created when each timer fires, long after its round ended) at about
 * 5% of the gateway thread. The reason on timeout is a TimeoutError, as AbortSignal.timeout gives.
 */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const controller = new AbortController();
  const combined = controller.signal;
  setMaxListeners(0, combined);
  if (signal?.aborted === true) {
    controller.abort(signal.reason);
    return combined;
  }
  const onAbort = (): void => {
    clearTimeout(timer);
    controller.abort(signal?.reason);
  };
  const timer = setTimeout(() => {
    signal?.removeEventListener('abort', onAbort);
    controller.abort(TIMED_OUT);
  }, timeoutMs);
  timer.unref();
  signal?.addEventListener('abort', onAbort, { once: true });
  return combined;
}

/** A signal for one metadata round: the client's signal plus the metadata timeout. */
export function metadataSignal(ctx: RequestScope): AbortSignal {
  return withTimeout(ctx.signal, ctx.services.metadataTimeoutMs);
}

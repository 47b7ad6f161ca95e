import type { HybridClock, Logger } from '../../common/index.js';
import type { Codec } from '../../erasure/index.js';
import type { ErasureParams, IndexWriter } from '../../rpc/index.js';
import type { ObjectOwnership } from '../access/index.js';
import type { ClusterView } from '../cluster/index.js';
import type { DigestPool } from '../digest/index.js';
import type { ObjectSealer } from '../encryption/index.js';
import type { KmsKeyService } from './kms-key-service.js';
import type { BucketService } from './bucket-service.js';
import type { StripePool } from './stripe-pool.js';
import type { UserDirectory } from './user-directory.js';

// What each path of the gateway needs, named per path. A function takes the smallest of these that
// covers what it uses (or a Pick of one); the gateway assembles one value that satisfies them all at
// start and hands it to every request (http/request-context.ts, GatewayDeps).

/**
 * Longest wait for one node's metadata answer. It follows the nodes' observed latency (the configured
 * value is its floor), so a call reads it when it starts rather than keeping a copy: a getter.
 */
export interface MetadataTimeout {
  readonly metadataTimeoutMs: number;
}

/** A round of calls to a key's nodes: the ring in use and how long to wait for each node. */
export interface NodeRounds extends MetadataTimeout {
  cluster: ClusterView;
}

/** Finding a key's versions on its nodes (lookups, listings, uploads): node rounds plus the cluster's erasure layout. */
export interface LookupDeps extends NodeRounds {
  erasure: ErasureParams;
}

/** Hashing request bodies (their digests and checksums). */
export interface BodyDigests {
  /** Worker threads that hash large request bodies; without them, bodies are hashed on the request thread. */
  digestPool?: DigestPool | undefined;
}

/** Lifecycle dates (the expiry and abort dates a response names). */
export interface LifecycleDates {
  /** Length of a lifecycle rule's "day" (a real day, shortened in tests), for expiry and abort dates. */
  lifecycleDayMs?: number;
}

/** The limits of multipart uploads. */
export interface UploadLimits {
  /** Smallest multipart part but the last (EntityTooSmall below it). */
  minPartSizeBytes: number;
}

/** The buckets' records, read through a cache that follows the nodes. */
export interface BucketRecords {
  buckets: BucketService;
}

/** The bucket index's writer (bucket-index.ts): intents before commits, settles after. */
export interface IndexWrites {
  bucketIndex: IndexWriter;
}

/**
 * Writing a metadata-only version (a delete marker, a changed ACL or tag set, a completed upload's
 * record): its bucket's stamp, a shared lease on the key, new version ids, the commit round, and the
 * log for what a write leaves unfinished.
 */
export interface RecordWriteDeps extends LookupDeps, BucketRecords, IndexWrites {
  clock: HybridClock;
  logger: Logger;
}

/**
 * The stages of an object write, in order, as the write-stage figures name them: `prepare` (the body
 * received, encoded and its shards durable on a write quorum), `checks` (the body's digests, the
 * key's lease and any condition) and `commit` (the record on a write quorum).
 */
export const WRITE_STAGES = ['prepare', 'checks', 'commit'] as const;
export type WriteStage = (typeof WRITE_STAGES)[number];

/** The write path (pending-version.ts): receive a body, encode it, make its shards durable, verify it, commit. */
export interface WritePathDeps extends RecordWriteDeps, BodyDigests {
  codec: Codec;
  /** Longest silence tolerated from one shard stream; follows latency like metadataTimeoutMs. */
  readonly stallTimeoutMs: number;
  /** Stripe buffers reused by large writes; without it, each stripe is a fresh allocation. */
  stripePool?: StripePool | undefined;
  /** Told how long each stage of a successful object write took (the gateway's figures). */
  observeWriteStage?: ((stage: WriteStage, seconds: number) => void) | undefined;
}

/** The read path (object-reader.ts): find a version, stream its stripes, open its encryption. */
export interface ReadPathDeps extends LookupDeps {
  codec: Codec;
  /** Longest silence tolerated from one shard stream before another shard is used; follows latency like metadataTimeoutMs. */
  readonly stallTimeoutMs: number;
  /** Seals and opens the data keys of encrypted objects (SSE-S3 and SSE-KMS need a master key file, SSE-C does not). */
  sealer: ObjectSealer;
}

/**
 * Listing a bucket's keys, versions or uploads: the bucket's record, then its index (settling what a
 * listing finds unsettled) or a merge of its nodes' listings.
 */
export interface ListPathDeps extends LookupDeps, BucketRecords, IndexWrites {
  clock: HybridClock;
}

/** Bucket administration: creating buckets and changing their configuration, owners and defaults. */
export interface BucketAdminDeps extends BucketRecords, LifecycleDates {
  /** The cluster's users and access keys, followed from the nodes. */
  users: UserDirectory;
  clock: HybridClock;
  region: string;
  /** Canonical id of the administrator (the configured credentials' owner); owner of buckets that name none. */
  ownerId: string;
  /** Object ownership of buckets created without x-amz-object-ownership. */
  objectOwnership: ObjectOwnership;
}

/** Server-side encryption of what a request stores or reads. */
export interface EncryptionDeps {
  /** Seals and opens the data keys of encrypted objects (SSE-S3 and SSE-KMS need a master key file, SSE-C does not). */
  sealer: ObjectSealer;
  /** Resolves an SSE-KMS write's key before its body is read (and makes the default key). */
  kms: KmsKeyService;
  /** Whether SSE-C keys are accepted over plain HTTP (always over HTTPS). */
  sseCustomerKeysOverHttp: boolean;
}

import { DEFAULTS, HybridClock, TesseraError, isVersionId, type Logger } from '../../common/index.js';
import { createCodec, type Codec, type KernelName } from '../../erasure/index.js';
import type { Ring } from '../../placement/index.js';
import { IndexWriter, writeQuorum, type BucketRecord, type ErasureParams, type LocalLink, type ObjectRecord, type ReplicationOutcome } from '../../rpc/index.js';
import { ClusterView } from '../cluster/index.js';
import { BucketService, openStoredObject, resolveNamedVersion, retrySlowRead, type ListPathDeps, type ReadPathDeps, type ResolvedVersion } from '../data-path/index.js';
import { ObjectSealer, PackageAuthError, resolvePackageCipher, type AesBackendChoice, type MasterKeyring } from '../encryption/index.js';
import { S3Error, storedMetadataHeaders } from '../s3/index.js';
import type { SourceVersion } from './source-version.js';

/** Why a replication source could not read a version; `retryable` says whether a later attempt may succeed. */
export type ReplicationSourceErrorCode =
  /** Too few nodes answered, or the body could not be read from them now. */
  | 'SourceUnavailable'
  /** An SSE-KMS version: replication does not open KMS keys. */
  | 'KmsKeyEncrypted'
  /** An SSE-C version: its key is the customer's, never stored. */
  | 'CustomerKeyRequired'
  /** An SSE-S3 version, and the source holds no master keys or not the one that sealed it. */
  | 'MasterKeyMissing'
  /** The version cannot be read, and trying again will not change that (its body does not open under its key, its bucket is gone). */
  | 'Unreadable'
  /** A part index the version does not have (a delete marker has none). */
  | 'NoSuchPart'
  /** Not a version id the gateway writes. */
  | 'InvalidVersionId';

/** A failure of a replication source read; `retryable` false means no retry can succeed. */
export class ReplicationSourceError extends TesseraError<ReplicationSourceErrorCode> {
  readonly retryable: boolean;

  constructor(code: ReplicationSourceErrorCode, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/** What a process needs to read its own cluster's versions. */
export interface ReplicationSourceOptions {
  /** The ring in use; `setRing` replaces it. */
  ring: Ring;
  /** The ring `ring` replaced, while a rebalance may not have moved every key yet. */
  previousRing?: Ring | undefined;
  clusterSecret: string;
  /**
   * The cluster's erasure layout (the gateways' `erasure` setting): its read quorum decides when a
   * version is known not to exist. Bodies are decoded with the layout each record names.
   */
  erasure: Pick<ErasureParams, 'dataShards' | 'parityShards'>;
  /** The SSE-S3 master keys (readMasterKeyFile); without them an SSE-S3 version's body fails to open (MasterKeyMissing). */
  masterKeys?: MasterKeyring | undefined;
  logger: Logger;
  /** In-process links to nodes of this process, by node id; the caller keeps and closes them. */
  localLinks?: ReadonlyMap<string, LocalLink> | undefined;
  /** Floor of one node's metadata answer (it follows the nodes' latency, as on a gateway). */
  metadataTimeoutMs?: number;
  /** Longest silence of one shard stream before another shard is used. */
  stallTimeoutMs?: number;
  kernel?: KernelName | 'auto';
  aesBackend?: AesBackendChoice;
}

/** Codecs kept for layouts other than the configured one (a cluster rarely has more than one or two). */
const MAX_CODECS = 8;

/**
 * Reads one version of an object from its own cluster, with no S3 server: the record, tags, lock and
 * the decrypted body part by part, through the gateway's data path (named-version lookup, stripe
 * reads, package decryption). What a storage node uses to replicate a version to another bucket.
 */
export class ReplicationSource {
  private readonly cluster: ClusterView;
  private readonly erasure: Pick<ErasureParams, 'dataShards' | 'parityShards'>;
  private readonly masterKeys: MasterKeyring | undefined;
  private readonly logger: Logger;
  private readonly deps: ReadPathDeps;
  private readonly codecs = new Map<string, Codec>();
  private readonly kernel: KernelName | 'auto';
  /** What listing a bucket needs (its record, its index), made on first use: a storage node's delivery never lists. */
  private listing: (ListPathDeps & { bucketIndex: IndexWriter }) | undefined;

  constructor(options: ReplicationSourceOptions) {
    const { erasure } = options;
    this.erasure = { dataShards: erasure.dataShards, parityShards: erasure.parityShards };
    this.checkRing(options.ring);
    this.masterKeys = options.masterKeys;
    this.logger = options.logger.child({ component: 'replication-source' });
    this.kernel = options.kernel ?? DEFAULTS.kernel;
    const aes = resolvePackageCipher(options.aesBackend ?? DEFAULTS.aesBackend);
    if (aes.fallbackReason !== undefined) {
      this.logger.warn({ aesBackend: aes.cipher.backend, reason: aes.fallbackReason }, 'replicated bodies are decrypted with node:crypto: the native AES-GCM addon is unavailable');
    }
    const shards = erasure.dataShards + erasure.parityShards;
    const cluster = new ClusterView(options.ring, {
      clusterSecret: options.clusterSecret,
      quorumFraction: writeQuorum(erasure.dataShards, erasure.parityShards) / shards,
      localLinks: options.localLinks,
    });
    this.cluster = cluster;
    const metadataFloorMs = options.metadataTimeoutMs ?? DEFAULTS.metadataTimeoutMs;
    const stallFloorMs = options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs;
    this.deps = {
      cluster,
      // Lookups use only the shard counts; each body is read with the layout its record names.
      erasure: { ...this.erasure, blockSizeBytes: DEFAULTS.blockSizeBytes },
      codec: this.codecFor(this.erasure),
      sealer: new ObjectSealer({ masterKeys: options.masterKeys, cipher: aes.cipher }),
      get metadataTimeoutMs() {
        return cluster.deadlineMs(metadataFloorMs);
      },
      get stallTimeoutMs() {
        return cluster.deadlineMs(stallFloorMs);
      },
    };
    // Taken at once: the clients it needs are created before the promise (which only closes unused ones) is returned.
    if (options.previousRing !== undefined) void cluster.installPrevious(options.previousRing, options.ring.epoch).catch(() => undefined);
  }

  /**
   * Adopts a newer ring (older or equal epochs are ignored), and the ring it replaced when known;
   * returns whether the ring was adopted. A ring whose sets do not fit the erasure layout is refused.
   */
  async setRing(ring: Ring, previous?: Ring): Promise<boolean> {
    try {
      this.checkRing(ring);
    } catch (err) {
      this.logger.error({ err, epoch: ring.epoch }, 'refusing a ring whose replica count does not match the erasure layout');
      return false;
    }
    const adopted = await this.cluster.update(ring);
    if (previous !== undefined) await this.cluster.installPrevious(previous, ring.epoch);
    return adopted;
  }

  /**
   * Version `versionId` (the internal id a change note's orderId holds, also for a null version) of
   * `bucket`/`key`, delete markers included; undefined when the key has no such version (never had it,
   * or it was deleted by id). Throws a retryable ReplicationSourceError when too few nodes answer.
   */
  async version(bucket: string, key: string, versionId: string, signal: AbortSignal): Promise<SourceVersion | undefined> {
    // `null` names whichever version is the key's null version now: a replica must copy the one the change was about.
    if (!isVersionId(versionId)) throw new ReplicationSourceError('InvalidVersionId', 'not a version id the cluster writes', { retryable: false });
    const { deps } = this;
    let found: ResolvedVersion | null;
    try {
      found = await retrySlowRead({ signal, services: deps }, (round) =>
        resolveNamedVersion(deps.cluster.readSets(bucket, key), bucket, key, versionId, deps.erasure, round),
      );
    } catch (err) {
      throw sourceFailure(err, signal);
    }
    if (found === null) return undefined;
    return this.describe(found);
  }

  /** The bucket's record (its replication configuration); an S3Error NoSuchBucket when there is none. */
  async bucket(name: string, signal: AbortSignal): Promise<BucketRecord> {
    return this.listPath().buckets.require(name, signal);
  }

  /**
   * What listing the bucket's versions reads through: the gateway's list path (bucket records, the
   * bucket index and its settles) on this source's view of the cluster.
   */
  listPath(): ListPathDeps {
    if (this.listing === undefined) {
      const { cluster, erasure } = this.deps;
      const clock = new HybridClock();
      const metadataTimeoutMs = DEFAULTS.metadataTimeoutMs;
      this.listing = {
        cluster,
        erasure,
        clock,
        buckets: new BucketService({ cluster, clock, cacheTtlMs: DEFAULTS.bucketCacheTtlMs, nodeTimeoutMs: metadataTimeoutMs }),
        bucketIndex: new IndexWriter({ timeoutMs: metadataTimeoutMs * 4 }),
        get metadataTimeoutMs() {
          return cluster.deadlineMs(metadataTimeoutMs);
        },
      };
    }
    return this.listing;
  }

  /**
   * Sets the replication status of a version on the nodes of its key (both sets during a rebalance),
   * in place, also where it had none; a replica keeps REPLICA. Throws a retryable
   * ReplicationSourceError unless a write quorum of the current set took it.
   */
  async setStatus(bucket: string, key: string, versionId: string, status: ReplicationOutcome, signal: AbortSignal): Promise<void> {
    const sets = this.cluster.readSets(bucket, key);
    const nodes = [...sets.nodes, ...(sets.previous ?? []).filter((node) => !sets.nodes.includes(node))];
    const timeoutMs = this.deps.metadataTimeoutMs;
    const answers = await Promise.allSettled(
      nodes.map((node) => node.setReplicationStatus({ bucket, key, versionId, status }, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })),
    );
    const taken = answers.slice(0, sets.nodes.length).filter((answer) => answer.status === 'fulfilled').length;
    const needed = writeQuorum(this.erasure.dataShards, this.erasure.parityShards);
    if (taken < needed) {
      const failure = answers.find((answer) => answer.status === 'rejected');
      throw new ReplicationSourceError('SourceUnavailable', `the replication status reached ${taken} of the ${needed} nodes it needs`, { retryable: true, cause: failure?.reason });
    }
  }

  /** Closes the node clients (not the local links, which the caller owns), after the listing's index settles. */
  async close(): Promise<void> {
    await this.listing?.bucketIndex.drain();
    await this.cluster.close();
  }

  private describe(found: ResolvedVersion): SourceVersion {
    const { record } = found;
    const kind = record.encryption?.kind;
    return {
      bucket: record.bucket,
      key: record.key,
      versionId: record.versionId,
      deleteMarker: record.deleted,
      sizeBytes: record.sizeBytes,
      etag: record.etag,
      lastModifiedMs: record.lastModifiedMs,
      ...(record.replicationStatus === undefined ? {} : { replicationStatus: record.replicationStatus }),
      headers: record.deleted ? {} : storedMetadataHeaders(record),
      tags: { ...record.tags },
      ...(record.retention === undefined ? {} : { retention: { mode: record.retention.mode, retainUntilMs: record.retention.retainUntilMs } }),
      ...(record.legalHold === undefined ? {} : { legalHold: record.legalHold }),
      ...(kind === undefined ? {} : { encryption: kind }),
      ...(record.parts === undefined ? {} : { partSizes: record.parts.map((part) => part.sizeBytes) }),
      openPart: (index, signal) => this.openPart(found, index, signal),
    };
  }

  /** Plaintext of part `index` of the version (the whole body of a single-part one), streamed as it is read. */
  private async openPart(found: ResolvedVersion, index: number, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const { record } = found;
    const range = partRange(record, index);
    this.requireKey(record);
    const { deps } = this;
    try {
      const chunks = await openStoredObject(deps, found, range.offsetBytes, range.lengthBytes, {
        codec: this.codecFor(record.erasure),
        signal,
        stallTimeoutMs: deps.stallTimeoutMs,
        logger: this.logger,
        dataKeyOf: (field) => deps.sealer.dataKey(field, { kind: 'SSE-S3' }),
      });
      return failingAsSource(chunks, signal);
    } catch (err) {
      throw sourceFailure(err, signal);
    }
  }

  /** Refuses, before any shard is read, a body whose key the source cannot have. */
  private requireKey(record: ObjectRecord): void {
    const { encryption } = record;
    if (encryption === undefined) return;
    if (encryption.kind === 'SSE-C') {
      throw new ReplicationSourceError('CustomerKeyRequired', 'the version is encrypted with a customer-provided key (SSE-C), which is not stored: it cannot be read', { retryable: false });
    }
    if (encryption.kind === 'SSE-KMS') {
      throw new ReplicationSourceError('KmsKeyEncrypted', 'the version is encrypted with a KMS key (SSE-KMS), which replication does not open', { retryable: false });
    }
    if (this.masterKeys === undefined) {
      throw new ReplicationSourceError('MasterKeyMissing', 'the version is encrypted with SSE-S3 and this process has no master key file', { retryable: false });
    }
    if (this.masterKeys.get(encryption.masterKeyId ?? '') === undefined) {
      throw new ReplicationSourceError('MasterKeyMissing', `the version's data key is sealed under master key ${JSON.stringify(encryption.masterKeyId ?? '')}, which the master key file does not list`, {
        retryable: false,
      });
    }
  }

  private checkRing(ring: Ring): void {
    const { dataShards, parityShards } = this.erasure;
    if (ring.replicas !== dataShards + parityShards) {
      throw new Error(`the ring places ${ring.replicas} shards per object; erasure ${dataShards}+${parityShards} needs ${dataShards + parityShards}`);
    }
  }

  /** The codec of a layout; one per layout, the configured one first. */
  private codecFor(erasure: Pick<ErasureParams, 'dataShards' | 'parityShards'>): Codec {
    const name = `${erasure.dataShards}+${erasure.parityShards}`;
    let codec = this.codecs.get(name);
    if (codec === undefined) {
      // Records name their layout; one that is corrupt must not grow the cache without bound.
      if (this.codecs.size >= MAX_CODECS) this.codecs.clear();
      codec = createCodec({ dataShards: erasure.dataShards, parityShards: erasure.parityShards, kernel: this.kernel });
      this.codecs.set(name, codec);
    }
    return codec;
  }
}

/** Bytes [offset, offset + length) of part `index` within the object. */
function partRange(record: ObjectRecord, index: number): { offsetBytes: number; lengthBytes: number } {
  const noPart = (): ReplicationSourceError => new ReplicationSourceError('NoSuchPart', `the version has no part ${index}`, { retryable: false });
  if (record.deleted || !Number.isInteger(index) || index < 0) throw noPart();
  const { parts } = record;
  if (parts === undefined) {
    if (index !== 0) throw noPart();
    return { offsetBytes: 0, lengthBytes: record.sizeBytes };
  }
  const part = parts[index];
  if (part === undefined) throw noPart();
  let offsetBytes = 0;
  for (let i = 0; i < index; i += 1) offsetBytes += parts[i]?.sizeBytes ?? 0;
  return { offsetBytes, lengthBytes: part.sizeBytes };
}

/** The chunks of a body, a failure while streaming them reported as a source failure. */
async function* failingAsSource(chunks: AsyncGenerator<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  try {
    yield* chunks;
  } catch (err) {
    throw sourceFailure(err, signal);
  }
}

/**
 * A read failure as the replicator handles it: an abort by the caller stays as it is; a body that does
 * not open under its key, or a bucket that is gone, is permanent; anything else (a quorum of nodes not
 * answering, shards unreadable now) may pass, so it is retryable.
 */
function sourceFailure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || err instanceof ReplicationSourceError) return err;
  // S3's 503s are the data path's "not now" (quorumError, a part not readable yet); its other errors are final.
  if (err instanceof PackageAuthError || (err instanceof S3Error && err.status !== 503)) {
    return new ReplicationSourceError('Unreadable', 'the version cannot be read', { retryable: false, cause: err });
  }
  return new ReplicationSourceError('SourceUnavailable', 'the version could not be read from enough nodes now', { retryable: true, cause: err });
}

/** Defaults shared by every role; the schemas below point at these, and code that needs one reads it here. */
export const DEFAULTS = {
  region: 'us-east-1',
  /** New buckets honour ACLs: the tools users run still set them (--acl public-read). */
  objectOwnership: 'ObjectWriter' as 'ObjectWriter' | 'BucketOwnerPreferred' | 'BucketOwnerEnforced',
  /** Loopback by default: exposing the S3 port is a decision, made with `listen`. */
  gatewayListen: '127.0.0.1:9000',
  /** Port of the node protocol; nodes listen on loopback unless told otherwise. */
  nodeListen: '127.0.0.1:9100',
  dataShards: 4,
  parityShards: 2,
  /** 256 KiB blocks: a 4+2 stripe is 1 MiB of body, large enough for throughput, small enough per request. */
  blockSizeBytes: 256 * 1024,
  /** 2^10 partitions, as `tessera ring create` defaults: about 1% balance granularity up to ~100 nodes. */
  partitionBits: 10,
  metadataTimeoutMs: 5_000,
  /** S3's minimum size of every multipart part but the last. */
  minPartSizeBytes: 5 * 1024 * 1024,
  stallTimeoutMs: 10_000,
  /** S3 requests a gateway serves at once, and how many more wait (bodies unread) before SlowDown. */
  maxActiveRequests: 256,
  maxQueuedRequests: 4096,
  /** A client's request headers must arrive within this, and its body must bring slowClientMinBytes per such window. */
  slowClientWindowMs: 20_000,
  slowClientMinBytes: 4096,
  /** A response whose client takes none of its bytes for this long is cut off (S3 also drops connections that make no progress). */
  responseStallTimeoutMs: 60_000,
  /** Request bodies a gateway holds in memory at once: small ones (XML documents, up to 4 MiB each) and signed chunks (up to 16 MiB each) being verified. */
  maxBufferedBodyBytes: 256 * 1024 * 1024,
  /** A pushed ring reaches every gateway within this; each poll is one small GET per asked node. */
  ringPollMs: 5_000,
  kernel: 'auto',
  aesBackend: 'auto',
  logLevel: 'info',
  /**
   * V8 lets the old generation grow by this much past the live heap before a full collection. Its own choice
   * (about 1.1–2x) suits small heaps that allocate slowly; a server streaming shards through a 25 MiB heap
   * then marks the heap over and over (profiled: 30 full collections for 200 MiB of 1 MiB GETs, a quarter
   * of the process's CPU). 300 (4x) cut that to a few, at the price of heaps up to 4x their live size.
   */
  heapGrowthPercent: 300,
  logFormat: 'auto',
  /** Development credentials of the embedded default; printed at start, overridable. */
  devAccessKeyId: 'tessera',
  devSecretAccessKey: 'tessera-dev-secret',
  devNodeCount: 6,
  /** Where `tessera dev` keeps its nodes, and where `tessera admin` looks for them. */
  devDataDir: './data',
  reserveBytes: 64 * 1024 * 1024,
  /**
   * Memory per node for the metadata rows small objects' reads answer from (their committed row and
   * inline shard image): about 35,000 objects of 4 KiB. At 8 MiB, 4 KiB GETs of objects written 4,000
   * PUTs earlier missed it and cost 0.78–1.05 ms of server CPU each against 0.40–0.54 ms at 64 MiB
   * (1,344–1,799 against 2,653–3,501 GETs/s at 16 clients, the embedded default).
   */
  rowCacheBytes: 64 * 1024 * 1024,
  /**
   * Rows a node's LevelDB keeps in memory (and in its log) before writing them to a table file, each
   * node holding up to two such buffers. A small object's rows are written about twice (prepare, commit),
   * and at LevelDB's 4 MiB every row was then rewritten by compactions several times more: 30,000 4 KiB PUTs
   * into the embedded default (after 4,000) cost 499–526 µs of compaction CPU and 115 KiB of disk writes
   * per PUT, against 102–107 µs and 43 KiB at 32 MiB (197 µs and 56 KiB at 16 MiB). Memory: up to 64 MiB
   * per node that takes writes, 384 MiB for the embedded default's six.
   */
  metadataWriteBufferBytes: 32 * 1024 * 1024,
  /**
   * Memory per node for reading and writing shard files past the page cache (storage-node/direct-io.ts),
   * in buffers of 1.0625 MiB: 15 of them, room for about five 64 MiB PUTs and five GETs of such objects at
   * once per node; transfers beyond that go through the page cache. 0 sends every file through it.
   */
  directIoMemoryBytes: 15 * 17 * 65536,
  /** Deep scrub reads at most this fast, and a pass a day is plenty on a full node. */
  scrubBytesPerSecond: 20 * 1024 * 1024,
  scrubIntervalMs: 24 * 60 * 60 * 1000,
  /** Audits compare digests of the partitions a node leads: cheap, so every 10 minutes. */
  auditIntervalMs: 10 * 60 * 1000,
  /** Partitions in flight per audit: enough that a wiped node is found about as fast as repair rebuilds it. */
  auditConcurrency: 8,
  repairBytesPerSecond: 0,
  /** Repairs in flight at once, as the repair worker's DEFAULT_REPAIR_CONCURRENCY. */
  repairConcurrency: 4,
  rebalanceBytesPerSecond: 50 * 1024 * 1024,
  rebalanceIntervalMs: 5_000,
  /** Garbage is collected hourly, at most 500 keys/s (status requests to a key's set for each candidate). */
  gcIntervalMs: 60 * 60 * 1000,
  gcKeysPerSecond: 500,
  /** A day: a prepared write is settled within 15 minutes (DEFAULT_PREPARED_GRACE_MS), and a node down for less than a day still blocks nothing it should. */
  gcTombstoneGraceMs: 24 * 60 * 60 * 1000,
  /** A week, the usual AbortIncompleteMultipartUpload lifecycle setting. */
  gcUploadExpiryMs: 7 * 24 * 60 * 60 * 1000,
  gcSettleMs: 60 * 60 * 1000,
  /** Several gateway ring polls (5 s each by default). */
  rebalanceSettleMs: 30_000,
  /** A lifecycle "day" is a real day; tests shorten it to seconds. */
  lifecycleDaySeconds: 86_400,
  /** Lifecycle rules act on whole days: an hourly pass is prompt enough, at most 500 keys/s. */
  lifecycleIntervalMs: 60 * 60 * 1000,
  lifecycleKeysPerSecond: 500,
  /** A shorter cluster secret is refused: it is the only thing between the network and every shard. */
  minClusterSecretLength: 16,

  // Fixed tuning, not settings: kept here so that every default of the system is in one place.
  /** Keep-alive connections a gateway keeps to each node, and how long an idle one stays open. */
  nodeConnections: 32,
  nodeKeepAliveMs: 30_000,
  /**
   * How long a node may take to start answering, to open a connection, and between two body chunks.
   * The first and last are backstops for a hung connection: the gateway's own deadlines, which follow
   * the nodes' observed latency, decide well before them, so a busy node is waited for, not failed.
   */
  nodeHeadersTimeoutMs: 120_000,
  nodeConnectTimeoutMs: 1_000,
  nodeBodyTimeoutMs: 120_000,
  /** How far a shard write may fall behind the write quorum before it is given up (a hung node). */
  stragglerGraceMs: 3_000,
  /** How long a gateway trusts a bucket lookup (a miss, for unsigned requests) before asking the nodes again. */
  bucketCacheTtlMs: 2_000,
  /** Entries a gateway asks each node for per page of a listing. */
  listPageEntries: 1_000,
  /** Keys the collector reads per step, and how long it waits for a peer's answer. */
  gcKeysPerStep: 32,
  gcPeerTimeoutMs: 5_000,
  /** Pause between a node's passes over its bucket index rows for intents of abandoned writes (an intent stands 30 minutes). */
  indexIntentPassMs: 5 * 60 * 1000,
  /** A bucket index shard holding this many keys is split in two (docs/bucket-index.md, "Growing"). */
  indexSplitKeys: 500_000,
  /** Pause between passes that count index shards' keys and move splits on. */
  indexSplitIntervalMs: 10 * 60_000,
  /** How long each stage of a split waits for gateways to see the one before: well past bucketCacheTtlMs. */
  indexSplitWaitMs: 10_000,
} as const;

import Type, { type Static, type TInteger } from 'typebox';
import { AuthSettings } from './auth-settings.js';
import { DEFAULTS } from './defaults.js';
import { setting } from './setting.js';

/**
 * Every setting of every role, described once. Each is a TypeBox (JSON Schema) type that carries,
 * besides what it accepts, its default, its `TESSERA_*` variable, its flag and its line in the docs
 * table: config-reader.ts loads and validates from these, config-docs.ts prints the table from them,
 * and the types of the parsed configuration derive from them. How a setting describes itself is in
 * setting.ts; the default values the schemas point at are in defaults.ts.
 */

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const DAY_MS = 24 * 60 * 60 * 1000;

/** "host:port" with a port up to 65535 (0 = any free port); IPv6 hosts may be bracketed. */
const LISTEN_PATTERN = '^.+:(?:\\d{1,4}|[0-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d{2}|655[0-2]\\d|6553[0-5])$';

/** "host:port". */
export const Listen = Type.String({ pattern: LISTEN_PATTERN, expected: '"host:port"' });
/** A non-empty string. */
const Text = Type.String({ minLength: 1, expected: 'a non-empty string' });
/** A file path: relative ones in the file resolve against the file's directory, others against the working directory. */
const Path = Type.String({ minLength: 1, expected: 'a non-empty string', path: true });
/** An integer in [min, max]. */
const Int = (minimum: number, maximum: number): TInteger => Type.Integer({ minimum, maximum });
/** A switch: true/false in a file; on/off, true/false, 1/0, yes/no in the environment. */
const Switch = Type.Boolean({ expected: 'on or off (true/false)' });

/** How log lines are written. */
export const LogFormat = Type.Union([Type.Literal('auto'), Type.Literal('pretty'), Type.Literal('json')]);

/** Erasure-coding kernel choice. */
/** S3's object ownership settings (PutBucketOwnershipControls). */
export const ObjectOwnership = Type.Union([Type.Literal('ObjectWriter'), Type.Literal('BucketOwnerPreferred'), Type.Literal('BucketOwnerEnforced')]);

export const KernelChoice = Type.Union([Type.Literal('auto'), Type.Literal('portable'), Type.Literal('wasm-simd')]);
/** AES-256-GCM backend choice of encrypted bodies. */
export const AesBackendChoice = Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('node')]);
/** pino's levels. */
export const LogLevel = Type.Union([
  Type.Literal('fatal'),
  Type.Literal('error'),
  Type.Literal('warn'),
  Type.Literal('info'),
  Type.Literal('debug'),
  Type.Literal('trace'),
  Type.Literal('silent'),
]);

/** One S3 access key as the file gives it: the secret inline or in a file of its own. */
const CredentialEntry = Type.Object(
  { accessKeyId: Text, secretAccessKey: Type.Optional(Text), secretAccessKeyFile: Type.Optional(Path) },
  { additionalProperties: false },
);
/** S3 access keys: a list in the file, in `credentialsFile`, and one from the environment in front. */
export const CredentialList = Type.Array(CredentialEntry, { expected: 'a list of access keys' });

/** A `credentialsFile`, read as if it were a configuration of its own with one key. */
export const CredentialsFile = Type.Object({ credentials: CredentialList }, { additionalProperties: false });

/** A storage node as the gateway's configuration lists it. */
export const ClusterNode = Type.Object(
  {
    id: Text,
    address: Listen,
    zone: setting(Text, { default: 'default' }),
    weight: setting(Int(0, 1_000_000), { default: 1 }),
  },
  { additionalProperties: false },
);

/** The S3 access key the environment adds in front of the file's credentials. */
export const CREDENTIAL_ENV = {
  accessKeyId: 'TESSERA_ACCESS_KEY',
  secretAccessKey: 'TESSERA_SECRET_KEY',
  secretAccessKeyFile: 'TESSERA_SECRET_KEY_FILE',
} as const;

/** The settings shared by both roles. */
const common = {
  clusterSecret: Type.Optional(
    setting(Text, {
      env: 'TESSERA_CLUSTER_SECRET',
      fileForm: 'clusterSecretFile',
      doc: `HMAC key of the node protocol, the same everywhere (at least ${DEFAULTS.minClusterSecretLength} characters)`,
    }),
  ),
  clusterSecretFile: Type.Optional(setting(Path, { env: 'TESSERA_CLUSTER_SECRET_FILE' })),
  logLevel: setting(LogLevel, { env: 'TESSERA_LOG_LEVEL', default: DEFAULTS.logLevel, doc: 'how much the process logs' }),
  heapGrowthPercent: setting(Int(0, 1000), {
    env: 'TESSERA_HEAP_GROWTH_PERCENT',
    default: DEFAULTS.heapGrowthPercent,
    doc: "how far (percent) the JavaScript heap may grow past its live size before a full garbage collection (on Node 24 and later the Buffers held outside the heap count in it too); 0 keeps V8's own choice. Lower it to trade CPU for memory",
  }),
  logFormat: setting(LogFormat, {
    env: 'TESSERA_LOG_FORMAT',
    default: DEFAULTS.logFormat,
    doc: '`pretty`: one readable line per event; `json`: one JSON object per line; `auto`: pretty when stdout is a terminal',
  }),
  metricsToken: Type.Optional(
    setting(Text, { env: 'TESSERA_METRICS_TOKEN', fileForm: 'metricsTokenFile', doc: 'bearer token `GET /metrics` requires; without one it is open' }),
  ),
  metricsTokenFile: Type.Optional(setting(Path, { env: 'TESSERA_METRICS_TOKEN_FILE' })),
  // Gateways scope signatures to it; nodes write it in the event records they deliver and accept target ARNs naming it.
  region: setting(Text, {
    env: 'TESSERA_REGION',
    default: DEFAULTS.region,
    doc: 'S3 region: the one SigV4 signatures must be scoped to (see `auth.acceptedRegions`), and the `awsRegion` of the event notifications nodes deliver; the same on gateways and nodes',
  }),
};

/** The length of a lifecycle "day" in seconds: gateways date expirations with it, nodes apply rules with it; both must agree. */
const lifecycleDay = setting(Int(1, 86_400), {
  env: 'TESSERA_LIFECYCLE_DAY_SECONDS',
  default: DEFAULTS.lifecycleDaySeconds,
  doc: 'length of a lifecycle rule\'s "day" in seconds (86400); shorter only for tests, and the same on gateways and nodes',
});

/** Reed-Solomon layout of new objects. */
export const ErasureSettings = Type.Object(
  {
    dataShards: setting(Int(1, 128), { env: 'TESSERA_DATA_SHARDS', default: DEFAULTS.dataShards, doc: 'data shards of new objects' }),
    parityShards: setting(Int(0, 128), { env: 'TESSERA_PARITY_SHARDS', default: DEFAULTS.parityShards, doc: 'parity shards of new objects; data + parity must equal the ring\'s replicas' }),
    blockSizeBytes: setting(Int(4096, 16 * 1024 * 1024), { env: 'TESSERA_BLOCK_SIZE_BYTES', default: DEFAULTS.blockSizeBytes, doc: 'bytes of one shard\'s block in a stripe' }),
  },
  { additionalProperties: false },
);

/** Everything a gateway's configuration may say. */
export const GatewaySettings = Type.Object(
  {
    listen: setting(Listen, { env: 'TESSERA_LISTEN', flag: '--listen', default: DEFAULTS.gatewayListen, doc: '`host:port` to listen on' }),
    consoleListen: Type.Optional(
      setting(Listen, {
        env: 'TESSERA_CONSOLE_LISTEN',
        flag: '--console-listen',
        defaultDoc: 'no console (`tessera dev`: the port after `listen`)',
        doc: '`host:port` of the web console, an origin of its own apart from the objects S3 serves',
      }),
    ),
    ...common,
    accessLog: setting(Switch, { env: 'TESSERA_ACCESS_LOG', default: false, doc: 'log one line per S3 request: request id, user, operation, bucket, key, status, bytes, duration' }),
    seeds: Type.Optional(
      setting(Type.Array(Listen, { minItems: 1, expected: 'a list of at least one storage node "host:port"', list: true }), {
        env: 'TESSERA_SEEDS',
        doc: 'nodes (`host:port,...`) to fetch the ring from; the gateway then follows newer epochs',
      }),
    ),
    ringFile: Type.Optional(setting(Path, { env: 'TESSERA_RING_FILE', doc: 'or: a ring file to load and watch' })),
    nodes: Type.Optional(setting(Type.Array(ClusterNode, { expected: 'a list of the storage nodes' }), { doc: 'or: a node list, each `{id, address, zone, weight}`, to derive a ring from (small static clusters)' })),
    ringPollMs: setting(Int(100, 3_600_000), { env: 'TESSERA_RING_POLL_MS', default: DEFAULTS.ringPollMs, doc: 'how often to look for a newer ring' }),
    credentials: Type.Optional(
      setting(CredentialList, {
        envDoc: `\`${CREDENTIAL_ENV.accessKeyId}\` + \`${CREDENTIAL_ENV.secretAccessKey}\` / \`${CREDENTIAL_ENV.secretAccessKeyFile}\``,
        doc: 'S3 access keys, each `{accessKeyId, secretAccessKey}` or `{accessKeyId, secretAccessKeyFile}`; the variables add one in front',
      }),
    ),
    credentialsFile: Type.Optional(setting(Path, { env: 'TESSERA_CREDENTIALS_FILE', doc: 'a JSON list of access keys' })),
    erasure: ErasureSettings,
    auth: AuthSettings,
    lifecycleDaySeconds: lifecycleDay,
    objectOwnership: setting(ObjectOwnership, {
      env: 'TESSERA_OBJECT_OWNERSHIP',
      default: DEFAULTS.objectOwnership,
      doc: 'object ownership of a bucket created without x-amz-object-ownership: ObjectWriter (ACLs honoured), BucketOwnerPreferred, or BucketOwnerEnforced (ACLs disabled, AWS\'s default since 2023)',
    }),
    baseDomain: Type.Optional(setting(Text, { env: 'TESSERA_BASE_DOMAIN', doc: 'base domain for virtual-hosted addressing' })),
    metadataTimeoutMs: setting(Int(100, 600_000), {
      env: 'TESSERA_METADATA_TIMEOUT_MS',
      default: DEFAULTS.metadataTimeoutMs,
      doc: 'how long one node may take over a metadata call before the gateway goes on without it; a floor: the gateway waits longer while the nodes answer slowly',
    }),
    bucketCacheTtlMs: setting(Int(0, 600_000), {
      env: 'TESSERA_BUCKET_CACHE_TTL_MS',
      default: DEFAULTS.bucketCacheTtlMs,
      doc: 'how long a gateway trusts a bucket\'s record (its policy, ACL, versioning) before reading it again: a change made through another gateway applies here after at most this long; writes never land in a bucket deleted since, whatever the cache holds. Unsigned requests (anonymous, CORS preflights) are told a bucket is missing from memory for as long; signed ones always ask the nodes',
    }),
    stallTimeoutMs: setting(Int(100, 600_000), {
      env: 'TESSERA_STALL_TIMEOUT_MS',
      default: DEFAULTS.stallTimeoutMs,
      doc: 'how long a shard stream may stall before the gateway goes on without its node; a floor, stretched like metadataTimeoutMs',
    }),
    maxActiveRequests: setting(Int(1, 1_000_000), {
      env: 'TESSERA_MAX_ACTIVE_REQUESTS',
      default: DEFAULTS.maxActiveRequests,
      doc: 'S3 requests served at once; later ones wait their turn',
    }),
    maxQueuedRequests: setting(Int(0, 1_000_000), {
      env: 'TESSERA_MAX_QUEUED_REQUESTS',
      default: DEFAULTS.maxQueuedRequests,
      doc: 'S3 requests that may wait for a turn; past that a request is refused with 503 SlowDown and Retry-After',
    }),
    slowClientWindowMs: setting(Int(100, 3_600_000), {
      env: 'TESSERA_SLOW_CLIENT_WINDOW_MS',
      default: DEFAULTS.slowClientWindowMs,
      doc: 'a client must send its request headers within this, and at least slowClientMinBytes of its body in each such window, or it is cut off',
    }),
    slowClientMinBytes: setting(Int(1, 1 << 30), {
      env: 'TESSERA_SLOW_CLIENT_MIN_BYTES',
      default: DEFAULTS.slowClientMinBytes,
      doc: 'the least body a client must send per slowClientWindowMs',
    }),
    responseStallTimeoutMs: setting(Int(100, 3_600_000), {
      env: 'TESSERA_RESPONSE_STALL_TIMEOUT_MS',
      default: DEFAULTS.responseStallTimeoutMs,
      doc: 'a connection whose client accepts none of the response bytes waiting for it for this long is closed, its request ended; a slow client that keeps reading is never cut',
    }),
    maxBufferedBodyBytes: setting(Int(64 * 1024, 2 ** 40), {
      env: 'TESSERA_MAX_BUFFERED_BODY_BYTES',
      default: DEFAULTS.maxBufferedBodyBytes,
      doc: 'bytes of request bodies held in memory at once: small bodies (XML documents) and signed aws-chunked chunks awaiting their signature; past it a request waits a few seconds for room, then gets 503 SlowDown',
    }),
    minPartSizeBytes: setting(Int(1, 5 * 1024 * 1024 * 1024), {
      env: 'TESSERA_MIN_PART_SIZE_BYTES',
      default: DEFAULTS.minPartSizeBytes,
      doc: 'smallest size of a multipart part other than the last (EntityTooSmall below it); S3 uses 5 MiB',
    }),
    partitionBits: setting(Int(0, 16), { env: 'TESSERA_PARTITION_BITS', default: DEFAULTS.partitionBits, doc: 'partitions (2^bits) of a ring derived from `nodes`' }),
    kernel: setting(KernelChoice, { env: 'TESSERA_EC_KERNEL', default: DEFAULTS.kernel, doc: 'erasure-coding kernel; `auto` takes WebAssembly SIMD where it validates, else the portable one' }),
    aesBackend: setting(AesBackendChoice, {
      env: 'TESSERA_AES_BACKEND',
      default: DEFAULTS.aesBackend,
      doc: 'AES-256-GCM of encrypted bodies; `auto` takes the native addon (`npm run build:native`) where it loads and passes its self-test, else node:crypto; `native` refuses to start without it',
    }),
    sseMasterKeyFile: Type.Optional(
      setting(Path, {
        env: 'TESSERA_SSE_MASTER_KEY_FILE',
        doc: 'master keys of SSE-S3 encryption at rest, one `<id> <base64 of 32 bytes>` a line, the sealing key first; without it a gateway refuses SSE-S3, and a node cannot replicate encrypted objects',
      }),
    ),
    sseCustomerKeysOverHttp: setting(Switch, {
      env: 'TESSERA_SSE_CUSTOMER_KEYS_OVER_HTTP',
      default: false,
      doc: '`on` accepts SSE-C keys over plain HTTP (as S3 does not; the embedded default turns it on for local use)',
    }),
    tls: Type.Optional(
      Type.Object(
        {
          certFile: Type.Optional(setting(Path, { env: 'TESSERA_TLS_CERT_FILE', doc: 'serve HTTPS with this PEM certificate chain (with `tls.keyFile`)' })),
          keyFile: Type.Optional(setting(Path, { env: 'TESSERA_TLS_KEY_FILE', doc: 'the PEM private key of `tls.certFile`' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** Healing settings by kind: a rate (0 = unlimited), a pause between passes, an age, a count of things at once. */
const rate = (env: string, fallback: number, doc: string): TInteger => setting(Int(0, MAX_SAFE), { env, default: fallback, doc });
const pause = (env: string, fallback: number, doc: string): TInteger => setting(Int(10, 7 * DAY_MS), { env, default: fallback, doc });
const age = (env: string, fallback: number, doc: string): TInteger => setting(Int(1, 10 * 365 * DAY_MS), { env, default: fallback, doc });
const count = (env: string, fallback: number, doc: string): TInteger => setting(Int(1, 64), { env, default: fallback, doc });

/** Rates (bytes/s, 0 = unlimited) and pauses of a node's background workers. */
export const HealingSettings = Type.Object(
  {
    /** Deep scrub read rate; 0 = unlimited. */
    scrubBytesPerSecond: rate('TESSERA_SCRUB_BYTES_PER_SECOND', DEFAULTS.scrubBytesPerSecond, 'deep scrub read rate (0: unlimited)'),
    /** Pause between scrub passes. */
    scrubIntervalMs: pause('TESSERA_SCRUB_INTERVAL_MS', DEFAULTS.scrubIntervalMs, 'pause between scrub passes'),
    /** Pause between audit passes. */
    auditIntervalMs: pause('TESSERA_AUDIT_INTERVAL_MS', DEFAULTS.auditIntervalMs, 'pause between audits of the partitions a node leads'),
    /** Partitions an audit checks at once (each a digest request to every member of its set, listings where they differ). */
    auditConcurrency: count('TESSERA_AUDIT_CONCURRENCY', DEFAULTS.auditConcurrency, 'partitions an audit checks at once, each a digest request to every member of its set'),
    /** Rebuild rate of repair; 0 = unlimited. */
    repairBytesPerSecond: rate('TESSERA_REPAIR_BYTES_PER_SECOND', DEFAULTS.repairBytesPerSecond, 'repair rebuild rate (0: unlimited)'),
    /** Repairs in flight at once. Peer connection pools are sized to this plus auditConcurrency. */
    repairConcurrency: count('TESSERA_REPAIR_CONCURRENCY', DEFAULTS.repairConcurrency, 'shards repair rebuilds at once; a node keeps this many connections to each peer, plus the audit\'s'),
    /** Copy rate of rebalance; 0 = unlimited. */
    rebalanceBytesPerSecond: rate('TESSERA_REBALANCE_BYTES_PER_SECOND', DEFAULTS.rebalanceBytesPerSecond, 'rebalance copy rate after a ring change (0: unlimited)'),
    /** How often an idle rebalance looks for a newer ring (or retries what could not move yet). */
    rebalanceIntervalMs: pause('TESSERA_REBALANCE_INTERVAL_MS', DEFAULTS.rebalanceIntervalMs, 'how often an idle node looks for a newer ring or retries moves'),
    /**
     * How long after a ring change gateways may still write under the old ring (they poll for rings):
     * rebalance passes repeat until one starts this long after the change, so such writes move too.
     */
    rebalanceSettleMs: setting(Int(0, DAY_MS), {
      env: 'TESSERA_REBALANCE_SETTLE_MS',
      default: DEFAULTS.rebalanceSettleMs,
      doc: 'how long after a ring change gateways may still write under the old ring; rebalance passes repeat until one starts this late',
    }),
    /**
     * Whether the rebalance worker runs (on by default). Off leaves shards where an older ring put them
     * after a ring change: reads still find them through the previous ring only until the next change.
     */
    rebalance: setting(Switch, {
      env: 'TESSERA_REBALANCE',
      default: true,
      doc: '`off` stops the rebalance worker, which moves shards after a ring change and then deletes the old copies',
    }),
    /** Whether the garbage collector runs (tombstones, parts of ended uploads, orphan and temporary files). */
    gc: setting(Switch, { env: 'TESSERA_GC', default: true, doc: '`off` stops the garbage collector: expired tombstones, parts of ended uploads, orphan and temporary files' }),
    /** Pause between garbage-collection passes. */
    gcIntervalMs: pause('TESSERA_GC_INTERVAL_MS', DEFAULTS.gcIntervalMs, 'pause between garbage-collection passes'),
    /** Keys (and files, in the sweep for orphans) the collector examines per second at most; a key may cost a status request to every member of its set. 0 = unlimited. */
    gcKeysPerSecond: rate('TESSERA_GC_KEYS_PER_SECOND', DEFAULTS.gcKeysPerSecond, 'keys the collector examines per second (0: unlimited)'),
    /**
     * Age a tombstone must reach before it may be dropped: far longer than any write can stay in flight or
     * prepared, so no older version can still arrive and come back from under a vanished tombstone.
     */
    gcTombstoneGraceMs: age(
      'TESSERA_GC_TOMBSTONE_GRACE_MS',
      DEFAULTS.gcTombstoneGraceMs,
      'age before a tombstone may be dropped, once every member of its set holds it, something newer, or nothing',
    ),
    /** Age after which a multipart upload never completed is aborted and its parts collected (S3's AbortIncompleteMultipartUpload habit). */
    gcUploadExpiryMs: age('TESSERA_GC_UPLOAD_EXPIRY_MS', DEFAULTS.gcUploadExpiryMs, 'a multipart upload not completed by this age is aborted and its parts freed'),
    /**
     * How long any single write may still be in flight: shard and temporary files younger than this are
     * never taken for orphans, and parts of an upload closed more recently than this are left alone (a
     * completion racing an expiry abort has committed its manifest by then). Must be below gcTombstoneGraceMs.
     */
    gcSettleMs: age(
      'TESSERA_GC_SETTLE_MS',
      DEFAULTS.gcSettleMs,
      'files younger than this are never orphans, uploads closed more recently keep their parts; must be below the tombstone grace',
    ),
    /** Whether the lifecycle worker applies buckets' lifecycle rules (expirations, noncurrent versions, delete markers, incomplete uploads). */
    lifecycle: setting(Switch, { env: 'TESSERA_LIFECYCLE', default: true, doc: '`off` stops the lifecycle worker, which applies buckets\' lifecycle rules' }),
    /** Pause between lifecycle passes. */
    lifecycleIntervalMs: pause('TESSERA_LIFECYCLE_INTERVAL_MS', DEFAULTS.lifecycleIntervalMs, 'pause between lifecycle passes over the keys a node leads'),
    /** Keys the lifecycle worker examines per second at most; 0 = unlimited. */
    lifecycleKeysPerSecond: rate('TESSERA_LIFECYCLE_KEYS_PER_SECOND', DEFAULTS.lifecycleKeysPerSecond, 'keys the lifecycle worker examines per second (0: unlimited)'),
    /** The length of a lifecycle rule's "day", which must match the gateways' lifecycleDaySeconds. */
    lifecycleDaySeconds: lifecycleDay,
    /** Keys past which a bucket index shard is split (docs/bucket-index.md, "Growing"). */
    indexSplitKeys: setting(Int(2, MAX_SAFE), { env: 'TESSERA_INDEX_SPLIT_KEYS', default: DEFAULTS.indexSplitKeys, doc: 'keys a bucket index shard holds before its leading replica splits it at its median key' }),
    /** Pause between the passes that count index shards' keys and move splits on. */
    indexSplitIntervalMs: pause('TESSERA_INDEX_SPLIT_INTERVAL_MS', DEFAULTS.indexSplitIntervalMs, 'pause between passes that count bucket index shards\' keys and move their splits on'),
    /** How long each stage of an index split waits: longer than any gateway's bucketCacheTtlMs. */
    indexSplitWaitMs: setting(Int(0, DAY_MS), {
      env: 'TESSERA_INDEX_SPLIT_WAIT_MS',
      default: DEFAULTS.indexSplitWaitMs,
      doc: 'how long each stage of a bucket index split waits before the next; must exceed every gateway\'s bucketCacheTtlMs',
    }),
  },
  { additionalProperties: false },
);

/** Everything a storage node's configuration may say. */
export const NodeSettings = Type.Object(
  {
    listen: setting(Listen, { env: 'TESSERA_LISTEN', flag: '--listen', default: DEFAULTS.nodeListen, doc: '`host:port` to listen on' }),
    ...common,
    clusterSecretFile: Type.Optional(setting(Path, { env: 'TESSERA_CLUSTER_SECRET_FILE', flag: '--secret-file' })),
    nodeId: Type.Optional(setting(Text, { env: 'TESSERA_NODE_ID', flag: '--id', defaultDoc: 'its `listen` address', doc: 'the node\'s id (the ring\'s id for it)' })),
    dataDir: Type.Optional(setting(Path, { env: 'TESSERA_DATA_DIR', flag: '--data', doc: 'its data directory (required)' })),
    reserveBytes: setting(Int(0, MAX_SAFE), { env: 'TESSERA_RESERVE_BYTES', default: DEFAULTS.reserveBytes, doc: 'free space the node keeps; writes are refused below it' }),
    rowCacheBytes: setting(Int(0, MAX_SAFE), {
      env: 'TESSERA_ROW_CACHE_BYTES',
      default: DEFAULTS.rowCacheBytes,
      doc: 'memory for the metadata rows of small objects that reads answer from without LevelDB (0: none)',
    }),
    metadataWriteBufferBytes: setting(Int(64 * 1024, 1024 * 1024 * 1024), {
      env: 'TESSERA_METADATA_WRITE_BUFFER_BYTES',
      default: DEFAULTS.metadataWriteBufferBytes,
      doc: "rows LevelDB holds in memory before it writes a table file (up to two such buffers per node); larger means fewer compactions",
    }),
    directIoMemoryBytes: setting(Int(0, MAX_SAFE), {
      env: 'TESSERA_DIRECT_IO_MEMORY_BYTES',
      default: DEFAULTS.directIoMemoryBytes,
      doc: 'memory for reading and writing shard files of large objects past the page cache, in buffers of 1.0625 MiB (0: every file through the page cache)',
    }),
    healing: HealingSettings,
    // Bucket replication: the node that leads a change reads its version from the other nodes, as a gateway does.
    erasure: ErasureSettings,
    sseMasterKeyFile: Type.Optional(
      setting(Path, {
        env: 'TESSERA_SSE_MASTER_KEY_FILE',
        doc: 'master keys of SSE-S3 encryption at rest, one `<id> <base64 of 32 bytes>` a line, the sealing key first; without it a gateway refuses SSE-S3, and a node cannot replicate encrypted objects',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The settings a gateway file holds, once validated (defaults filled in, nothing decoded yet). */
export type GatewaySettings = Static<typeof GatewaySettings>;
/** The settings a node file holds, once validated. */
export type NodeSettings = Static<typeof NodeSettings>;

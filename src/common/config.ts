import {
  ConfigError,
  ConfigReader,
  checkEntryKeys,
  parseChoice,
  parseInteger,
  parseListen,
  parseText,
  type ConfigInput,
  type Env,
  type ListenAddress,
} from './config-reader.js';

/**
 * Typed, validated configuration of each process role, with defaults in one place. Each value comes
 * from the first layer that sets it: a command-line flag, a `TESSERA_*` environment variable, the
 * role's JSON file, then DEFAULTS. The environment is passed in by src/bin, the only code that reads
 * process.env. Secrets may be given as files (`clusterSecretFile`, `TESSERA_CLUSTER_SECRET_FILE`, ...)
 * so orchestrators can mount them.
 */

/** One S3 access key. */
export interface S3Credential {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Reed-Solomon layout of new objects. */
export interface ErasureConfig {
  dataShards: number;
  parityShards: number;
  blockSizeBytes: number;
}

/** A storage node as the gateway's configuration lists it. */
export interface ClusterNodeConfig {
  id: string;
  address: string;
  zone: string;
  weight: number;
}

/** Erasure-coding kernel choice. */
export type KernelChoice = 'auto' | 'portable' | 'wasm-simd';

/** Certificate and private key (PEM files) the gateway serves HTTPS with. */
export interface TlsConfig {
  certFile: string;
  keyFile: string;
}

/** Everything a gateway process needs. */
export interface GatewayConfig {
  listen: ListenAddress;
  region: string;
  baseDomain: string | undefined;
  credentials: S3Credential[];
  clusterSecret: string;
  erasure: ErasureConfig;
  /** Nodes to derive the ring from; empty when `ringFile` or `seeds` give the ring. */
  nodes: ClusterNodeConfig[];
  /** A ring file (tessera ring create); watched, and a newer epoch is adopted at run time. */
  ringFile: string | undefined;
  /** Storage nodes ("host:port") to fetch the current ring from; the gateway then follows newer epochs. */
  seeds: string[];
  /** How often a gateway started from seeds asks nodes for a newer ring epoch. */
  ringPollMs: number;
  partitionBits: number;
  metadataTimeoutMs: number;
  stallTimeoutMs: number;
  kernel: KernelChoice;
  logLevel: LogLevel;
  /** Serve HTTPS instead of HTTP when set. */
  tls: TlsConfig | undefined;
}

/** Everything a storage node process needs. */
export interface NodeConfig {
  nodeId: string;
  dataDir: string;
  listen: ListenAddress;
  clusterSecret: string;
  reserveBytes: number;
  logLevel: LogLevel;
  /** Pacing of the node's background work (scrub, repair, audit, rebalance). */
  healing: NodeHealingConfig;
}

/** Rates (bytes/s, 0 = unlimited) and pauses of a node's background workers. */
export interface NodeHealingConfig {
  /** Deep scrub read rate; 0 = unlimited. */
  scrubBytesPerSecond: number;
  /** Pause between scrub passes. */
  scrubIntervalMs: number;
  /** Pause between audit passes. */
  auditIntervalMs: number;
  /** Partitions an audit checks at once (each a digest request to every member of its set, listings where they differ). */
  auditConcurrency: number;
  /** Rebuild rate of repair; 0 = unlimited. */
  repairBytesPerSecond: number;
  /** Repairs in flight at once. Peer connection pools are sized to this plus auditConcurrency. */
  repairConcurrency: number;
  /** Copy rate of rebalance; 0 = unlimited. */
  rebalanceBytesPerSecond: number;
  /** How often an idle rebalance looks for a newer ring (or retries what could not move yet). */
  rebalanceIntervalMs: number;
  /**
   * How long after a ring change gateways may still write under the old ring (they poll for rings):
   * rebalance passes repeat until one starts this long after the change, so such writes move too.
   */
  rebalanceSettleMs: number;
  /**
   * Whether the rebalance worker runs (on by default). Off leaves shards where an older ring put them
   * after a ring change: reads still find them through the previous ring only until the next change.
   */
  rebalance: boolean;
  /** Whether the garbage collector runs (tombstones, parts of ended uploads, orphan and temporary files). */
  gc: boolean;
  /** Pause between garbage-collection passes. */
  gcIntervalMs: number;
  /** Keys (and files, in the sweep for orphans) the collector examines per second at most; a key may cost a status request to every member of its set. 0 = unlimited. */
  gcKeysPerSecond: number;
  /**
   * Age a tombstone must reach before it may be dropped: far longer than any write can stay in flight or
   * prepared, so no older version can still arrive and come back from under a vanished tombstone.
   */
  gcTombstoneGraceMs: number;
  /** Age after which a multipart upload never completed is aborted and its parts collected (S3's AbortIncompleteMultipartUpload habit). */
  gcUploadExpiryMs: number;
  /**
   * How long any single write may still be in flight: shard and temporary files younger than this are
   * never taken for orphans, and parts of an upload closed more recently than this are left alone (a
   * completion racing an expiry abort has committed its manifest by then). Must be below gcTombstoneGraceMs.
   */
  gcSettleMs: number;
}

/** pino's levels. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Defaults shared by every role. */
export const DEFAULTS = {
  region: 'us-east-1',
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
  stallTimeoutMs: 10_000,
  /** A pushed ring reaches every gateway within this; each poll is one small GET per asked node. */
  ringPollMs: 5_000,
  kernel: 'auto' as KernelChoice,
  logLevel: 'info' as LogLevel,
  /** Development credentials of the embedded default; printed at start, overridable. */
  devAccessKeyId: 'tessera',
  devSecretAccessKey: 'tessera-dev-secret',
  devNodeCount: 6,
  reserveBytes: 64 * 1024 * 1024,
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
  /** A shorter cluster secret is refused: it is the only thing between the network and every shard. */
  minClusterSecretLength: 16,
} as const;

/** File key -> environment variable of the gateway's settings. */
export const GATEWAY_ENV: Readonly<Record<string, string>> = {
  listen: 'TESSERA_LISTEN',
  region: 'TESSERA_REGION',
  baseDomain: 'TESSERA_BASE_DOMAIN',
  clusterSecret: 'TESSERA_CLUSTER_SECRET',
  clusterSecretFile: 'TESSERA_CLUSTER_SECRET_FILE',
  credentialsFile: 'TESSERA_CREDENTIALS_FILE',
  'erasure.dataShards': 'TESSERA_DATA_SHARDS',
  'erasure.parityShards': 'TESSERA_PARITY_SHARDS',
  'erasure.blockSizeBytes': 'TESSERA_BLOCK_SIZE_BYTES',
  ringFile: 'TESSERA_RING_FILE',
  seeds: 'TESSERA_SEEDS',
  ringPollMs: 'TESSERA_RING_POLL_MS',
  partitionBits: 'TESSERA_PARTITION_BITS',
  metadataTimeoutMs: 'TESSERA_METADATA_TIMEOUT_MS',
  stallTimeoutMs: 'TESSERA_STALL_TIMEOUT_MS',
  kernel: 'TESSERA_EC_KERNEL',
  logLevel: 'TESSERA_LOG_LEVEL',
  'tls.certFile': 'TESSERA_TLS_CERT_FILE',
  'tls.keyFile': 'TESSERA_TLS_KEY_FILE',
};

/** The S3 access key the environment adds in front of the file's credentials. */
export const CREDENTIAL_ENV = {
  accessKeyId: 'TESSERA_ACCESS_KEY',
  secretAccessKey: 'TESSERA_SECRET_KEY',
  secretAccessKeyFile: 'TESSERA_SECRET_KEY_FILE',
} as const;

/** File key -> environment variable of a storage node's settings. */
export const NODE_ENV: Readonly<Record<string, string>> = {
  nodeId: 'TESSERA_NODE_ID',
  dataDir: 'TESSERA_DATA_DIR',
  listen: 'TESSERA_LISTEN',
  clusterSecret: 'TESSERA_CLUSTER_SECRET',
  clusterSecretFile: 'TESSERA_CLUSTER_SECRET_FILE',
  reserveBytes: 'TESSERA_RESERVE_BYTES',
  logLevel: 'TESSERA_LOG_LEVEL',
  'healing.scrubBytesPerSecond': 'TESSERA_SCRUB_BYTES_PER_SECOND',
  'healing.scrubIntervalMs': 'TESSERA_SCRUB_INTERVAL_MS',
  'healing.auditIntervalMs': 'TESSERA_AUDIT_INTERVAL_MS',
  'healing.auditConcurrency': 'TESSERA_AUDIT_CONCURRENCY',
  'healing.repairBytesPerSecond': 'TESSERA_REPAIR_BYTES_PER_SECOND',
  'healing.repairConcurrency': 'TESSERA_REPAIR_CONCURRENCY',
  'healing.rebalanceBytesPerSecond': 'TESSERA_REBALANCE_BYTES_PER_SECOND',
  'healing.rebalanceIntervalMs': 'TESSERA_REBALANCE_INTERVAL_MS',
  'healing.rebalanceSettleMs': 'TESSERA_REBALANCE_SETTLE_MS',
  'healing.rebalance': 'TESSERA_REBALANCE',
  'healing.gc': 'TESSERA_GC',
  'healing.gcIntervalMs': 'TESSERA_GC_INTERVAL_MS',
  'healing.gcKeysPerSecond': 'TESSERA_GC_KEYS_PER_SECOND',
  'healing.gcTombstoneGraceMs': 'TESSERA_GC_TOMBSTONE_GRACE_MS',
  'healing.gcUploadExpiryMs': 'TESSERA_GC_UPLOAD_EXPIRY_MS',
  'healing.gcSettleMs': 'TESSERA_GC_SETTLE_MS',
};

/** Every TESSERA_* variable some role reads. */
export function knownEnvVars(): Set<string> {
  return new Set([...Object.values(GATEWAY_ENV), ...Object.values(CREDENTIAL_ENV), ...Object.values(NODE_ENV)]);
}

/**
 * Rejects TESSERA_* variables no role reads: a misspelt override would otherwise be ignored in
 * silence. Variables of the other role are fine, so one environment file can serve both.
 */
export function checkEnvNames(env: Env): void {
  const known = knownEnvVars();
  for (const name of Object.keys(env)) {
    if (name.startsWith('TESSERA_') && env[name] !== undefined && !known.has(name)) {
      throw new ConfigError(`unknown environment variable ${name} (known: ${[...known].sort().join(', ')})`);
    }
  }
}

function clusterSecretOf(reader: ConfigReader): string {
  const secret = reader.secret('clusterSecret');
  if (secret === undefined) throw new ConfigError(`cluster secret is required: ${reader.describe('clusterSecret')} or ${reader.describe('clusterSecretFile')}`);
  if (secret.length < DEFAULTS.minClusterSecretLength) {
    throw new ConfigError(`cluster secret must be at least ${DEFAULTS.minClusterSecretLength} characters (tessera cluster init makes one)`);
  }
  return secret;
}

function credentialsOf(reader: ConfigReader, env: Env): S3Credential[] {
  const credentials: S3Credential[] = [];
  const accessKeyId = env[CREDENTIAL_ENV.accessKeyId];
  const inline = env[CREDENTIAL_ENV.secretAccessKey];
  const file = env[CREDENTIAL_ENV.secretAccessKeyFile];
  if (accessKeyId !== undefined || inline !== undefined || file !== undefined) {
    if (accessKeyId === undefined) throw new ConfigError(`${CREDENTIAL_ENV.accessKeyId} is required with ${CREDENTIAL_ENV.secretAccessKey}(_FILE)`);
    if ((inline === undefined) === (file === undefined)) {
      throw new ConfigError(`${CREDENTIAL_ENV.accessKeyId} needs exactly one of ${CREDENTIAL_ENV.secretAccessKey} or ${CREDENTIAL_ENV.secretAccessKeyFile}`);
    }
    const secretAccessKey = inline ?? reader.readFile(file as string, CREDENTIAL_ENV.secretAccessKeyFile).trim();
    credentials.push({ accessKeyId: parseText(accessKeyId, CREDENTIAL_ENV.accessKeyId), secretAccessKey: parseText(secretAccessKey, CREDENTIAL_ENV.secretAccessKeyFile) });
  }
  const list = (entries: unknown, where: string, relativeTo: (path: string) => string): void => {
    if (!Array.isArray(entries)) throw new ConfigError(`${where} must be a list of access keys`);
    entries.forEach((entry: unknown, i) => {
      // The AWS SDK marks credential objects it has used with `$source`; code that hands the same
      // object to a gateway and to a client (tests, embedders) must not trip the unknown-key check.
      const own = typeof entry === 'object' && entry !== null ? Object.fromEntries(Object.entries(entry).filter(([name]) => !name.startsWith('$'))) : entry;
      const c = checkEntryKeys(own, `${where}[${i}]`, ['accessKeyId', 'secretAccessKey', 'secretAccessKeyFile']);
      const name = `${where}[${i}]`;
      if ((c['secretAccessKey'] === undefined) === (c['secretAccessKeyFile'] === undefined)) {
        throw new ConfigError(`${name} needs exactly one of secretAccessKey or secretAccessKeyFile`);
      }
      const secretAccessKey = c['secretAccessKey'] ?? reader.readFile(relativeTo(parseText(c['secretAccessKeyFile'], `${name}.secretAccessKeyFile`)), `${name}.secretAccessKeyFile`).trim();
      credentials.push({ accessKeyId: parseText(c['accessKeyId'], `${name}.accessKeyId`), secretAccessKey: parseText(secretAccessKey, `${name}.secretAccessKey`) });
    });
  };
  const inFile = reader.raw('credentials');
  if (inFile !== undefined) list(inFile.value, 'credentials', (path) => reader.resolveFromFile(path));
  const credentialsFile = reader.path('credentialsFile');
  if (credentialsFile !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(reader.readFile(credentialsFile, 'credentialsFile'));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`credentialsFile ${credentialsFile}: ${(err as Error).message}`);
    }
    list(parsed, `credentialsFile ${credentialsFile}`, (path) => path);
  }
  if (credentials.length === 0) {
    throw new ConfigError(`credentials must list at least one access key (credentials, credentialsFile, or ${CREDENTIAL_ENV.accessKeyId} with ${CREDENTIAL_ENV.secretAccessKey}(_FILE))`);
  }
  return credentials;
}

function nodesOf(value: unknown, name: string): ClusterNodeConfig[] {
  if (!Array.isArray(value)) throw new ConfigError(`${name} must list the storage nodes`);
  const ids = new Set<string>();
  return value.map((entry: unknown, i) => {
    const n = checkEntryKeys(entry, `${name}[${i}]`, ['id', 'address', 'zone', 'weight']);
    const address = parseText(n['address'], `${name}[${i}].address`);
    parseListen(address, `${name}[${i}].address`);
    const id = parseText(n['id'], `${name}[${i}].id`);
    if (ids.has(id)) throw new ConfigError(`${name}[${i}].id ${JSON.stringify(id)} appears twice`);
    ids.add(id);
    return {
      id,
      address,
      zone: n['zone'] === undefined ? 'default' : parseText(n['zone'], `${name}[${i}].zone`),
      weight: n['weight'] === undefined ? 1 : parseInteger(n['weight'], `${name}[${i}].weight`, 0, 1_000_000),
    };
  });
}

/** Seeds as a list in the file, or comma-separated in TESSERA_SEEDS; each one "host:port". */
function seedsOf(value: unknown, name: string): string[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${name} must list at least one storage node "host:port"`);
  return list.map((seed: unknown, i) => {
    const text = parseText(seed, `${name}[${i}]`);
    parseListen(text, `${name}[${i}]`);
    return text;
  });
}

/** Validates a gateway configuration: file document, environment overrides and flags (see ConfigInput). */
export function parseGatewayConfig(document: unknown, env: Env = {}, input: Omit<ConfigInput, 'document' | 'env'> = {}): GatewayConfig {
  checkEnvNames(env);
  const reader = new ConfigReader({ ...input, document, env }, GATEWAY_ENV);
  const erasure: ErasureConfig = {
    dataShards: reader.value('erasure.dataShards', DEFAULTS.dataShards as number, (v, n) => parseInteger(v, n, 1, 128)),
    parityShards: reader.value('erasure.parityShards', DEFAULTS.parityShards as number, (v, n) => parseInteger(v, n, 0, 128)),
    blockSizeBytes: reader.value('erasure.blockSizeBytes', DEFAULTS.blockSizeBytes as number, (v, n) => parseInteger(v, n, 4096, 16 * 1024 * 1024)),
  };
  const shards = erasure.dataShards + erasure.parityShards;
  if (shards > 255) throw new ConfigError(`erasure.dataShards + erasure.parityShards must be at most 255, got ${shards}`);
  const nodesRaw = reader.raw('nodes');
  const nodes = nodesRaw === undefined ? [] : nodesOf(nodesRaw.value, nodesRaw.name);
  const ringFile = reader.path('ringFile');
  const seeds = reader.value('seeds', [] as string[], seedsOf);
  const sources = [nodes.length > 0 ? 'nodes' : '', ringFile === undefined ? '' : 'ringFile', seeds.length > 0 ? 'seeds' : ''].filter((s) => s !== '');
  if (sources.length > 1) throw new ConfigError(`give one of nodes, ringFile or seeds, not ${sources.join(' and ')}`);
  if (sources.length === 0) throw new ConfigError(`the ring is required: seeds (${GATEWAY_ENV['seeds']}), ringFile (${GATEWAY_ENV['ringFile']}) or nodes`);
  if (nodes.length > 0 && nodes.length < shards) {
    throw new ConfigError(`nodes lists ${nodes.length} nodes; erasure ${erasure.dataShards}+${erasure.parityShards} needs at least ${shards}`);
  }
  const certFile = reader.path('tls.certFile');
  const keyFile = reader.path('tls.keyFile');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('tls needs both certFile and keyFile');
  const config: GatewayConfig = {
    listen: reader.value('listen', parseListen(DEFAULTS.gatewayListen, 'listen'), parseListen),
    region: reader.value('region', DEFAULTS.region as string, parseText),
    baseDomain: reader.value('baseDomain', undefined as string | undefined, parseText),
    credentials: credentialsOf(reader, env),
    clusterSecret: clusterSecretOf(reader),
    erasure,
    nodes,
    ringFile,
    seeds,
    ringPollMs: reader.value('ringPollMs', DEFAULTS.ringPollMs as number, (v, n) => parseInteger(v, n, 100, 3_600_000)),
    partitionBits: reader.value('partitionBits', DEFAULTS.partitionBits as number, (v, n) => parseInteger(v, n, 0, 16)),
    metadataTimeoutMs: reader.value('metadataTimeoutMs', DEFAULTS.metadataTimeoutMs as number, (v, n) => parseInteger(v, n, 100, 600_000)),
    stallTimeoutMs: reader.value('stallTimeoutMs', DEFAULTS.stallTimeoutMs as number, (v, n) => parseInteger(v, n, 100, 600_000)),
    kernel: reader.value('kernel', DEFAULTS.kernel, (v, n) => parseChoice(v, n, ['auto', 'portable', 'wasm-simd'] as const)),
    logLevel: reader.value('logLevel', DEFAULTS.logLevel, (v, n) => parseChoice(v, n, LOG_LEVELS)),
    tls: certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile },
  };
  reader.finish();
  return Object.freeze(config);
}

/** Command-line flags of `tessera node`, by the file key they override. */
export const NODE_FLAGS: Readonly<Record<string, string>> = {
  nodeId: '--id',
  dataDir: '--data',
  listen: '--listen',
  clusterSecretFile: '--secret-file',
};

/** Validates a storage node's configuration: file document, environment overrides and flags. */
export function parseNodeConfig(document: unknown, env: Env = {}, input: Omit<ConfigInput, 'document' | 'env' | 'flagNames'> = {}): NodeConfig {
  checkEnvNames(env);
  const reader = new ConfigReader({ ...input, document, env, flagNames: NODE_FLAGS }, NODE_ENV);
  const listen = reader.value('listen', parseListen(DEFAULTS.nodeListen, 'listen'), parseListen);
  const config: NodeConfig = {
    nodeId: reader.value('nodeId', `${listen.host}:${listen.port}`, parseText),
    dataDir: reader.path('dataDir') ?? (() => {
      throw new ConfigError(`the data directory is required: ${reader.describe('dataDir')}`);
    })(),
    listen,
    clusterSecret: clusterSecretOf(reader),
    reserveBytes: reader.value('reserveBytes', DEFAULTS.reserveBytes as number, (v, n) => parseInteger(v, n, 0, Number.MAX_SAFE_INTEGER)),
    logLevel: reader.value('logLevel', DEFAULTS.logLevel, (v, n) => parseChoice(v, n, LOG_LEVELS)),
    healing: healingConfigOf(reader),
  };
  reader.finish();
  return Object.freeze(config);
}

function healingConfigOf(reader: ConfigReader): NodeHealingConfig {
  const rate = (name: keyof NodeHealingConfig, fallback: number): number =>
    reader.value(`healing.${name}`, fallback, (v, n) => parseInteger(v, n, 0, Number.MAX_SAFE_INTEGER));
  const pause = (name: keyof NodeHealingConfig, fallback: number): number =>
    reader.value(`healing.${name}`, fallback, (v, n) => parseInteger(v, n, 10, 7 * 24 * 60 * 60 * 1000));
  const age = (name: keyof NodeHealingConfig, fallback: number): number =>
    reader.value(`healing.${name}`, fallback, (v, n) => parseInteger(v, n, 1, 10 * 365 * 24 * 60 * 60 * 1000));
  const count = (name: keyof NodeHealingConfig, fallback: number): number => reader.value(`healing.${name}`, fallback, (v, n) => parseInteger(v, n, 1, 64));
  const config: NodeHealingConfig = {
    scrubBytesPerSecond: rate('scrubBytesPerSecond', DEFAULTS.scrubBytesPerSecond),
    scrubIntervalMs: pause('scrubIntervalMs', DEFAULTS.scrubIntervalMs),
    auditIntervalMs: pause('auditIntervalMs', DEFAULTS.auditIntervalMs),
    auditConcurrency: count('auditConcurrency', DEFAULTS.auditConcurrency),
    repairBytesPerSecond: rate('repairBytesPerSecond', DEFAULTS.repairBytesPerSecond),
    repairConcurrency: count('repairConcurrency', DEFAULTS.repairConcurrency),
    rebalanceBytesPerSecond: rate('rebalanceBytesPerSecond', DEFAULTS.rebalanceBytesPerSecond),
    rebalanceIntervalMs: pause('rebalanceIntervalMs', DEFAULTS.rebalanceIntervalMs),
    rebalanceSettleMs: reader.value('healing.rebalanceSettleMs', DEFAULTS.rebalanceSettleMs as number, (v, n) => parseInteger(v, n, 0, 24 * 60 * 60 * 1000)),
    rebalance: reader.value('healing.rebalance', true, parseSwitch),
    gc: reader.value('healing.gc', true, parseSwitch),
    gcIntervalMs: pause('gcIntervalMs', DEFAULTS.gcIntervalMs),
    gcKeysPerSecond: rate('gcKeysPerSecond', DEFAULTS.gcKeysPerSecond),
    gcTombstoneGraceMs: age('gcTombstoneGraceMs', DEFAULTS.gcTombstoneGraceMs),
    gcUploadExpiryMs: age('gcUploadExpiryMs', DEFAULTS.gcUploadExpiryMs),
    gcSettleMs: age('gcSettleMs', DEFAULTS.gcSettleMs),
  };
  checkGcAges(config);
  return config;
}

/** The collector's ages must nest: parts and orphans are judged well before the closing markers and tombstones that explain them vanish. */
export function checkGcAges(config: Pick<NodeHealingConfig, 'gcSettleMs' | 'gcTombstoneGraceMs'>): void {
  if (config.gcSettleMs >= config.gcTombstoneGraceMs) {
    throw new ConfigError(`healing.gcSettleMs (${config.gcSettleMs}) must be below healing.gcTombstoneGraceMs (${config.gcTombstoneGraceMs})`);
  }
}

/** A switch: true/false in a file, or on/off, true/false, 1/0 in the environment. */
function parseSwitch(value: unknown, key: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (['on', 'true', '1', 'yes'].includes(text)) return true;
    if (['off', 'false', '0', 'no'].includes(text)) return false;
  }
  throw new ConfigError(`${key} must be on or off (true/false), got ${JSON.stringify(value)}`);
}

/** A configuration as `tessera config check` prints it: secrets replaced, so the output can be shared. */
export function redactConfig(config: GatewayConfig | NodeConfig): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config, clusterSecret: '[redacted]' };
  if ('credentials' in config) copy['credentials'] = config.credentials.map((c) => ({ accessKeyId: c.accessKeyId, secretAccessKey: '[redacted]' }));
  return copy;
}

export { ConfigError, parseListen, type ListenAddress };

import { TesseraError } from './errors.js';

/**
 * Typed, validated configuration of each process role, with defaults in one place.
 * Values come from a JSON file (gateway) or flags, then `TESSERA_*` environment overrides; the
 * environment is passed in by src/bin, the only code that reads process.env.
 */

/** A configuration value that is missing or wrong; the message names the key. */
export class ConfigError extends TesseraError<'InvalidConfig'> {
  constructor(message: string) {
    super('InvalidConfig', message);
  }
}

/** host:port pair. */
export interface ListenAddress {
  host: string;
  port: number;
}

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

/** Everything a gateway process needs. */
export interface GatewayConfig {
  listen: ListenAddress;
  region: string;
  baseDomain: string | undefined;
  credentials: S3Credential[];
  clusterSecret: string;
  erasure: ErasureConfig;
  /** Nodes to derive the ring from; empty when `ringFile` names the ring. */
  nodes: ClusterNodeConfig[];
  /** A ring file (tessera ring create); watched, and a newer epoch is adopted at run time. */
  ringFile: string | undefined;
  partitionBits: number;
  metadataTimeoutMs: number;
  stallTimeoutMs: number;
  kernel: KernelChoice;
  logLevel: string;
}

/** Everything a storage node process needs. */
export interface NodeConfig {
  nodeId: string;
  dataDir: string;
  listen: ListenAddress;
  clusterSecret: string;
  reserveBytes: number;
  logLevel: string;
}

/** Defaults shared by every role. */
export const DEFAULTS = {
  region: 'us-east-1',
  gatewayListen: '127.0.0.1:9000',
  dataShards: 4,
  parityShards: 2,
  /** 256 KiB blocks: a 4+2 stripe is 1 MiB of body, large enough for throughput, small enough per request. */
  blockSizeBytes: 256 * 1024,
  /** 2^10 partitions, as `tessera ring create` defaults: about 1% balance granularity up to ~100 nodes. */
  partitionBits: 10,
  metadataTimeoutMs: 5_000,
  stallTimeoutMs: 10_000,
  kernel: 'auto' as KernelChoice,
  logLevel: 'info',
  /** Development credentials of the embedded default; printed at start, overridable. */
  devAccessKeyId: 'tessera',
  devSecretAccessKey: 'tessera-dev-secret',
  devNodeCount: 6,
  reserveBytes: 64 * 1024 * 1024,
} as const;

/** Parses "host:port" (port 0 = any free port). */
export function parseListen(value: unknown, key: string): ListenAddress {
  if (typeof value !== 'string') throw new ConfigError(`${key} must be "host:port"`);
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = match === null ? Number.NaN : Number(match[2]);
  if (match === null || port > 65535) throw new ConfigError(`${key} must be "host:port", got ${JSON.stringify(value)}`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

function integer(value: unknown, key: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function text(value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${key} must be a non-empty string`);
  return value;
}

function kernel(value: unknown, key: string): KernelChoice {
  if (value === 'auto' || value === 'portable' || value === 'wasm-simd') return value;
  throw new ConfigError(`${key} must be auto, portable or wasm-simd, got ${JSON.stringify(value)}`);
}

const GATEWAY_KEYS = new Set([
  'listen', 'region', 'baseDomain', 'credentials', 'clusterSecret', 'erasure', 'nodes', 'ringFile', 'partitionBits',
  'metadataTimeoutMs', 'stallTimeoutMs', 'kernel', 'logLevel',
]);

/** Validates a gateway configuration document plus environment overrides. */
export function parseGatewayConfig(document: unknown, env: Record<string, string | undefined> = {}): GatewayConfig {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new ConfigError('configuration must be a JSON object');
  const doc = document as Record<string, unknown>;
  for (const name of Object.keys(doc)) if (!GATEWAY_KEYS.has(name)) throw new ConfigError(`unknown configuration key ${name}`);
  const erasureDoc = (doc['erasure'] ?? {}) as Record<string, unknown>;
  const erasure: ErasureConfig = {
    dataShards: integer(erasureDoc['dataShards'] ?? DEFAULTS.dataShards, 'erasure.dataShards', 1, 128),
    parityShards: integer(erasureDoc['parityShards'] ?? DEFAULTS.parityShards, 'erasure.parityShards', 0, 128),
    blockSizeBytes: integer(erasureDoc['blockSizeBytes'] ?? DEFAULTS.blockSizeBytes, 'erasure.blockSizeBytes', 4096, 16 * 1024 * 1024),
  };
  const credentialsDoc = doc['credentials'];
  if (!Array.isArray(credentialsDoc) || credentialsDoc.length === 0) throw new ConfigError('credentials must list at least one access key');
  const credentials = credentialsDoc.map((entry: unknown, i) => {
    const c = (entry ?? {}) as Record<string, unknown>;
    return { accessKeyId: text(c['accessKeyId'], `credentials[${i}].accessKeyId`), secretAccessKey: text(c['secretAccessKey'], `credentials[${i}].secretAccessKey`) };
  });
  if (env['TESSERA_ACCESS_KEY'] !== undefined && env['TESSERA_SECRET_KEY'] !== undefined) {
    credentials.unshift({ accessKeyId: text(env['TESSERA_ACCESS_KEY'], 'TESSERA_ACCESS_KEY'), secretAccessKey: text(env['TESSERA_SECRET_KEY'], 'TESSERA_SECRET_KEY') });
  }
  const ringFile = doc['ringFile'] === undefined ? undefined : text(doc['ringFile'], 'ringFile');
  const nodesDoc = doc['nodes'] ?? [];
  if (!Array.isArray(nodesDoc)) throw new ConfigError('nodes must list the storage nodes');
  if (ringFile !== undefined && nodesDoc.length > 0) throw new ConfigError('give either nodes or ringFile, not both');
  const nodes = nodesDoc.map((entry: unknown, i) => {
    const n = (entry ?? {}) as Record<string, unknown>;
    const address = text(n['address'], `nodes[${i}].address`);
    parseListen(address, `nodes[${i}].address`);
    return {
      id: text(n['id'], `nodes[${i}].id`),
      address,
      zone: n['zone'] === undefined ? 'default' : text(n['zone'], `nodes[${i}].zone`),
      weight: n['weight'] === undefined ? 1 : integer(n['weight'], `nodes[${i}].weight`, 0, 1_000_000),
    };
  });
  if (ringFile === undefined && nodes.length < erasure.dataShards + erasure.parityShards) {
    throw new ConfigError(`nodes lists ${nodes.length} nodes; erasure ${erasure.dataShards}+${erasure.parityShards} needs at least ${erasure.dataShards + erasure.parityShards}`);
  }
  return Object.freeze({
    listen: parseListen(env['TESSERA_LISTEN'] ?? doc['listen'] ?? DEFAULTS.gatewayListen, 'listen'),
    region: text(env['TESSERA_REGION'] ?? doc['region'] ?? DEFAULTS.region, 'region'),
    baseDomain: doc['baseDomain'] === undefined ? undefined : text(doc['baseDomain'], 'baseDomain'),
    credentials,
    clusterSecret: text(env['TESSERA_CLUSTER_SECRET'] ?? doc['clusterSecret'], 'clusterSecret'),
    erasure,
    nodes,
    ringFile,
    partitionBits: integer(doc['partitionBits'] ?? DEFAULTS.partitionBits, 'partitionBits', 0, 16),
    metadataTimeoutMs: integer(doc['metadataTimeoutMs'] ?? DEFAULTS.metadataTimeoutMs, 'metadataTimeoutMs', 100, 600_000),
    stallTimeoutMs: integer(doc['stallTimeoutMs'] ?? DEFAULTS.stallTimeoutMs, 'stallTimeoutMs', 100, 600_000),
    kernel: kernel(env['TESSERA_EC_KERNEL'] ?? doc['kernel'] ?? DEFAULTS.kernel, 'kernel'),
    logLevel: text(env['TESSERA_LOG_LEVEL'] ?? doc['logLevel'] ?? DEFAULTS.logLevel, 'logLevel'),
  });
}

/** Validates a storage node's settings (from flags) plus environment overrides. */
export function parseNodeConfig(
  options: { nodeId?: string | undefined; dataDir?: string | undefined; listen?: string | undefined; clusterSecret?: string | undefined },
  env: Record<string, string | undefined> = {},
): NodeConfig {
  const listenText = options.listen ?? env['TESSERA_LISTEN'];
  const listen = parseListen(listenText, '--listen');
  return Object.freeze({
    nodeId: text(options.nodeId ?? env['TESSERA_NODE_ID'] ?? `${listen.host}:${listen.port}`, '--id'),
    dataDir: text(options.dataDir ?? env['TESSERA_DATA_DIR'], '--data'),
    listen,
    clusterSecret: text(options.clusterSecret ?? env['TESSERA_CLUSTER_SECRET'], 'cluster secret (--secret-file or TESSERA_CLUSTER_SECRET)'),
    reserveBytes: integer(env['TESSERA_RESERVE_BYTES'] ?? DEFAULTS.reserveBytes, 'TESSERA_RESERVE_BYTES', 0, Number.MAX_SAFE_INTEGER),
    logLevel: text(env['TESSERA_LOG_LEVEL'] ?? DEFAULTS.logLevel, 'TESSERA_LOG_LEVEL'),
  });
}

import type { Static, TObject, TSchema } from 'typebox';
import { ConfigError, ConfigReader, parseListen, type ConfigInput, type Env, type ListenAddress } from './config-reader.js';
import {
  CREDENTIAL_ENV,
  ClusterNode,
  CredentialList,
  CredentialsFile,
  ErasureSettings,
  GatewaySettings,
  AesBackendChoice,
  HealingSettings,
  KernelChoice,
  LogFormat,
  LogLevel,
  NodeSettings,
} from './config-schema.js';
import { DEFAULTS } from './defaults.js';
import { defaultsOf, settingsOf } from './setting.js';
import { SchemaCheck } from './schema-check.js';

/**
 * Typed, validated configuration of each process role. What each role accepts, its defaults, variables
 * and flags are described once, in config-schema.ts; this module adds the rules that span settings
 * (one ring source, k+m against the node list, secrets from files) and decodes the result. Each value
 * comes from the first layer that sets it: a command-line flag, a `TESSERA_*` environment variable, the
 * role's JSON file, then the default. The environment is passed in by src/bin, the only code that reads
 * process.env. Secrets may be given as files (`clusterSecretFile`, `TESSERA_CLUSTER_SECRET_FILE`, ...)
 * so orchestrators can mount them.
 */

/** One S3 access key. */
export interface S3Credential {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Reed-Solomon layout of new objects. */
export type ErasureConfig = Static<typeof ErasureSettings>;

/** A storage node as the gateway's configuration lists it. */
export type ClusterNodeConfig = Static<typeof ClusterNode>;

/** Erasure-coding kernel choice. */
export type KernelChoice = Static<typeof KernelChoice>;

/** AES-256-GCM backend choice of encrypted bodies. */
export type AesBackendChoice = Static<typeof AesBackendChoice>;

/** How log lines are written: pretty, JSON, or pretty on a terminal. */
export type LogFormat = Static<typeof LogFormat>;

/** pino's levels. */
export type LogLevel = Static<typeof LogLevel>;

/** Certificate and private key (PEM files) the gateway serves HTTPS with. */
export type TlsConfig = Required<NonNullable<GatewaySettings['tls']>>;

/** Settings given either inline or as a file, which the parse reads into one value: the file forms are gone from a config. */
type FileForms = 'clusterSecretFile' | 'metricsTokenFile' | 'credentialsFile';

/** What the parse decodes or resolves in both roles; every other setting is passed on as the schema validated it. */
interface ResolvedCommon {
  listen: ListenAddress;
  /** From `clusterSecret` or `clusterSecretFile`, checked for length. */
  clusterSecret: string;
  /** From `metricsToken` or `metricsTokenFile`; undefined: GET /metrics is open. */
  metricsToken: string | undefined;
}

/** What the parse decodes or resolves in a gateway's settings. */
interface ResolvedGateway extends ResolvedCommon {
  /** The environment's access key, then the file's, then those of `credentialsFile`. */
  credentials: S3Credential[];
  /** Nodes to derive the ring from; empty when `ringFile` or `seeds` give the ring. */
  nodes: ClusterNodeConfig[];
  /** Storage nodes ("host:port") to fetch the current ring from; empty when another source gives it. */
  seeds: string[];
  /** Serve HTTPS instead of HTTP when set. */
  tls: TlsConfig | undefined;
  /** Where the web console listens (its own origin); undefined: no console. */
  consoleListen: ListenAddress | undefined;
}

/** What the parse decodes or resolves in a storage node's settings. */
interface ResolvedNode extends ResolvedCommon {
  /** The ring's id for the node: `nodeId`, else its listen address. */
  nodeId: string;
  /** Required of a node. */
  dataDir: string;
}

/**
 * Everything a gateway process needs: its settings as GatewaySettings (config-schema.ts) declares and
 * documents them, with the few in ResolvedGateway decoded.
 */
export type GatewayConfig = Readonly<Omit<GatewaySettings, FileForms | keyof ResolvedGateway> & ResolvedGateway>;

/** Rates (bytes/s, 0 = unlimited) and pauses of a node's background workers; each field is documented in the schema. */
export type NodeHealingConfig = Static<typeof HealingSettings>;

/**
 * Everything a storage node process needs: its settings as NodeSettings (config-schema.ts) declares and
 * documents them, with the few in ResolvedNode decoded.
 */
export type NodeConfig = Readonly<Omit<NodeSettings, FileForms | keyof ResolvedNode> & ResolvedNode>;

/** What the cross-setting rules ask of a role's reader. */
type Reader = Pick<ConfigReader<TObject>, 'secret' | 'describe' | 'readFile'>;

/** The role schemas, compiled on first use and shared by every parse. */
const CHECKS = {
  gateway: new SchemaCheck('gateway configuration', GatewaySettings),
  node: new SchemaCheck('node configuration', NodeSettings),
  credentialsFile: new SchemaCheck('credentials file', CredentialsFile),
};

/** A node's healing settings when nothing sets them. */
export const DEFAULT_HEALING: NodeHealingConfig = Object.freeze(defaultsOf(HealingSettings));

/** File key -> environment variable of a role's settings, read off its schema. */
function envTable(schema: TSchema): Readonly<Record<string, string>> {
  return Object.freeze(Object.fromEntries(settingsOf(schema).flatMap(({ key, node }) => (node.env === undefined ? [] : [[key, node.env]]))));
}

/** File key -> environment variable of the gateway's settings. */
export const GATEWAY_ENV = envTable(GatewaySettings);

/** File key -> environment variable of a storage node's settings. */
export const NODE_ENV = envTable(NodeSettings);

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

function clusterSecretOf(reader: Reader, inline: string | undefined, path: string | undefined): string {
  const secret = reader.secret('clusterSecret', inline, path);
  if (secret === undefined) throw new ConfigError(`cluster secret is required: ${reader.describe('clusterSecret')} or ${reader.describe('clusterSecretFile')}`);
  if (secret.length < DEFAULTS.minClusterSecretLength) {
    throw new ConfigError(`cluster secret must be at least ${DEFAULTS.minClusterSecretLength} characters (tessera cluster init makes one)`);
  }
  return secret;
}

/**
 * Drops the `$`-keys the AWS SDK marks credential objects it has used with: code that hands the same
 * object to a gateway and to a client (tests, embedders) must not trip the unknown-key check.
 */
function withoutSdkMarks(credentials: unknown): unknown {
  if (!Array.isArray(credentials)) return credentials;
  return credentials.map((entry: unknown) =>
    typeof entry === 'object' && entry !== null ? Object.fromEntries(Object.entries(entry).filter(([name]) => !name.startsWith('$'))) : entry,
  );
}

function credentialsOf(reader: Reader, settings: GatewaySettings, env: Env): S3Credential[] {
  const credentials: S3Credential[] = [];
  const accessKeyId = env[CREDENTIAL_ENV.accessKeyId];
  const inline = env[CREDENTIAL_ENV.secretAccessKey];
  const file = env[CREDENTIAL_ENV.secretAccessKeyFile];
  const key = (id: string, secret: string, name: string): void => {
    if (id === '' || secret === '') throw new ConfigError(`${name} must be a non-empty string`);
    credentials.push({ accessKeyId: id, secretAccessKey: secret });
  };
  if (accessKeyId !== undefined || inline !== undefined || file !== undefined) {
    if (accessKeyId === undefined) throw new ConfigError(`${CREDENTIAL_ENV.accessKeyId} is required with ${CREDENTIAL_ENV.secretAccessKey}(_FILE)`);
    if ((inline === undefined) === (file === undefined)) {
      throw new ConfigError(`${CREDENTIAL_ENV.accessKeyId} needs exactly one of ${CREDENTIAL_ENV.secretAccessKey} or ${CREDENTIAL_ENV.secretAccessKeyFile}`);
    }
    key(accessKeyId, inline ?? reader.readFile(file as string, CREDENTIAL_ENV.secretAccessKeyFile).trim(), CREDENTIAL_ENV.secretAccessKeyFile);
  }
  const list = (entries: Static<typeof CredentialList>, where: string): void => {
    entries.forEach((entry, i) => {
      const name = `${where}[${i}]`;
      if ((entry.secretAccessKey === undefined) === (entry.secretAccessKeyFile === undefined)) {
        throw new ConfigError(`${name} needs exactly one of secretAccessKey or secretAccessKeyFile`);
      }
      const secret = entry.secretAccessKey ?? reader.readFile(entry.secretAccessKeyFile as string, `${name}.secretAccessKeyFile`).trim();
      key(entry.accessKeyId, secret, `${name}.secretAccessKey`);
    });
  };
  if (settings.credentials !== undefined) list(settings.credentials, 'credentials');
  if (settings.credentialsFile !== undefined) {
    const where = `credentialsFile ${settings.credentialsFile}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(reader.readFile(settings.credentialsFile, 'credentialsFile'));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${where}: ${(err as Error).message}`);
    }
    try {
      list(new ConfigReader(CHECKS.credentialsFile, { document: { credentials: withoutSdkMarks(parsed) } }).read().credentials, where);
    } catch (err) {
      throw err instanceof ConfigError ? new ConfigError(`${where}: ${err.message}`) : err;
    }
  }
  if (credentials.length === 0) {
    throw new ConfigError(`credentials must list at least one access key (credentials, credentialsFile, or ${CREDENTIAL_ENV.accessKeyId} with ${CREDENTIAL_ENV.secretAccessKey}(_FILE))`);
  }
  return credentials;
}

/** The ring's source: exactly one of nodes (as many as an object has shards), ringFile or seeds. */
function checkRingSource(settings: GatewaySettings, shards: number): void {
  const nodes = settings.nodes ?? [];
  const ids = new Set<string>();
  nodes.forEach((node, i) => {
    if (ids.has(node.id)) throw new ConfigError(`nodes[${i}].id ${JSON.stringify(node.id)} appears twice`);
    ids.add(node.id);
  });
  const seeds = settings.seeds ?? [];
  const sources = [nodes.length > 0 ? 'nodes' : '', settings.ringFile === undefined ? '' : 'ringFile', seeds.length > 0 ? 'seeds' : ''].filter((s) => s !== '');
  if (sources.length > 1) throw new ConfigError(`give one of nodes, ringFile or seeds, not ${sources.join(' and ')}`);
  if (sources.length === 0) throw new ConfigError(`the ring is required: seeds (${GATEWAY_ENV['seeds']}), ringFile (${GATEWAY_ENV['ringFile']}) or nodes`);
  if (nodes.length > 0 && nodes.length < shards) {
    throw new ConfigError(`nodes lists ${nodes.length} nodes; erasure ${settings.erasure.dataShards}+${settings.erasure.parityShards} needs at least ${shards}`);
  }
}

/** Validates a gateway configuration: file document, environment overrides and flags (see ConfigInput). */
export function parseGatewayConfig(document: unknown, env: Env = {}, input: Omit<ConfigInput, 'document' | 'env'> = {}): GatewayConfig {
  checkEnvNames(env);
  const marked = typeof document === 'object' && document !== null && 'credentials' in document;
  const own = marked ? { ...document, credentials: withoutSdkMarks(document.credentials) } : document;
  const reader = new ConfigReader(CHECKS.gateway, { ...input, document: own, env });
  const settings = reader.read();
  const { erasure } = settings;
  const shards = erasure.dataShards + erasure.parityShards;
  if (shards > 255) throw new ConfigError(`erasure.dataShards + erasure.parityShards must be at most 255, got ${shards}`);
  checkRingSource(settings, shards);
  const certFile = settings.tls?.certFile;
  const keyFile = settings.tls?.keyFile;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('tls needs both certFile and keyFile');
  const { clusterSecretFile: _, metricsTokenFile: __, credentialsFile: ___, ...passed } = settings;
  const config: GatewayConfig = {
    ...passed,
    listen: parseListen(settings.listen, 'listen'),
    consoleListen: settings.consoleListen === undefined ? undefined : consoleListenOf(settings.consoleListen, parseListen(settings.listen, 'listen')),
    credentials: credentialsOf(reader, settings, env),
    clusterSecret: clusterSecretOf(reader, settings.clusterSecret, settings.clusterSecretFile),
    metricsToken: reader.secret('metricsToken', settings.metricsToken, settings.metricsTokenFile),
    nodes: settings.nodes ?? [],
    seeds: settings.seeds ?? [],
    tls: certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile },
  };
  return Object.freeze(config);
}

/** Validates a storage node's configuration: file document, environment overrides and flags. */
export function parseNodeConfig(document: unknown, env: Env = {}, input: Omit<ConfigInput, 'document' | 'env'> = {}): NodeConfig {
  checkEnvNames(env);
  const reader = new ConfigReader(CHECKS.node, { ...input, document, env });
  const settings = reader.read();
  const listen = parseListen(settings.listen, 'listen');
  if (settings.dataDir === undefined) throw new ConfigError(`the data directory is required: ${reader.describe('dataDir')}`);
  const { clusterSecretFile: _, metricsTokenFile: __, ...passed } = settings;
  const config: NodeConfig = {
    ...passed,
    nodeId: settings.nodeId ?? `${listen.host}:${listen.port}`,
    dataDir: settings.dataDir,
    listen,
    clusterSecret: clusterSecretOf(reader, settings.clusterSecret, settings.clusterSecretFile),
    metricsToken: reader.secret('metricsToken', settings.metricsToken, settings.metricsTokenFile),
  };
  checkGcAges(config.healing);
  return Object.freeze(config);
}

/** The collector's ages must nest: parts and orphans are judged well before the closing markers and tombstones that explain them vanish. */
export function checkGcAges(config: Pick<NodeHealingConfig, 'gcSettleMs' | 'gcTombstoneGraceMs'>): void {
  if (config.gcSettleMs >= config.gcTombstoneGraceMs) {
    throw new ConfigError(`healing.gcSettleMs (${config.gcSettleMs}) must be below healing.gcTombstoneGraceMs (${config.gcTombstoneGraceMs})`);
  }
}

/** A configuration as `tessera config check` prints it: secrets replaced, so the output can be shared. */
export function redactConfig(config: GatewayConfig | NodeConfig): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config, clusterSecret: '[redacted]', ...(config.metricsToken === undefined ? {} : { metricsToken: '[redacted]' }) };
  if ('credentials' in config) copy['credentials'] = config.credentials.map((c) => ({ accessKeyId: c.accessKeyId, secretAccessKey: '[redacted]' }));
  return copy;
}

export { ConfigError, CREDENTIAL_ENV, DEFAULTS, parseListen, type ListenAddress };

/** The console's address: any port but the S3 listener's own, so the two are always two origins. */
function consoleListenOf(text: string, s3: ListenAddress): ListenAddress {
  const address = parseListen(text, 'consoleListen');
  if (address.port !== 0 && address.port === s3.port) throw new ConfigError(`consoleListen must be another port than listen's (${s3.port}): the console is an origin of its own`);
  return address;
}

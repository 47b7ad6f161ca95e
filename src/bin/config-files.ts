import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  GatewaySettings,
  SecretFileError,
  parseGatewayConfig,
  parseNodeConfig,
  readSecretFile,
  type Env,
  type GatewayConfig,
  type NodeConfig,
} from '../common/index.js';

/** A process role that has a configuration. */
export type Role = 'gateway' | 'node';

/** A configuration file, parsed but not yet validated. */
export interface ConfigFile {
  path: string;
  document: unknown;
  /** Relative paths inside the file are relative to its directory. */
  baseDir: string;
}

/** Reads a JSON configuration file; a syntax error names the file. */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  const absolute = resolve(path);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  try {
    return { path, document: JSON.parse(text), baseDir: dirname(absolute) };
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
}

/** The role a file configures, when not given: a node file names its data directory, a gateway file does not. */
export function inferRole(document: unknown): Role {
  const doc = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  return 'dataDir' in doc || 'nodeId' in doc ? 'node' : 'gateway';
}

/** Prefixes a configuration error with the file it came from, so the operator knows where to look. */
function inFile<T>(file: ConfigFile | undefined, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (file !== undefined && err instanceof ConfigError) throw new ConfigError(`${file.path}: ${err.message}`);
    throw err;
  }
}

/** The gateway configuration from an optional file, the environment and flags. */
export function gatewayConfigFrom(file: ConfigFile | undefined, env: Env, flags: Record<string, string | undefined> = {}): GatewayConfig {
  return inFile(file, () => parseGatewayConfig(file?.document ?? {}, env, { flags, ...(file === undefined ? {} : { baseDir: file.baseDir }) }));
}

/** The storage node configuration from an optional file, the environment and flags. */
export function nodeConfigFrom(file: ConfigFile | undefined, env: Env, flags: Record<string, string | undefined> = {}): NodeConfig {
  return inFile(file, () => parseNodeConfig(file?.document ?? {}, env, { flags, ...(file === undefined ? {} : { baseDir: file.baseDir }) }));
}

/**
 * The cluster secret for operator commands (`ring push`, `cluster init --push`): from a secret file,
 * else from a gateway or node configuration file, else from TESSERA_CLUSTER_SECRET(_FILE).
 */
export async function operatorSecret(
  options: { secretFile?: string | undefined; config?: string | undefined },
  env: Env,
  label = '--secret-file',
): Promise<{ secret: string; seeds: string[] }> {
  if (options.secretFile !== undefined) {
    const secret = (await readSecretFile(options.secretFile, label).catch((err: Error) => {
      throw err instanceof SecretFileError ? err : new ConfigError(`${label} ${options.secretFile}: ${err.message}`);
    })).trim();
    if (secret === '') throw new ConfigError(`${label} ${options.secretFile} is empty`);
    return { secret, seeds: [] };
  }
  if (options.config !== undefined) {
    const file = await readConfigFile(options.config);
    if (inferRole(file.document) === 'node') return { secret: nodeConfigFrom(file, env).clusterSecret, seeds: [] };
    const config = gatewayConfigFrom(file, env);
    return { secret: config.clusterSecret, seeds: [...config.seeds, ...config.nodes.map((node) => node.address)] };
  }
  const inline = env[GatewaySettings.properties.clusterSecret.env];
  const path = env[GatewaySettings.properties.clusterSecretFile.env];
  if (inline !== undefined) return { secret: inline, seeds: [] };
  if (path !== undefined) return operatorSecret({ secretFile: path }, {}, GatewaySettings.properties.clusterSecretFile.env);
  throw new ConfigError('the cluster secret is required: --config FILE, --secret-file FILE, or TESSERA_CLUSTER_SECRET(_FILE)');
}

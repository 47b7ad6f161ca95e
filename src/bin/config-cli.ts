import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { ConfigError, SecretFileError, TesseraError, readSecretFile, redactConfig, type Env, type GatewayConfig } from '../common/index.js';
import { readMasterKeyFile } from '../gateway/index.js';
import { parseRing } from '../placement/index.js';
import { gatewayConfigFrom, inferRole, nodeConfigFrom, readConfigFile, type Role } from './config-files.js';
import type { CliIo } from './cluster-cli.js';
import { CONFIG_USAGE } from './help.js';

/** Checks what parsing alone cannot: that the ring file and the TLS pair a gateway names load. */
async function checkGatewayFiles(config: GatewayConfig): Promise<void> {
  if (config.ringFile !== undefined) {
    let ring;
    try {
      ring = parseRing(await readFile(config.ringFile, 'utf8'));
    } catch (err) {
      throw new ConfigError(`ringFile ${config.ringFile}: ${(err as Error).message}`);
    }
    const shards = config.erasure.dataShards + config.erasure.parityShards;
    if (ring.replicas !== shards) throw new ConfigError(`ringFile ${config.ringFile} places ${ring.replicas} shards; erasure needs ${shards}`);
  }
  if (config.sseMasterKeyFile !== undefined) {
    try {
      await readMasterKeyFile(config.sseMasterKeyFile);
    } catch (err) {
      if (err instanceof SecretFileError) throw err;
      throw new ConfigError(`sseMasterKeyFile ${config.sseMasterKeyFile}: ${(err as Error).message}`);
    }
  }
  if (config.tls !== undefined) {
    try {
      createSecureContext({ cert: await readFile(config.tls.certFile), key: await readSecretFile(config.tls.keyFile, 'TLS key file') });
    } catch (err) {
      if (err instanceof SecretFileError) throw err;
      throw new ConfigError(`tls: ${config.tls.certFile} / ${config.tls.keyFile}: ${(err as Error).message}`);
    }
  }
}

async function check(args: string[], env: Env, io: CliIo): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { role: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length > 1) throw new ConfigError('check takes at most one FILE');
  const file = positionals[0] === undefined ? undefined : await readConfigFile(positionals[0]);
  if (values.role !== undefined && values.role !== 'gateway' && values.role !== 'node') throw new ConfigError(`--role must be gateway or node, got ${JSON.stringify(values.role)}`);
  const role: Role = (values.role as Role | undefined) ?? (file === undefined ? 'gateway' : inferRole(file.document));
  const where = file?.path ?? 'environment';
  if (role === 'gateway') {
    const config = gatewayConfigFrom(file, env);
    await checkGatewayFiles(config);
    io.stdout(`${where}: valid gateway configuration\n${JSON.stringify(redactConfig(config), null, 2)}\n`);
  } else {
    const config = nodeConfigFrom(file, env);
    io.stdout(`${where}: valid node configuration\n${JSON.stringify(redactConfig(config), null, 2)}\n`);
  }
}

/** `tessera config check`: 0 when valid, 1 when not (the message names the key), 2 on a usage error. */
export async function runConfigCli(args: string[], env: Env, io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'check') {
    const help = command === '--help' || command === '-h';
    io[help ? 'stdout' : 'stderr'](help ? CONFIG_USAGE : `tessera config: ${command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`}\n${CONFIG_USAGE}`);
    return help ? 0 : 2;
  }
  try {
    await check(rest, env, io);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      io.stderr(`tessera config check: ${(err as Error).message}\n${CONFIG_USAGE}`);
      return 2;
    }
    if (err instanceof TesseraError) {
      io.stderr(`tessera config check: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

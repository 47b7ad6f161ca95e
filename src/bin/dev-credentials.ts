import { BlockList, isIP } from 'node:net';
import { CREDENTIAL_ENV, ConfigError, DEFAULTS, GatewaySettings, type Env, type ListenAddress, type S3Credential } from '../common/index.js';

/** Variables that give `tessera dev` S3 credentials of the operator's own. */
const OWN_CREDENTIAL_ENV = [...Object.values(CREDENTIAL_ENV), GatewaySettings.properties.credentialsFile.env] as const;

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True when only this machine can reach `host`: 127.0.0.0/8, ::1 (in any spelling, and IPv4-mapped
 * loopback) or localhost. The wildcard addresses (0.0.0.0, ::) and every other name are not.
 */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 0) return false;
  return LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** True when the environment gives S3 credentials (an access key and its secret, or a credentials file). */
export function givesOwnCredentials(env: Env): boolean {
  return OWN_CREDENTIAL_ENV.some((name) => env[name] !== undefined);
}

/**
 * The credentials `tessera dev` starts with: undefined when the environment gives the operator's own
 * (the gateway's configuration reads them as any gateway's would), else the development pair, which
 * every copy of Tessera shares and prints; so these are refused on an address other machines can reach.
 */
export function devCredentials(env: Env, listen: ListenAddress): S3Credential[] | undefined {
  if (givesOwnCredentials(env)) return undefined;
  if (!isLoopbackHost(listen.host)) {
    const address = listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
    throw new ConfigError(
      `refusing to listen on ${address} with the development credentials (access key ${DEFAULTS.devAccessKeyId}), which anyone who reaches it could use. ` +
        `Give credentials of your own: ${CREDENTIAL_ENV.accessKeyId} with ${CREDENTIAL_ENV.secretAccessKey} or ${CREDENTIAL_ENV.secretAccessKeyFile}, ` +
        `or ${GatewaySettings.properties.credentialsFile.env}; or listen on loopback (127.0.0.1:${listen.port})`,
    );
  }
  return [{ accessKeyId: DEFAULTS.devAccessKeyId, secretAccessKey: DEFAULTS.devSecretAccessKey }];
}

/** The file the first credential's secret came from, when it came from one (so it is not printed). */
export function secretSourceFile(env: Env): string | undefined {
  if (env[CREDENTIAL_ENV.accessKeyId] !== undefined) return env[CREDENTIAL_ENV.secretAccessKeyFile];
  return env[GatewaySettings.properties.credentialsFile.env];
}

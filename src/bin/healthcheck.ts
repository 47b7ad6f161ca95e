import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DEFAULTS, GatewaySettings, parseListen, type Env } from '../common/index.js';
import { GATEWAY_HEALTH_PATHS } from '../gateway/index.js';
import { NODE_PATHS } from '../rpc/index.js';
import type { CliIo } from './cluster-cli.js';

const TIMEOUT_MS = 3_000;

/** GET `url`; the status and body, or an error message. TLS is not verified: this asks the local process about itself. */
async function get(url: URL): Promise<{ status: number; body: string } | { error: string }> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: TIMEOUT_MS, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk.slice(0, 4096);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
}

function loopbackFor(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * `tessera healthcheck [URL]`: exit 0 when the local Tessera process is healthy, for container
 * HEALTHCHECKs that cannot carry curl. Without URL it asks the port TESSERA_LISTEN names (or both
 * default ports) on loopback: a storage node's GET /health, then a gateway's readiness path
 * (https when TESSERA_TLS_CERT_FILE is set). One image serves both roles, so the check finds out which.
 */
export async function runHealthcheck(args: string[], env: Env, io: CliIo): Promise<number> {
  const urls: URL[] = [];
  if (args[0] !== undefined) {
    urls.push(new URL(args[0]));
  } else {
    const { listen: listenSetting, tls } = GatewaySettings.properties;
    const scheme = env[tls.properties.certFile.env] === undefined ? 'http' : 'https';
    const fromEnv = env[listenSetting.env];
    const listens = fromEnv === undefined ? [DEFAULTS.nodeListen, DEFAULTS.gatewayListen] : [fromEnv];
    for (const listen of listens) {
      const { host, port } = parseListen(listen, listenSetting.env);
      const base = `${scheme}://${loopbackFor(host)}:${port}`;
      urls.push(new URL(NODE_PATHS.health, `http://${loopbackFor(host)}:${port}`), new URL(GATEWAY_HEALTH_PATHS.ready, base));
    }
  }
  const problems: string[] = [];
  for (const url of urls) {
    const answer = await get(url);
    if ('error' in answer) {
      problems.push(`${url.href}: ${answer.error}`);
      continue;
    }
    // A gateway answers /health as S3 (an error for bucket "health"); only a node's own healthy report counts.
    const isNodeReport = url.pathname !== NODE_PATHS.health || (answer.body.includes('"nodeId"') && answer.body.includes('"status":"ok"'));
    if (answer.status === 200 && isNodeReport) {
      io.stdout(`${url.href}: ${answer.body.trim()}\n`);
      return 0;
    }
    problems.push(`${url.href}: HTTP ${answer.status} ${answer.body.slice(0, 200).trim()}`);
  }
  io.stderr(`unhealthy:\n${problems.join('\n')}\n`);
  return 1;
}

import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { GATEWAY_HEALTH_PATHS } from '../../src/gateway/index.js';
import { ChildServer } from './child-server.js';
import { READY_PREFIX } from './child-main.js';
import { S3BenchClient } from './s3-bench-client.js';

/** The servers every case runs against: tessera, the null server (the ceiling) and the peers s3rver and Ceph RGW. */
export type TargetName = 'tessera' | 'null' | 's3rver' | 'rgw';

/** A server under test: its processes (for CPU), where it listens and how to sign for it, and the client that loads it. */
export interface Target {
  name: TargetName;
  /** What it is, for the preamble. */
  description: string;
  /** The processes whose trees are the server's CPU: one child of this bench, or a peer's several daemons. */
  pids: readonly number[];
  /** Stops the server's processes by PID. */
  stop: () => Promise<void>;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  client: S3BenchClient;
  /** The AES-256-GCM backend encrypted bodies ran on, as the gateway logged it (tessera only). */
  aesBackend?: string;
}

/** The build `npm start` runs (`npm run bench` builds first): tsx would add its loader thread and heap to every isolate. */
export const TESSERA_BIN = fileURLToPath(new URL('../../dist/bin/tessera.js', import.meta.url));
const NULL_SERVER_MAIN = fileURLToPath(new URL('./null-server-main.ts', import.meta.url));
const S3RVER_MAIN = fileURLToPath(new URL('./s3rver-main.ts', import.meta.url));
/** The peers' mains are TypeScript, loaded through tsx as `npm run bench` itself is. */
const NODE_ARGS = ['--import', 'tsx'] as const;
/** A first start compiles with tsx on a possibly loaded 2-core machine. */
const START_TIMEOUT_MS = 120_000;
/** s3rver's fixed credentials (it checks SigV4 signatures against them). */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Client settings shared by every target: same pool size and timeouts, so only the server differs. */
export interface ClientSettings {
  connections: number;
  timeoutMs: number;
}

/**
 * Starts the embedded default, as `npm start` runs it (`tessera dev`, from this checkout's build or the entry point
 * `bin` of another, run by the `node` binary given or this one), on `port` with its data in `dataDir`, and waits
 * until its gateway reports ready. Reads endpoint and credentials from the banner it prints, and erasure settings
 * from its startup log when present.
 */
export async function startTessera(dataDir: string, port: number, settings: ClientSettings, bin = TESSERA_BIN, node = process.execPath): Promise<Target> {
  const banner: Record<string, string> = {};
  let layout = 'erasure settings not logged';
  let aesBackend = 'not logged';
  let ringNodes = '?';
  const { server } = await ChildServer.start({
    name: 'tessera dev',
    command: node,
    args: [bin, 'dev', '--data', dataDir, '--listen', `127.0.0.1:${port}`],
    timeoutMs: START_TIMEOUT_MS,
    ready: (line) => {
      const field = /^\s+(endpoint|access key|secret key):\s+(\S+)$/.exec(line);
      if (field !== null) banner[field[1] as string] = field[2] as string;
      const listening = gatewayLayout(line);
      if (listening !== undefined) layout = listening.layout;
      if (listening?.aesBackend !== undefined) aesBackend = listening.aesBackend;
      return banner['endpoint'] !== undefined && banner['access key'] !== undefined && banner['secret key'] !== undefined ? true : undefined;
    },
    check: async () => {
      const health = await waitUntilReady(`http://127.0.0.1:${port}${GATEWAY_HEALTH_PATHS.ready}`, START_TIMEOUT_MS);
      if (typeof health['ringNodes'] === 'number') ringNodes = String(health['ringNodes']);
    },
  });
  const endpoint = banner['endpoint'] as string;
  const credentials = { accessKeyId: banner['access key'] as string, secretAccessKey: banner['secret key'] as string };
  return {
    name: 'tessera',
    description: `tessera dev (1 gateway + ${ringNodes} storage nodes, ${layout}), pid ${server.pid}`,
    pids: [server.pid],
    stop: () => server.stop(),
    endpoint,
    ...credentials,
    client: new S3BenchClient({ endpoint, ...credentials, ...settings }),
    aesBackend,
  };
}

/** Starts the Fastify null server (see null-server.ts) in a child process. */
export async function startNullServer(settings: ClientSettings): Promise<Target> {
  const { server, value: endpoint } = await ChildServer.start({
    name: 'null server',
    args: [...NODE_ARGS, NULL_SERVER_MAIN, '--port', '0'],
    timeoutMs: START_TIMEOUT_MS,
    ready: readyEndpoint,
  });
  const credentials = { accessKeyId: 'null', secretAccessKey: 'null' };
  return {
    name: 'null',
    description: `null server (bare Fastify: PUT bodies discarded, GETs from memory), pid ${server.pid}`,
    pids: [server.pid],
    stop: () => server.stop(),
    endpoint,
    ...credentials,
    client: new S3BenchClient({ endpoint, ...credentials, ...settings }),
  };
}

/** Starts s3rver with its file store in `dataDir` in a child process. */
export async function startS3rver(dataDir: string, version: string, settings: ClientSettings): Promise<Target> {
  const { server, value: endpoint } = await ChildServer.start({
    name: 's3rver',
    args: [...NODE_ARGS, S3RVER_MAIN, '--port', '0', '--dir', dataDir],
    timeoutMs: START_TIMEOUT_MS,
    ready: readyEndpoint,
  });
  return {
    name: 's3rver',
    description: `s3rver ${version} (one file per object, no fsync, no redundancy; request log off), pid ${server.pid}`,
    pids: [server.pid],
    stop: () => server.stop(),
    endpoint,
    ...S3RVER_CREDENTIALS,
    client: new S3BenchClient({ endpoint, ...S3RVER_CREDENTIALS, ...settings }),
  };
}

/** A free loopback port for tessera dev's --listen (the other servers take port 0 and report theirs). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Closes a target's client and stops its process. */
export async function stopTarget(target: Target): Promise<void> {
  await target.client.close().catch(() => undefined);
  await target.stop();
}

function readyEndpoint(line: string): string | undefined {
  return line.startsWith(READY_PREFIX) ? line.slice(READY_PREFIX.length).trim() : undefined;
}

/** "erasure 4+2, block 256KiB, kernel wasm-simd, AES-GCM native" and the AES backend from the gateway's "gateway listening" log line, if it is one. */
function gatewayLayout(line: string): { layout: string; aesBackend: string | undefined } | undefined {
  if (!line.startsWith('{') || !line.includes('gateway listening')) return undefined;
  try {
    const entry = JSON.parse(line) as { erasure?: { dataShards?: number; parityShards?: number; blockSizeBytes?: number }; kernel?: string; aesBackend?: string };
    const erasure = entry.erasure;
    if (erasure === undefined) return undefined;
    const blockKiB = erasure.blockSizeBytes === undefined ? '?' : `${erasure.blockSizeBytes / 1024}KiB`;
    const layout = `erasure ${erasure.dataShards ?? '?'}+${erasure.parityShards ?? '?'}, block ${blockKiB}, kernel ${entry.kernel ?? '?'}, AES-GCM ${entry.aesBackend ?? '?'}`;
    return { layout, aesBackend: entry.aesBackend };
  } catch {
    return undefined;
  }
}

/** Polls the gateway's readiness endpoint until it answers 200; resolves with the JSON it answered. */
async function waitUntilReady(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      const text = await response.text();
      if (response.status === 200) return JSON.parse(text) as Record<string, unknown>;
      last = `HTTP ${response.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`tessera dev not ready at ${url} within ${timeoutMs / 1000} s (${last})`);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { freePorts } from './ports.js';
import { makeTestCertificate } from './tls-cert.js';
import { REPO_ROOT, TEST_PARTITION_BITS, tesseraArgs } from './tree.js';

/**
 * Tessera as real child processes: `tessera dev`, `tessera node` and `tessera gateway`, started as an
 * operator starts the built command: from the compiled tree under `npm test`, from the TypeScript
 * sources under tsx when a test file runs on its own (tree.ts). Every child is
 * stopped by its own PID (SIGTERM, then SIGKILL), and its stderr (where the logger writes) is kept so a
 * failing test can show what the process said.
 */

/** The slice of a tap test the helpers need (teardown and diagnostics). */
export interface TestLike {
  teardown(fn: () => void | Promise<void>): void;
  passing(): boolean;
  comment(...message: unknown[]): void;
}

/** Output kept per stream: the tail is what explains a failure. */
const TAIL_BYTES = 64 * 1024;
/** Generous: seven processes starting at once on a busy 2-core machine (compiling TypeScript, run from test/). */
const DEFAULT_START_TIMEOUT_MS = 180_000;
const DEFAULT_STOP_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 50;
/** A JSON log line announcing a bound address, and the port in it. */
const LISTENING_LINE = /"msg":"(storage node|gateway) listening"/;
const LISTENING_PORT = /"address":\{[^}]*"port":(\d+)/;

/** A running `tessera` child process. */
export class TesseraProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stdoutTail = '';
  private stderrTail = '';
  /** The start of a log line not yet complete. */
  private partialLine = '';
  /** Ports this process's own log said it listens on. */
  private readonly announcedPorts = new Set<number>();
  private exitState: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stopRequested = false;
  /** The last readiness probe's finding, shown in failure messages. */
  readiness = 'not probed';

  constructor(name: string, args: readonly string[], env: Record<string, string>) {
    this.name = name;
    this.child = spawn(process.execPath, tesseraArgs(...args), {
      cwd: REPO_ROOT,
      env: { ...process.env, TESSERA_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.pid = this.child.pid;
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdoutTail = (this.stdoutTail + chunk).slice(-TAIL_BYTES);
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-TAIL_BYTES);
      this.noteAnnouncements(chunk);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitState = { code, signal };
        resolve(this.exitState);
      });
    });
  }

  /** Everything the process wrote to stdout so far (tail). */
  get stdout(): string {
    return this.stdoutTail;
  }

  /** Everything the process wrote to stderr so far (tail): its log lines and crash traces. */
  get stderr(): string {
    return this.stderrTail;
  }

  /**
   * True once this process logged that it listens on `port` (`storage node listening`, `gateway
   * listening`). A probe of a fixed port alone can reach another process that took the port first, while
   * this one fails to bind it.
   */
  listensOn(port: number): boolean {
    return this.announcedPorts.has(port);
  }

  private noteAnnouncements(chunk: string): void {
    const lines = (this.partialLine + chunk).split('\n');
    this.partialLine = (lines.pop() ?? '').slice(-TAIL_BYTES);
    for (const line of lines) {
      if (!LISTENING_LINE.test(line)) continue;
      const port = LISTENING_PORT.exec(line)?.[1];
      if (port !== undefined) this.announcedPorts.add(Number(port));
    }
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.exitState !== undefined;
  }

  /** True when the process exited without being asked to: a crash. */
  get exitedUnexpectedly(): boolean {
    return this.exitState !== undefined && !this.stopRequested;
  }

  /** A human-readable account of the process, for failure messages. */
  describe(): string {
    const state = this.exitState === undefined
      ? 'running'
      : `exited code=${String(this.exitState.code)} signal=${String(this.exitState.signal)}${this.stopRequested ? '' : ' (not asked to stop)'}`;
    const stderr = this.stderrTail.trim() === '' ? '(empty)' : this.stderrTail.trimEnd().split('\n').slice(-40).join('\n');
    return `${this.name} pid ${this.pid} ${state}; readiness: ${this.readiness}\n--- stderr tail ---\n${stderr}`;
  }

  /** Stops this process only: SIGTERM, then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    this.stopRequested = true;
    if (this.exitState !== undefined) return { ...this.exitState, killed: false };
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return { ...first, killed: false };
    this.child.kill('SIGKILL');
    return { ...(await this.exited), killed: true };
  }

  /** Rejects as soon as the process exits; used to abort a readiness wait early. */
  async failOnExit(): Promise<never> {
    await this.exited;
    throw new Error(`${this.name} exited before it was ready\n${this.describe()}`);
  }
}

/** Registers teardown that stops the processes and, when the test failed, prints their stderr. */
function manage(t: TestLike, processes: readonly TesseraProcess[], cleanup?: () => Promise<void>): void {
  t.teardown(async () => {
    if (!t.passing()) for (const p of processes) t.comment(p.describe());
    await Promise.all(processes.map((p) => p.stop()));
    if (cleanup !== undefined) await cleanup();
  });
}

async function delay(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function within<T>(what: string | (() => string), timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${typeof what === 'string' ? what : what()}: not ready after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A readiness probe: true when ready, otherwise what it saw instead. */
type ReadinessProbe = () => Promise<true | string>;

/** Whether host:port accepts a TCP connection: true, or why not. */
export async function tcpAccepts(host: string, port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve(`TCP connect to ${host}:${port}: ${err.code ?? err.message}`);
    });
  });
}

async function healthAnswers(url: string): Promise<true | string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    const body = await response.text();
    return response.ok ? true : `GET ${url}: ${response.status} ${body.slice(0, 300)}`;
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `GET ${url}: ${err instanceof Error ? err.message : String(err)}${cause}`;
  }
}

/**
 * `probe`, once `process_` logged that it listens on `port`: before that, whatever answers on the port
 * may be another process that took it.
 */
function announcedThen(process_: TesseraProcess, port: number, probe: ReadinessProbe): ReadinessProbe {
  return async () => (process_.listensOn(port) ? probe() : `has not logged that it listens on ${port}`);
}

async function pollUntil(process_: TesseraProcess, probe: ReadinessProbe): Promise<void> {
  while (!process_.hasExited) {
    const result = await probe();
    if (result === true) {
      process_.readiness = 'ready';
      return;
    }
    process_.readiness = result;
    await delay(POLL_INTERVAL_MS);
  }
  await process_.failOnExit();
}

/** What `tessera dev` printed: where it listens and the credentials it accepts. */
export interface DevServer {
  process: TesseraProcess;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
}

function printedValue(stdout: string, label: string): string | undefined {
  const match = new RegExp(`^\\s*${label}:\\s*(\\S+)\\s*$`, 'm').exec(stdout);
  return match?.[1];
}

/**
 * Starts `tessera dev --data <tmp> --listen 127.0.0.1:0` and reads the endpoint and keys it prints.
 * With `tls` (a certificate and key, e.g. from makeTestCertificate) the gateway serves HTTPS, set the
 * way an operator sets it (TESSERA_TLS_CERT_FILE / TESSERA_TLS_KEY_FILE), and the endpoint is https://.
 * Stopped and its data removed at the end of `t`.
 */
export async function startDevServer(t: TestLike, options: DevServerOptions = {}): Promise<DevServer> {
  const dev = await spawnDevServer(options);
  manage(t, [dev.child], () => rm(dev.dataDir, { recursive: true, force: true }));
  return dev.ready();
}

/** How startDevServer starts `tessera dev`. */
export interface DevServerOptions {
  timeoutMs?: number;
  /** The data folder of a `tessera dev` that ran before (a restart after a crash); a new temporary one otherwise. */
  dataDir?: string;
  env?: Record<string, string>;
  tls?: { certFile: string; keyFile: string };
  /** Where the S3 endpoint listens (`127.0.0.1:0`, a free port, unless told): a restart on the same data keeps its address when given one. */
  listen?: string;
}

/** A `tessera dev` child just spawned: its data folder, and the wait until it printed where it listens. */
interface SpawnedDevServer {
  child: TesseraProcess;
  dataDir: string;
  ready(): Promise<DevServer>;
}

async function spawnDevServer(options: DevServerOptions): Promise<SpawnedDevServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tessera-dev-')));
  const tlsEnv = options.tls === undefined ? {} : { TESSERA_TLS_CERT_FILE: options.tls.certFile, TESSERA_TLS_KEY_FILE: options.tls.keyFile };
  const name = options.tls === undefined ? 'tessera dev' : 'tessera dev (https)';
  const child = new TesseraProcess(name, ['dev', '--data', dataDir, '--listen', options.listen ?? '127.0.0.1:0'], {
    TESSERA_PARTITION_BITS: String(TEST_PARTITION_BITS),
    // Any free port: the next one after S3's (the default) may be another test's.
    TESSERA_CONSOLE_LISTEN: '127.0.0.1:0',
    ...tlsEnv,
    ...options.env,
  });
  const printed = async (): Promise<DevServer> => {
    for (;;) {
      const out = child.stdout;
      const endpoint = printedValue(out, 'endpoint');
      const accessKeyId = printedValue(out, 'access key');
      const secretAccessKey = printedValue(out, 'secret key');
      if (endpoint !== undefined && accessKeyId !== undefined && secretAccessKey !== undefined) {
        return { process: child, endpoint, region: printedValue(out, 'region') ?? 'us-east-1', accessKeyId, secretAccessKey, dataDir };
      }
      if (child.hasExited) return child.failOnExit();
      await delay(POLL_INTERVAL_MS);
    }
  };
  return {
    child,
    dataDir,
    ready: () => within(() => `${name} (stdout so far: ${JSON.stringify(child.stdout)})`, options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS, printed()),
  };
}

/** A started Tessera as a client test reaches it. */
export interface ClientTarget {
  /** How it is reached, for test names and branches. */
  scheme: 'http' | 'https';
  server: DevServer;
  /** For https: the test CA's file (AWS_CA_BUNDLE, --ca-bundle, verify=, --ca-cert, --ca-certs) and its PEM. */
  caFile?: string;
  ca?: string;
}

/**
 * Two `tessera dev` servers started side by side: one over HTTP and one over HTTPS with a certificate
 * for localhost and 127.0.0.1 signed by a fresh test CA. Both stopped at once (each takes a few seconds
 * to close its nodes), and the CA removed, at the end of `t`.
 */
export async function startHttpAndHttpsDevServers(t: TestLike): Promise<{ http: ClientTarget; https: ClientTarget }> {
  const cert = await makeTestCertificate();
  const spawned: SpawnedDevServer[] = [];
  const processes: TesseraProcess[] = [];
  manage(t, processes, async () => {
    await Promise.all([...spawned.map((dev) => rm(dev.dataDir, { recursive: true, force: true })), cert.remove()]);
  });
  for (const options of [{}, { tls: cert }]) {
    const dev = await spawnDevServer(options);
    spawned.push(dev);
    processes.push(dev.child);
  }
  const [http, https] = await Promise.all(spawned.map((dev) => dev.ready()));
  if (http === undefined || https === undefined) throw new Error('two dev servers were started');
  if (!https.endpoint.startsWith('https://')) throw new Error(`tessera dev with TLS printed ${https.endpoint}`);
  return { http: { scheme: 'http', server: http }, https: { scheme: 'https', server: https, caFile: cert.caFile, ca: cert.ca } };
}

/**
 * One `tessera dev` over HTTPS only, with a certificate for localhost and 127.0.0.1 signed by a fresh
 * test CA, for a test that has nothing to send over HTTP. Stopped, and the CA removed, at the end of `t`.
 */
export async function startHttpsDevServer(t: TestLike): Promise<ClientTarget & { scheme: 'https' }> {
  const cert = await makeTestCertificate();
  t.teardown(() => cert.remove());
  const https = await startDevServer(t, { tls: cert });
  if (!https.endpoint.startsWith('https://')) throw new Error(`tessera dev with TLS printed ${https.endpoint}`);
  return { scheme: 'https', server: https, caFile: cert.caFile, ca: cert.ca };
}

/** One `tessera node` process of a process cluster. */
export interface NodeProcess {
  id: string;
  port: number;
  dataDir: string;
  process: TesseraProcess;
}

/** A cluster of separate processes: `nodeCount` storage nodes and one gateway. */
export interface ProcessCluster {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  nodes: NodeProcess[];
  gateway: TesseraProcess;
  configPath: string;
  /** An SDK client for the gateway (path style); extra options override the defaults. */
  client(options?: { maxAttempts?: number; requestTimeoutMs?: number }): S3Client;
  /** Stops storage node i by its PID. */
  stopNode(index: number): Promise<void>;
  /** Every process of the cluster, for diagnostics. */
  describe(): string;
}

/** Credentials the process cluster's gateway accepts. */
export const PROCESS_CLUSTER_CREDENTIALS = { accessKeyId: 'process-access-key', secretAccessKey: 'process-secret-key' } as const;

/**
 * Starts `nodeCount` `tessera node` processes on fixed free ports and one `tessera gateway` whose JSON
 * configuration lists them, waits until every node answers GET /health and the gateway accepts TCP
 * connections. Everything is stopped and removed at the end of `t`.
 */
export async function startProcessCluster(
  t: TestLike,
  options: { nodeCount?: number; dataShards?: number; parityShards?: number; gatewayConfig?: Record<string, unknown>; gatewayArgs?: string[]; timeoutMs?: number } = {},
): Promise<ProcessCluster> {
  const nodeCount = options.nodeCount ?? 6;
  const root = await mkdtemp(join(tmpdir(), 'tessera-procs-'));
  const clusterSecret = 'process-cluster-secret';
  const ports = await freePorts(nodeCount + 1);
  const gatewayPort = ports[nodeCount] as number;
  const processes: TesseraProcess[] = [];
  const clients: S3Client[] = [];
  manage(t, processes, async () => {
    for (const client of clients) client.destroy();
    await rm(root, { recursive: true, force: true });
  });
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < nodeCount; i += 1) {
    const id = `node-${i}`;
    const port = ports[i] as number;
    const dataDir = join(root, id);
    const child = new TesseraProcess(`tessera node ${id}`, ['node', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--id', id], {
      TESSERA_CLUSTER_SECRET: clusterSecret,
    });
    processes.push(child);
    nodes.push({ id, port, dataDir, process: child });
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  await within(
    () => `storage node processes\n${nodes.map((node) => node.process.describe()).join('\n')}`,
    timeoutMs,
    Promise.all(nodes.map((node) => pollUntil(node.process, announcedThen(node.process, node.port, () => healthAnswers(`http://127.0.0.1:${node.port}/health`))))),
  );
  const configPath = join(root, 'gateway.json');
  const config = {
    listen: `127.0.0.1:${gatewayPort}`,
    credentials: [PROCESS_CLUSTER_CREDENTIALS],
    clusterSecret,
    erasure: { dataShards: options.dataShards ?? 4, parityShards: options.parityShards ?? 2 },
    nodes: nodes.map((node) => ({ id: node.id, address: `127.0.0.1:${node.port}`, zone: 'local' })),
    partitionBits: TEST_PARTITION_BITS,
    ...options.gatewayConfig,
  };
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const gateway = new TesseraProcess('tessera gateway', ['gateway', '--config', configPath, ...(options.gatewayArgs ?? [])], {});
  processes.push(gateway);
  await within(() => `gateway process\n${gateway.describe()}`, timeoutMs, pollUntil(gateway, announcedThen(gateway, gatewayPort, () => tcpAccepts('127.0.0.1', gatewayPort))));
  const endpoint = `http://127.0.0.1:${gatewayPort}`;
  return {
    endpoint,
    credentials: PROCESS_CLUSTER_CREDENTIALS,
    nodes,
    gateway,
    configPath,
    client(clientOptions = {}) {
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: PROCESS_CLUSTER_CREDENTIALS,
        ...(clientOptions.maxAttempts === undefined ? {} : { maxAttempts: clientOptions.maxAttempts }),
        ...(clientOptions.requestTimeoutMs === undefined ? {} : { requestHandler: { requestTimeout: clientOptions.requestTimeoutMs } }),
      });
      clients.push(client);
      return client;
    },
    async stopNode(index) {
      const node = nodes[index];
      if (node === undefined) throw new Error(`no node ${index}`);
      await node.process.stop();
    },
    describe() {
      return processes.map((p) => p.describe()).join('\n');
    },
  };
}

import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import {
  applyHeapGrowth,
  DEFAULTS,
  GatewaySettings,
  NodeSettings,
  checkEnvNames,
  parseGatewayConfig,
  parseListen,
  readSecretFile,
  writeSecretFile,
  type GatewayConfig,
  type Logger,
  type NodeConfig,
  type S3Credential,
} from '../common/index.js';
import { detectKernelSupport } from '../erasure/index.js';
import { Gateway, masterKeyLine, ringFromConfig, type GatewayMetrics, type MetricsText } from '../gateway/index.js';
import { parseRing, serializeRing, type Ring } from '../placement/index.js';
import { LocalLink, NodeClient } from '../rpc/index.js';
import { StorageNode } from '../storage-node/index.js';
import { gatewayConfigFrom, nodeConfigFrom, readConfigFile } from './config-files.js';
import { devCredentials, secretSourceFile } from './dev-credentials.js';
import { nodeReplicators, type ReplicationSettings } from './node-replicators.js';
import { NodeThread, startSideBySide, type HostedNode, type NodeSpec } from './node-threads.js';

/** Something `tessera` runs until a signal stops it. */
export interface Service {
  close(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/**
 * Turns on WebAssembly relaxed SIMD where the engine keeps it behind a flag (Node 20; Node 22 and later
 * have it on), before any codec is built, here or in a worker thread: the erasure kernel then uses
 * i8x16.relaxed_swizzle, equal to the standard swizzle for the indices it uses and faster on degraded
 * reads and repair (`npm run bench:erasure` measures both kernels).
 */
function enableRelaxedSimd(): void {
  if (detectKernelSupport().relaxedSimd) return;
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // An engine without the flag keeps the standard kernel.
  }
}

/** `tessera node`: one storage node, configured by an optional file, TESSERA_* variables and flags. */
export async function runNode(
  flags: { config?: string | undefined; data?: string | undefined; listen?: string | undefined; id?: string | undefined; secretFile?: string | undefined },
  env: Env,
  makeLogger: (config: NodeConfig) => Logger,
): Promise<Service> {
  enableRelaxedSimd();
  const file = flags.config === undefined ? undefined : await readConfigFile(flags.config);
  const config = nodeConfigFrom(file, env, { nodeId: flags.id, dataDir: flags.data, listen: flags.listen, clusterSecretFile: flags.secretFile });
  applyHeapGrowth(config.heapGrowthPercent);
  const logger = makeLogger(config);
  const replicators = nodeReplicators({ erasure: config.erasure, masterKeyFile: config.sseMasterKeyFile }, config.clusterSecret, logger);
  const node = new StorageNode({
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    host: config.listen.host,
    port: config.listen.port,
    clusterSecret: config.clusterSecret,
    reserveBytes: config.reserveBytes,
    rowCacheBytes: config.rowCacheBytes,
    metadataWriteBufferBytes: config.metadataWriteBufferBytes,
    directIoMemoryBytes: config.directIoMemoryBytes,
    healing: config.healing,
    region: config.region,
    metricsToken: config.metricsToken,
    replicators: replicators.factory,
    logger,
  });
  const service = {
    close: async () => {
      await node.close();
      await replicators.close();
    },
  };
  try {
    await node.start();
  } catch (err) {
    await service.close().catch(() => undefined);
    throw err;
  }
  return service;
}

/** `tessera gateway`: one S3 gateway, configured by an optional file, TESSERA_* variables and flags. */
export async function runGateway(
  flags: { config?: string | undefined; listen?: string | undefined; consoleListen?: string | undefined },
  env: Env,
  makeLogger: (config: GatewayConfig) => Logger,
  metricsText?: MetricsText,
): Promise<Service & { reloadRing(): Promise<boolean>; reloadTls(): Promise<boolean>; reloadMasterKeys(): Promise<boolean>; metrics: GatewayMetrics }> {
  enableRelaxedSimd();
  const file = flags.config === undefined ? undefined : await readConfigFile(flags.config);
  const config = gatewayConfigFrom(file, env, { listen: flags.listen, consoleListen: flags.consoleListen });
  applyHeapGrowth(config.heapGrowthPercent);
  const gateway = new Gateway({ config, logger: makeLogger(config), ...(metricsText === undefined ? {} : { metricsText }) });
  try {
    await gateway.start();
  } catch (err) {
    await gateway.close();
    throw err;
  }
  return gateway;
}

/** What the embedded default prints for its user. */
export interface DevInfo {
  endpoint: string;
  /** The web console's page, on its own port. */
  console: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The file the secret key was read from, when it was: then it is not printed. */
  secretFile?: string | undefined;
  dataDir: string;
}

/**
 * `tessera dev`: the embedded single-machine default. One gateway and `nodes` storage nodes in this
 * process (the nodes in worker threads, so every core works), each node on its own loopback port and
 * data directory, speaking the same node protocol as a real cluster. The cluster secret is created once and kept under the data directory.
 */
export async function runDev(
  flags: {
    data?: string | undefined;
    listen?: string | undefined;
    consoleListen?: string | undefined;
    nodes?: string | undefined;
    nodeThreads?: string | undefined;
    logFormat?: 'pretty' | 'json' | undefined;
  },
  env: Env,
  logger: Logger,
): Promise<Service & { info: DevInfo }> {
  checkEnvNames(env);
  enableRelaxedSimd();
  const settings = GatewaySettings.properties;
  const dataDir = resolve(flags.data ?? env[NodeSettings.properties.dataDir.env] ?? DEFAULTS.devDataDir);
  const listen = parseListen(flags.listen ?? env[settings.listen.env] ?? DEFAULTS.gatewayListen, '--listen');
  // The console on the next port (MinIO's 9000 and 9001), or on any free one when S3's is.
  const consoleListen = flags.consoleListen ?? env[settings.consoleListen.env] ?? `${listen.host}:${listen.port === 0 ? 0 : listen.port + 1}`;
  // Before anything is made or listens: the development credentials are refused beyond loopback.
  const credentials = devCredentials(env, listen);
  const nodeCount = Number(flags.nodes ?? DEFAULTS.devNodeCount);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const clusterSecret = await devClusterSecret(dataDir);
  // The gateway dates lifecycle expirations with its day and the nodes apply rules with theirs: one setting for both.
  const lifecycleDay = env[settings.lifecycleDaySeconds.env];
  const healing = lifecycleDay === undefined ? {} : { healing: { lifecycleDaySeconds: Number(lifecycleDay) } };
  // The nodes write the gateway's region in the events they deliver, and accept target ARNs naming it.
  const region = env[settings.region.env] ?? DEFAULTS.region;
  const specs: NodeSpec[] = Array.from({ length: nodeCount }, (_, i) => ({ nodeId: `node-${i}`, dataDir: join(dataDir, `node-${i}`), region, ...healing }));
  // The nodes read the versions they replicate as the gateway reads them: its erasure layout (these
  // variables are validated with the gateway's configuration below) and its master keys.
  const masterKeyFile = await devMasterKeyFile(dataDir);
  const erasureSettings = settings.erasure.properties;
  const replication: ReplicationSettings = {
    erasure: {
      dataShards: Number(env[erasureSettings.dataShards.env] ?? DEFAULTS.dataShards),
      parityShards: Number(env[erasureSettings.parityShards.env] ?? DEFAULTS.parityShards),
    },
    masterKeyFile,
  };
  const threadCount = nodeThreadCount(flags.nodeThreads, nodeCount);
  // The banner says what a person needs; each node's and the gateway's start lines are details, shown
  // when TESSERA_LOG_LEVEL asks for them. Warnings and errors still reach the terminal.
  const detail = env[settings.logLevel.env] === undefined ? logger.child({}, { level: 'warn' }) : logger;
  const services: Service[] = [];
  try {
    const hosted =
      threadCount === 0
        ? await startNodesHere(specs, clusterSecret, replication, detail, services)
        : await startNodeThreads(specs, threadCount, clusterSecret, replication, detail, services, flags.logFormat ?? 'json');
    const nodes = specs.map((spec) => ({ id: spec.nodeId, address: `127.0.0.1:${hosted.get(spec.nodeId)?.port ?? 0}`, zone: 'local' }));
    // The gateway's batched calls (small objects' prepares and commits, version lookups) take each
    // node's in-process link; everything else speaks HTTP on loopback as in a cluster.
    const localLinks = new Map([...hosted].map(([nodeId, { link }]) => [nodeId, new LocalLink(link)]));
    const config = parseGatewayConfig(
      {
        listen: `${listen.host}:${listen.port}`,
        consoleListen,
        // Without them, the operator's credentials come from the environment as for any gateway.
        ...(credentials === undefined ? {} : { credentials }),
        clusterSecret,
        nodes,
        sseMasterKeyFile: masterKeyFile,
        sseCustomerKeysOverHttp: true,
      },
      // The embedded cluster owns its secret, ring and address; the rest (credentials, region, kernel, TLS, ...) may be overridden.
      {
        ...env,
        ...Object.fromEntries(
          [settings.clusterSecret.env, settings.clusterSecretFile.env, settings.seeds.env, settings.ringFile.env, settings.listen.env, settings.consoleListen.env].map((name) => [name, undefined]),
        ),
      },
    );
    // One process: the gateway's setting holds for the node threads too.
    applyHeapGrowth(config.heapGrowthPercent);
    // The nodes get the gateway's ring, so their own background work (scrub, audit, repair) can find peers.
    const ring = await handRingToNodes(ringFromConfig(config), config.nodes, clusterSecret);
    const gateway = new Gateway({ config, logger: detail, ring, localLinks });
    const address = await gateway.start();
    services.unshift(gateway);
    const scheme = config.tls === undefined ? 'http' : 'https';
    await writeClusterFile(dataDir, config.nodes);
    const [{ accessKeyId, secretAccessKey }] = config.credentials as [S3Credential];
    const secretFile = credentials === undefined ? secretSourceFile(env) : undefined;
    return {
      info: {
        endpoint: `${scheme}://${address.host}:${address.port}`,
        console: `${scheme}://${address.host}:${gateway.consoleAddress?.port ?? 0}/-/console/`,
        region: config.region,
        accessKeyId,
        secretAccessKey,
        secretFile,
        dataDir,
      },
      close: () => closeAll(services),
    };
  } catch (err) {
    await closeAll(services);
    throw err;
  }
}

/**
 * How many worker threads host the embedded nodes: by default one per core but the gateway's (at least
 * one, at most one per node), so that no node thread competes with the gateway's thread for a core; 0
 * runs the nodes on the gateway's thread. On 2 cores one node thread beat two at every size of the
 * benchmark's matrix: 9-14% less server CPU per request, GETs 6-13% faster, PUTs as fast (fewer isolates
 * to compile and collect, no thread switches between nodes).
 */
export function nodeThreadCount(flag: string | undefined, nodeCount: number, cores: number = availableParallelism()): number {
  if (flag === undefined) return Math.max(1, Math.min(nodeCount, cores - 1));
  const count = Number(flag);
  if (!Number.isInteger(count) || count < 0) throw new Error(`--node-threads must be a whole number, got ${JSON.stringify(flag)}`);
  return Math.min(count, nodeCount);
}

async function startNodesHere(specs: readonly NodeSpec[], clusterSecret: string, replication: ReplicationSettings, logger: Logger, services: Service[]): Promise<Map<string, HostedNode>> {
  const hosted = new Map<string, HostedNode>();
  const replicators = nodeReplicators(replication, clusterSecret, logger);
  try {
    // Every node is in `services` before any start fails, so the caller closes all of them.
    await startSideBySide(specs, async (spec) => {
      const node = new StorageNode({ ...spec, host: '127.0.0.1', port: 0, clusterSecret, logger, replicators: replicators.factory });
      services.push(node);
      const { port } = await node.start();
      hosted.set(spec.nodeId, { port, link: node.openLocalLink() });
    });
  } finally {
    // Services close in order: the replicators after the nodes that use them.
    services.push(replicators);
  }
  return hosted;
}

/** Starts the nodes spread round-robin over `threadCount` worker threads. */
async function startNodeThreads(
  specs: readonly NodeSpec[],
  threadCount: number,
  clusterSecret: string,
  replication: ReplicationSettings,
  logger: Logger,
  services: Service[],
  logFormat: 'pretty' | 'json',
): Promise<Map<string, HostedNode>> {
  const groups = Array.from({ length: threadCount }, (_, t) => specs.filter((_, i) => i % threadCount === t));
  const threads = groups.map((nodes) => new NodeThread({ nodes, clusterSecret, replication, logger, logFormat }));
  services.push(...threads);
  const hosted = new Map<string, HostedNode>();
  for (const found of await Promise.all(threads.map((thread) => thread.start()))) {
    for (const [nodeId, node] of found) hosted.set(nodeId, node);
  }
  return hosted;
}

/**
 * Offers the embedded cluster's ring to its nodes. The nodes listen on fresh ports at every start, so the
 * derived ring is re-issued with an epoch above any the nodes hold (placement is unchanged: same ids, same
 * seed); a node keeps only a newer epoch, so the old addresses would otherwise stay. Returns the ring handed out.
 */
async function handRingToNodes(derived: Ring, nodes: readonly { id: string; address: string }[], clusterSecret: string): Promise<Ring> {
  const clients = nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret, connections: 1 }));
  try {
    const held = await Promise.all(clients.map(async (client) => { const document = await client.fetchRing(); return document === null ? null : parseRing(document); }));
    const same = held.every((ring) => ring !== null && serializeRing(ring) === serializeRing({ ...derived, epoch: ring.epoch }));
    const epoch = Math.max(derived.epoch, ...held.map((ring) => (ring === null ? 0 : ring.epoch + (same ? 0 : 1))));
    const ring = parseRing(serializeRing({ ...derived, epoch }));
    const document = JSON.parse(serializeRing(ring)) as unknown;
    await Promise.all(clients.map((client) => client.offerRing(document)));
    return ring;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** `data/cluster.json`: where the embedded nodes listen, for `tessera admin` (with `data/cluster-secret`). */
async function writeClusterFile(dataDir: string, nodes: readonly { id: string; address: string }[]): Promise<void> {
  const path = join(dataDir, 'cluster.json');
  await writeFile(`${path}.tmp`, `${JSON.stringify({ nodes: nodes.map((node) => ({ id: node.id, address: node.address })) }, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

async function closeAll(services: readonly Service[]): Promise<void> {
  for (const service of services) await service.close();
}

/** The embedded cluster's SSE-S3 master key file under its data directory, made on first start. */
async function devMasterKeyFile(dataDir: string): Promise<string> {
  const path = join(dataDir, 'sse-master-keys');
  try {
    await writeSecretFile(path, masterKeyLine(randomBytes(32)), { overwrite: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return path;
}

async function devClusterSecret(dataDir: string): Promise<string> {
  const path = join(dataDir, 'cluster-secret');
  try {
    return (await readSecretFile(path, 'cluster secret file')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const secret = randomBytes(32).toString('hex');
    await writeSecretFile(path, `${secret}\n`, { overwrite: false });
    return secret;
  }
}

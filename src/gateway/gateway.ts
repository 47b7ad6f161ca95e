import { readFile } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { DEFAULTS, HybridClock, readSecretFile, type GatewayConfig, type Logger } from '../common/index.js';
import { createCodec, type Codec } from '../erasure/index.js';
import { FIRST_RING_EPOCH, buildRing, serializeRing, type Ring } from '../placement/index.js';
import { IndexWriter, writeQuorum, type LocalLink } from '../rpc/index.js';
import { ClusterView, loadRingFile, NodeRingFollower, PreviousRingFinder, RingFileWatcher } from './cluster/index.js';
import { BucketService, IdentityAdmin, KmsKeyAdmin, KmsKeyService, TargetAdmin, readNodeStatuses, StripePool, UserDirectory } from './data-path/index.js';
import { AccessLogDelivery, logObjectWriter } from './access-log/index.js';
import { DigestPool } from './digest/index.js';
import { ObjectSealer, readMasterKeyFile, resolvePackageCipher, type ResolvedPackageCipher } from './encryption/index.js';
import {
  ByteBudget,
  GatewayMetrics,
  MAX_QUOTA_SERIES,
  RequestGate,
  createS3App,
  registerAdminApi,
  registerConsole,
  registerHealthRoutes,
  registerMetricsRoute,
  type BucketQuotaFigure,
  type GatewayDeps,
  type GatewayHealth,
} from './http/index.js';
import { OPERATIONS, resolveOperation } from './operations.js';

export {
  BucketService,
  bucketQuota,
  buildIndex,
  IdentityAdmin,
  IdentityError,
  inspectObject as inspectObjectVersion,
  KmsKeyAdmin,
  TargetAdmin,
  RecordAdminError,
  newAccessKeyId,
  newSecretKey,
  readNodeStatuses,
  rotateMasterKey,
  type IdentityActions,
  type IndexBuildPhase,
  type IndexBuildProgress,
  type KeySummary,
  type KmsKeyActions,
  type KmsKeySummary,
  type NodeStatusRow,
  type ObjectReport,
  type PolicySummary,
  type QuotaReport,
  type RotationReport,
  type TargetActions,
  type TargetSummary,
  type UsageEstimate,
  type UserDetail,
  type UserSummary,
} from './data-path/index.js';
export { ClusterView } from './cluster/index.js';
export { DEFAULT_KMS_KEY, KMS_KEY_NAME, MasterKeyring, ObjectSealer, kmsKeyArn, masterKeyLine, newKmsKeyMaterial, nodePackageCipher, readMasterKeyFile, resealKmsKeyMaterial } from './encryption/index.js';

/** Stripe buffers kept for reuse between writes: enough for a few large writes in flight. */
const IDLE_STRIPE_BUFFERS = 16;

/** The codec with every reconstruction counted: a read that rebuilt a stripe from parity is a degraded read. */
function countingReconstructs(codec: Codec, onReconstruct: () => void): Codec {
  return {
    dataShards: codec.dataShards,
    parityShards: codec.parityShards,
    totalShards: codec.totalShards,
    kernel: codec.kernel,
    relaxedSimd: codec.relaxedSimd,
    encode: (shards) => codec.encode(shards),
    reconstruct: ((shards: (Uint8Array | null)[], options?: Parameters<Codec['reconstruct']>[1]) => {
      onReconstruct();
      return codec.reconstruct(shards, options ?? {});
    }) as Codec['reconstruct'],
    verify: (shards) => codec.verify(shards),
    allocateShards: (shardBytes) => codec.allocateShards(shardBytes),
  };
}

/**
 * Where a gateway's /metrics text comes from: by default its own registry; a gateway worker of a
 * multi-process gateway passes one that gathers every worker's figures.
 */
export type MetricsText = (own: GatewayMetrics) => Promise<string>;

/** The ring a gateway derives from its configured node list: deterministic, so every gateway derives the same one. */
export function ringFromConfig(config: GatewayConfig): Ring {
  return buildRing(null, config.nodes, {
    replicas: config.erasure.dataShards + config.erasure.parityShards,
    partitionBits: config.partitionBits,
    seed: 0,
  });
}

/** Reads the TLS key and certificate the configuration names (PEM). */
async function readTls(config: GatewayConfig): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if (config.tls === undefined) return undefined;
  const [key, cert] = await Promise.all([readSecretFile(config.tls.keyFile, 'TLS key file'), readFile(config.tls.certFile)]);
  return { key: Buffer.from(key), cert };
}

/**
 * A stateless S3 gateway: the S3 app over a view of the cluster. The ring comes from one of three
 * places: the configured node list (derived), a ring file (watched), or the storage nodes themselves
 * (seeds, then polled); in the last case the gateway holds nothing a restart would lose.
 */
export class Gateway {
  private readonly config: GatewayConfig;
  private readonly logger: Logger;
  private readonly initialRing: Ring | undefined;
  private readonly stopping = new AbortController();
  private readonly clock: HybridClock;
  private cluster: ClusterView | undefined;
  private digestPool: DigestPool | undefined;
  private users: UserDirectory | undefined;
  private bucketIndex: IndexWriter | undefined;
  private app: FastifyInstance | undefined;
  private watcher: RingFileWatcher | undefined;
  private follower: NodeRingFollower | undefined;
  private previousRings: PreviousRingFinder | undefined;
  private boundAddress: { host: string; port: number } | undefined;
  /** The console's own listener (consoleListen), and where it is bound. */
  private consoleServer: TcpServer | undefined;
  private consoleBound: { host: string; port: number } | undefined;
  /** The AES-256-GCM backend bodies are sealed and opened with, chosen once at construction. */
  private readonly aes: ResolvedPackageCipher;
  /** Seals and opens data keys; its master keys are re-read from the file on reloadMasterKeys (SIGHUP). */
  private readonly sealer: ObjectSealer;
  private readonly metricsText: MetricsText;
  private gatewayMetrics: GatewayMetrics | undefined;
  private readonly gate: RequestGate;
  private readonly bodyBudget: ByteBudget;
  private buckets: BucketService | undefined;
  private accessLogs: AccessLogDelivery | undefined;

  private readonly localLinks: ReadonlyMap<string, LocalLink> | undefined;

  constructor(options: {
    config: GatewayConfig;
    logger: Logger;
    ring?: Ring;
    clock?: () => number;
    metricsText?: MetricsText;
    /** In-process links to nodes that run in this process, by node id (the embedded default); the gateway closes them. */
    localLinks?: ReadonlyMap<string, LocalLink>;
  }) {
    this.config = options.config;
    this.localLinks = options.localLinks;
    this.metricsText = options.metricsText ?? ((own) => own.text());
    this.logger = options.logger.child({ component: 'gateway' });
    this.initialRing = options.ring;
    // The gateway's one time source: version ids, record timestamps, signature skew and ring rounds all read it.
    this.clock = new HybridClock(options.clock === undefined ? {} : { wallClock: options.clock });
    this.bodyBudget = new ByteBudget(this.config.maxBufferedBodyBytes);
    this.gate = new RequestGate({ maxActive: this.config.maxActiveRequests, maxQueued: this.config.maxQueuedRequests, retryAfterSeconds: 1 });
    this.aes = resolvePackageCipher(this.config.aesBackend);
    this.sealer = new ObjectSealer({ masterKeys: undefined, cipher: this.aes.cipher });
  }

  /** Loads the ring (waiting for the nodes to hold one, when started from seeds), starts serving S3, and resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    const { config } = this;
    const ring = await this.loadRing();
    const plainCodec = createCodec({ dataShards: config.erasure.dataShards, parityShards: config.erasure.parityShards, kernel: config.kernel });
    const metrics = new GatewayMetrics({
      operations: OPERATIONS.map((operation) => operation.name),
      ringEpoch: () => this.cluster?.current.epoch ?? 0,
      kernel: plainCodec.kernel,
      relaxedSimd: plainCodec.relaxedSimd,
      bucketQuotas: () => this.quotaFigures(),
      accessLogs: () => this.accessLogs?.figures,
    });
    this.gatewayMetrics = metrics;
    const cluster = this.connectCluster(ring, metrics);
    const codec = countingReconstructs(plainCodec, () => metrics.degradedRead());
    const services = await this.createServices(cluster, codec, metrics);
    const app = await this.createApp(services, metrics, plainCodec.kernel);
    this.followRingChanges(cluster);
    return this.listen(app, ring, codec);
  }

  /**
   * The ring to start with: the one passed in, else the ring file's, else the nodes' (from the
   * seeds, whose follower is set up here), else the one derived from the configured nodes.
   */
  private async loadRing(): Promise<Ring> {
    const { config } = this;
    const shards = config.erasure.dataShards + config.erasure.parityShards;
    if (config.seeds.length > 0) {
      this.follower = new NodeRingFollower({
        seeds: config.seeds,
        clusterSecret: config.clusterSecret,
        logger: this.logger,
        current: () => this.cluster?.current,
        ringNodes: () => this.cluster?.allNodes() ?? [],
        adopt: (next) => this.updateRing(next),
        intervalMs: config.ringPollMs,
        timeoutMs: config.metadataTimeoutMs,
        clock: () => this.clock.nowMs(),
      });
    }
    const ring =
      this.initialRing ??
      (config.ringFile !== undefined
        ? await loadRingFile(config.ringFile)
        : this.follower !== undefined
          ? await this.follower.initialRing(this.stopping.signal)
          : ringFromConfig(config));
    if (ring.replicas !== shards) {
      throw new Error(`the ring places ${ring.replicas} shards per object; erasure ${config.erasure.dataShards}+${config.erasure.parityShards} needs ${shards}`);
    }
    return ring;
  }

  /** The view of the cluster under the ring, and the finder of the ring it replaced. */
  private connectCluster(ring: Ring, metrics: GatewayMetrics): ClusterView {
    const { config } = this;
    const shards = config.erasure.dataShards + config.erasure.parityShards;
    const cluster = new ClusterView(ring, {
      clusterSecret: config.clusterSecret,
      nodeCallObserver: (nodeId) => metrics.nodeCallObserver(nodeId),
      quorumFraction: writeQuorum(config.erasure.dataShards, config.erasure.parityShards) / shards,
      localLinks: this.localLinks,
    });
    this.cluster = cluster;
    this.previousRings = new PreviousRingFinder({ cluster, logger: this.logger, timeoutMs: config.metadataTimeoutMs, retryMs: config.ringPollMs });
    return cluster;
  }

  /**
   * Every path's dependencies, assembled once: one value that is each path's interface (the write,
   * read and list paths', bucket administration's, authentication's). Starts the user directory and
   * reads the SSE-S3 master keys on the way.
   */
  private async createServices(cluster: ClusterView, codec: Codec, metrics: GatewayMetrics): Promise<GatewayDeps> {
    const { config } = this;
    const clock = this.clock;
    const ownerId = config.credentials[0]?.accessKeyId ?? 'tessera';
    const users = new UserDirectory({
      cluster,
      logger: this.logger.child({ component: 'users' }),
      adminCredentials: config.credentials,
      adminId: ownerId,
      timeoutMs: config.metadataTimeoutMs,
    });
    this.users = users;
    await users.start();
    const digestPool = new DigestPool();
    this.digestPool = digestPool;
    if (config.sseMasterKeyFile !== undefined) this.sealer.useMasterKeys(await readMasterKeyFile(config.sseMasterKeyFile));
    const buckets = new BucketService({ cluster, clock, cacheTtlMs: config.bucketCacheTtlMs, nodeTimeoutMs: config.metadataTimeoutMs });
    const indexLogger = this.logger.child({ component: 'bucket-index' });
    // A settle not delivered leaves its intent on the replica: readers then ask the key's own nodes.
    const bucketIndex = new IndexWriter({
      timeoutMs: config.metadataTimeoutMs * 4,
      onDropped: (count, err) => {
        metrics.indexSettlesDropped(count);
        indexLogger.debug({ count, err }, 'index settles not delivered; their intents stand');
      },
    });
    this.bucketIndex = bucketIndex;
    this.buckets = buckets;
    this.sealer.useKmsKeys(users, config.region);
    const kms = new KmsKeyService({ users, cluster, sealer: this.sealer, clock, region: config.region, timeoutMs: () => cluster.deadlineMs(config.metadataTimeoutMs) });
    return {
      cluster,
      buckets,
      bucketIndex,
      clock,
      codec,
      erasure: config.erasure,
      region: config.region,
      auth: config.auth,
      objectOwnership: config.objectOwnership,
      users,
      ownerId,
      // Deadlines follow the nodes' observed latency, the configured timeouts being their floor:
      // a busy machine makes calls slower, not failed.
      get metadataTimeoutMs() {
        return cluster.deadlineMs(config.metadataTimeoutMs);
      },
      get stallTimeoutMs() {
        return cluster.deadlineMs(config.stallTimeoutMs);
      },
      minPartSizeBytes: config.minPartSizeBytes,
      logger: this.logger,
      digestPool,
      stripePool: new StripePool({ maxIdle: IDLE_STRIPE_BUFFERS }),
      sealer: this.sealer,
      kms,
      sseCustomerKeysOverHttp: config.sseCustomerKeysOverHttp ?? false,
      lifecycleDayMs: (config.lifecycleDaySeconds ?? DEFAULTS.lifecycleDaySeconds) * 1000,
      observeWriteStage: (stage, seconds) => metrics.writeStageDone(stage, seconds),
    };
  }

  /** Server access log delivery: log objects written through this gateway's own write path. */
  private startAccessLogs(services: GatewayDeps): AccessLogDelivery {
    this.accessLogs = new AccessLogDelivery({ write: logObjectWriter(services), logger: this.logger.child({ component: 'access-logs' }) });
    return this.accessLogs;
  }

  /** The S3 app with the health, console and metrics routes beside it. */
  private async createApp(services: GatewayDeps, metrics: GatewayMetrics, kernel: Codec['kernel']): Promise<FastifyInstance> {
    const { config } = this;
    const { users } = services;
    // The administrator's keys and every user's, as the cluster holds them: S3 requests and console sign-in alike.
    const credentials = { secretKeyFor: (accessKeyId: string) => users.lookup(accessKeyId)?.secretAccessKey };
    const app = createS3App({
      route: resolveOperation,
      services,
      baseDomain: config.baseDomain,
      https: await readTls(config),
      metrics,
      accessLog: config.accessLog,
      serverAccessLogs: { delivery: this.startAccessLogs(services), region: config.region, ownerId: services.ownerId },
      gate: this.gate,
      slowClients: { windowMs: config.slowClientWindowMs, minBytes: config.slowClientMinBytes },
      responseStallTimeoutMs: config.responseStallTimeoutMs,
      bodyBudget: this.bodyBudget,
    });
    registerHealthRoutes(app, { baseDomain: config.baseDomain, health: () => this.health() });
    // Before the admin API: the console hands its `/-/console/admin/v1/` calls on to that API's hook.
    registerConsole(app, {
      services,
      credentials,
      clusterSecret: config.clusterSecret,
      baseDomain: config.baseDomain,
      gateway: () => ({ kernel, version: '' }),
      gate: this.gate,
      consolePort: () => this.consoleBound?.port,
      s3Port: () => this.boundAddress?.port,
    });
    registerAdminApi(app, {
      services,
      identity: new IdentityAdmin({
        nodes: () => services.cluster.allNodes(),
        timeoutMs: () => services.metadataTimeoutMs,
        // This gateway follows its own changes at once: a key it just made signs its next request.
        onChange: () => users.refreshNow(),
      }),
      targets: new TargetAdmin({ nodes: () => services.cluster.allNodes(), timeoutMs: () => services.metadataTimeoutMs, onChange: () => users.refreshNow() }),
      kmsKeys: new KmsKeyAdmin({
        nodes: () => services.cluster.allNodes(),
        timeoutMs: () => services.metadataTimeoutMs,
        region: config.region,
        masterKeys: () => this.sealer.masterKeyring(),
        onChange: () => users.refreshNow(),
      }),
      buckets: services.buckets,
      statuses: (startFast) => readNodeStatuses(services.cluster.allNodes(), { timeoutMs: services.metadataTimeoutMs * 5, startFast }),
      baseDomain: config.baseDomain,
      gate: this.gate,
    });
    registerMetricsRoute(app, { baseDomain: config.baseDomain, token: config.metricsToken, text: () => this.metricsText(metrics) });
    this.app = app;
    return app;
  }

  /** Watches the ring file, or starts polling the nodes, for newer rings. */
  private followRingChanges(cluster: ClusterView): void {
    const { config } = this;
    if (config.ringFile !== undefined) {
      this.watcher = new RingFileWatcher({
        path: config.ringFile,
        logger: this.logger,
        current: () => cluster.current,
        adopt: (next) => this.updateRing(next),
        intervalMs: config.ringPollMs,
      });
      this.watcher.start();
    }
    this.follower?.start();
  }

  /** Offers the ring to the nodes, learns the replaced ring when started mid-rebalance, then listens and says so. */
  private async listen(app: FastifyInstance, ring: Ring, codec: Codec): Promise<{ host: string; port: number }> {
    const { config } = this;
    const shared = this.shareRing(ring);
    if (ring.epoch > FIRST_RING_EPOCH) {
      // Started during a rebalance, the gateway must read where the replaced ring put what is not
      // moved yet, from its first request. A node names that ring once it holds this one, and a ring
      // file may be ahead of the nodes: the offers land first.
      await shared;
      await this.previousRings?.find();
    }
    await app.listen({ host: config.listen.host, port: config.listen.port });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('gateway has no TCP address');
    this.boundAddress = { host: address.address, port: address.port };
    if (config.consoleListen !== undefined) this.consoleBound = await this.listenForConsole(app, config.consoleListen);
    if (this.aes.fallbackReason !== undefined) {
      this.logger.warn({ aesBackend: this.aes.cipher.backend, reason: this.aes.fallbackReason }, 'encrypted bodies use node:crypto: the native AES-GCM addon is unavailable');
    }
    this.logger.info(
      {
        address: this.boundAddress,
        tls: config.tls !== undefined,
        kernel: codec.kernel,
        relaxedSimd: codec.relaxedSimd,
        aesBackend: this.aes.cipher.backend,
        erasure: config.erasure,
        ringEpoch: ring.epoch,
        ringSource: config.ringFile !== undefined ? 'file' : this.follower !== undefined ? 'seeds' : 'nodes',
      },
      'gateway listening',
    );
    return this.boundAddress;
  }

  /**
   * The console's listener: a port of its own, so the console is an origin apart from the objects the S3
   * port serves (a script in an uploaded HTML object cannot act through the console as whoever opened
   * it). Its connections are handed to the S3 app's own server, so they get the same parser, limits,
   * TLS and hooks; the console route knows them by the port they arrived on and answers nothing else there.
   */
  private async listenForConsole(app: FastifyInstance, at: { host: string; port: number }): Promise<{ host: string; port: number }> {
    const server = createTcpServer((socket) => app.server.emit('connection', socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.consoleServer = server;
    const { address, port } = server.address() as AddressInfo;
    this.logger.info({ address: { host: address, port } }, 'console listening');
    return { host: address, port };
  }

  /** Where the console listens (after start), when consoleListen is set. */
  get consoleAddress(): { host: string; port: number } | undefined {
    return this.consoleBound;
  }

  /** The bound address (after start). */
  /** The buckets that have a quota, by name, with their usage from the nodes' counts (for the metrics). */
  private async quotaFigures(): Promise<BucketQuotaFigure[]> {
    const buckets = this.buckets;
    if (buckets === undefined) return [];
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.config.metadataTimeoutMs * 4)]);
    const limited = (await buckets.list(signal)).filter((record) => record.quota !== undefined).slice(0, MAX_QUOTA_SERIES);
    if (limited.length === 0) return [];
    const usage = await buckets.usage.readAll();
    return limited.map((record) => ({ bucket: record.name, maxBytes: record.quota?.maxBytes, maxObjects: record.quota?.maxObjects, bytes: usage.get(record.name)?.bytes ?? 0, objects: usage.get(record.name)?.objects ?? 0 }));
  }

  get address(): { host: string; port: number } {
    if (this.boundAddress === undefined) throw new Error('gateway not started');
    return this.boundAddress;
  }

  /** The gateway's Prometheus figures (after start). */
  get metrics(): GatewayMetrics {
    if (this.gatewayMetrics === undefined) throw new Error('gateway not started');
    return this.gatewayMetrics;
  }

  /**
   * S3 requests being served and waiting for a turn now, the body bytes held (small bodies, signed
   * chunks) now and at most, and the bucket lookups asking the nodes and waiting for a turn to.
   */
  get requests(): {
    active: number;
    queued: number;
    bufferedBodyBytes: number;
    bufferedBodyPeakBytes: number;
    bucketLookups: { active: number; queued: number };
  } {
    return {
      active: this.gate.active,
      queued: this.gate.queued,
      bufferedBodyBytes: this.bodyBudget.used,
      bufferedBodyPeakBytes: this.bodyBudget.peak,
      bucketLookups: this.buckets?.lookupFigures ?? { active: 0, queued: 0 },
    };
  }

  /** The ring in use (after start). */
  get ring(): Ring {
    if (this.cluster === undefined) throw new Error('gateway not started');
    return this.cluster.current;
  }

  /** The ring the current one replaced, when the gateway knows it (after start): reads look in its sets too. */
  get previousRing(): Ring | undefined {
    if (this.cluster === undefined) throw new Error('gateway not started');
    return this.cluster.previous;
  }

  /** What the health endpoints report: ready once a ring is held and, when following the nodes, the last poll reached one. */
  health(): GatewayHealth {
    const ring = this.cluster?.current;
    return {
      ready: ring !== undefined && (this.follower?.reachable ?? true),
      ringEpoch: ring?.epoch ?? 0,
      ringNodes: ring?.nodes.length ?? 0,
      ...(this.follower === undefined ? {} : { ringPoll: this.follower.status }),
    };
  }

  /**
   * Adopts a newer ring epoch; older or equal epochs are ignored. After a gap of epochs it also asks
   * the nodes for the ring the new one replaced (previous-ring-finder.ts) before it resolves.
   */
  async updateRing(ring: Ring): Promise<boolean> {
    if (this.cluster === undefined) throw new Error('gateway not started');
    const shards = this.config.erasure.dataShards + this.config.erasure.parityShards;
    if (ring.replicas !== shards) {
      this.logger.error({ replicas: ring.replicas, shards }, 'refusing a ring whose replica count does not match the erasure layout');
      return false;
    }
    const skipped = ring.epoch > this.cluster.current.epoch + 1;
    const adopted = await this.cluster.update(ring);
    if (!adopted) return false;
    const shared = this.shareRing(ring);
    if (skipped) {
      // `update` made the ring held until now the previous one, but the ring this one replaced is
      // newer than that; only the nodes know it.
      await shared;
      await this.previousRings?.find();
    }
    return true;
  }

  /**
   * Offers the ring to every node it names, in the background. Nodes need it for their own work
   * (resolving half-committed writes, audit, repair, rebalance); they keep only a newer epoch, so
   * offers from many gateways are harmless. A node that misses one gets it with the next offer.
   * Resolves once every offer was answered or failed; it never rejects.
   */
  private async shareRing(ring: Ring): Promise<void> {
    const cluster = this.cluster;
    if (cluster === undefined) return;
    const document: unknown = JSON.parse(serializeRing(ring));
    await Promise.all(
      cluster.allNodes().map((node) =>
        node.offerRing(document, { signal: AbortSignal.timeout(this.config.metadataTimeoutMs) }).catch((err: unknown) => {
          this.logger.debug({ err, nodeId: node.nodeId, epoch: ring.epoch }, 'node did not take the ring');
        }),
      ),
    );
  }

  /** Looks for a newer ring now (re-reads the ring file, or polls the nodes); also what SIGHUP does. */
  async reloadRing(): Promise<boolean> {
    if (this.watcher !== undefined) return this.watcher.reload();
    if (this.follower !== undefined) return this.follower.poll();
    return false;
  }

  /**
   * Re-reads the TLS key and certificate (SIGHUP), so a renewed certificate is served to new
   * connections without a restart; a bad pair is logged and the old one kept.
   */
  async reloadTls(): Promise<boolean> {
    const server = this.app?.server as HttpsServer | undefined;
    if (this.config.tls === undefined || server === undefined || typeof server.setSecureContext !== 'function') return false;
    try {
      const tls = await readTls(this.config);
      if (tls === undefined) return false;
      server.setSecureContext(tls);
      this.logger.info({ certFile: this.config.tls.certFile }, 'reloaded the TLS certificate');
      return true;
    } catch (err) {
      this.logger.error({ err }, 'TLS certificate reload failed; serving the previous one');
      return false;
    }
  }

  /**
   * Re-reads the SSE-S3 master key file (SIGHUP): new objects are sealed under its first key from now
   * on, and every key listed still opens what it sealed. A bad file is logged and the old keys kept.
   */
  async reloadMasterKeys(): Promise<boolean> {
    const path = this.config.sseMasterKeyFile;
    if (path === undefined) return false;
    try {
      this.sealer.useMasterKeys(await readMasterKeyFile(path));
      this.logger.info({ masterKeyId: this.sealer.currentMasterKeyId() }, 'reloaded the SSE-S3 master keys');
      return true;
    } catch (err) {
      this.logger.error({ err }, 'master key file reload failed; keeping the previous keys');
      return false;
    }
  }

  /** Stops serving and closes node connections. */
  async close(): Promise<void> {
    this.stopping.abort();
    this.previousRings?.close();
    this.watcher?.close();
    this.users?.close();
    await this.follower?.close();
    // Its accepted connections belong to the app's server, which closes them.
    this.consoleServer?.close();
    await this.app?.close();
    // Held responses were waiting on these writes; the app has answered them all by now.
    await this.accessLogs?.close();
    // Settles still queued are sent before the clients go: each would otherwise leave an intent behind.
    await this.bucketIndex?.drain();
    await this.cluster?.close();
    for (const link of this.localLinks?.values() ?? []) link.close();
    await this.digestPool?.close();
  }
}

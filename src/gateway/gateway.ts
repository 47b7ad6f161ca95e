import type { FastifyInstance } from 'fastify';
import { HybridClock, type GatewayConfig, type Logger } from '../common/index.js';
import { createCodec } from '../erasure/index.js';
import { buildRing, type Ring } from '../placement/index.js';
import { BucketService } from './bucket-service.js';
import { ClusterView } from './cluster-view.js';
import { RingFileWatcher, loadRingFile } from './ring-source.js';
import { createS3App } from './s3-app.js';

/** How long a gateway trusts a positive bucket lookup before asking the nodes again. */
const BUCKET_CACHE_TTL_MS = 2_000;

/** The ring a gateway derives from its configured node list: deterministic, so every gateway derives the same one. */
export function ringFromConfig(config: GatewayConfig): Ring {
  return buildRing(null, config.nodes, {
    replicas: config.erasure.dataShards + config.erasure.parityShards,
    partitionBits: config.partitionBits,
    seed: 0,
  });
}

/** A stateless S3 gateway: the S3 app over a view of the cluster. */
export class Gateway {
  private readonly config: GatewayConfig;
  private readonly logger: Logger;
  private readonly initialRing: Ring | undefined;
  private cluster: ClusterView | undefined;
  private app: FastifyInstance | undefined;
  private watcher: RingFileWatcher | undefined;
  private boundAddress: { host: string; port: number } | undefined;

  constructor(options: { config: GatewayConfig; logger: Logger; ring?: Ring }) {
    this.config = options.config;
    this.logger = options.logger.child({ component: 'gateway' });
    this.initialRing = options.ring;
  }

  /** Loads the ring, starts serving S3, and resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    const { config } = this;
    const ring = this.initialRing ?? (config.ringFile === undefined ? ringFromConfig(config) : await loadRingFile(config.ringFile));
    const shards = config.erasure.dataShards + config.erasure.parityShards;
    if (ring.replicas !== shards) {
      throw new Error(`the ring places ${ring.replicas} shards per object; erasure ${config.erasure.dataShards}+${config.erasure.parityShards} needs ${shards}`);
    }
    const cluster = new ClusterView(ring, { clusterSecret: config.clusterSecret });
    this.cluster = cluster;
    const codec = createCodec({ dataShards: config.erasure.dataShards, parityShards: config.erasure.parityShards, kernel: config.kernel });
    const clock = new HybridClock();
    const secrets = new Map(config.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
    const app = createS3App({
      services: {
        cluster,
        buckets: new BucketService({ cluster, clock, cacheTtlMs: BUCKET_CACHE_TTL_MS }),
        clock,
        codec,
        erasure: config.erasure,
        region: config.region,
        ownerId: config.credentials[0]?.accessKeyId ?? 'tessera',
        metadataTimeoutMs: config.metadataTimeoutMs,
        stallTimeoutMs: config.stallTimeoutMs,
        logger: this.logger,
      },
      credentials: { secretKeyFor: (accessKeyId) => secrets.get(accessKeyId) },
      baseDomain: config.baseDomain,
    });
    this.app = app;
    if (config.ringFile !== undefined) {
      this.watcher = new RingFileWatcher({
        path: config.ringFile,
        logger: this.logger,
        current: () => cluster.current,
        adopt: (next) => this.updateRing(next),
      });
      this.watcher.start();
    }
    await app.listen({ host: config.listen.host, port: config.listen.port });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('gateway has no TCP address');
    this.boundAddress = { host: address.address, port: address.port };
    this.logger.info(
      { address: this.boundAddress, kernel: codec.kernel, relaxedSimd: codec.relaxedSimd, erasure: config.erasure, ringEpoch: ring.epoch },
      'gateway listening',
    );
    return this.boundAddress;
  }

  /** The bound address (after start). */
  get address(): { host: string; port: number } {
    if (this.boundAddress === undefined) throw new Error('gateway not started');
    return this.boundAddress;
  }

  /** The ring in use (after start). */
  get ring(): Ring {
    if (this.cluster === undefined) throw new Error('gateway not started');
    return this.cluster.current;
  }

  /** Adopts a newer ring epoch; older or equal epochs are ignored. */
  async updateRing(ring: Ring): Promise<boolean> {
    if (this.cluster === undefined) throw new Error('gateway not started');
    const shards = this.config.erasure.dataShards + this.config.erasure.parityShards;
    if (ring.replicas !== shards) {
      this.logger.error({ replicas: ring.replicas, shards }, 'refusing a ring whose replica count does not match the erasure layout');
      return false;
    }
    return this.cluster.update(ring);
  }

  /** Re-reads the ring file now (also what SIGHUP does). */
  async reloadRing(): Promise<boolean> {
    return this.watcher?.reload() ?? false;
  }

  /** Stops serving and closes node connections. */
  async close(): Promise<void> {
    this.watcher?.close();
    await this.app?.close();
    await this.cluster?.close();
  }
}

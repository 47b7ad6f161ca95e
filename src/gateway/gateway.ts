import type { FastifyInstance } from 'fastify';
import { HybridClock, type GatewayConfig, type Logger } from '../common/index.js';
import { createCodec, type Codec } from '../erasure/index.js';
import { buildRing, type Ring } from '../placement/index.js';
import { BucketService } from './bucket-service.js';
import { ClusterView } from './cluster-view.js';
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
  private readonly cluster: ClusterView;
  private readonly codec: Codec;
  private readonly app: FastifyInstance;
  private boundAddress: { host: string; port: number } | undefined;

  constructor(options: { config: GatewayConfig; logger: Logger; ring?: Ring }) {
    const { config } = options;
    this.config = config;
    this.logger = options.logger.child({ component: 'gateway' });
    const ring = options.ring ?? ringFromConfig(config);
    this.cluster = new ClusterView(ring, { clusterSecret: config.clusterSecret });
    this.codec = createCodec({ dataShards: config.erasure.dataShards, parityShards: config.erasure.parityShards, kernel: config.kernel });
    const clock = new HybridClock();
    const secrets = new Map(config.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
    this.app = createS3App({
      services: {
        cluster: this.cluster,
        buckets: new BucketService({ cluster: this.cluster, clock, cacheTtlMs: BUCKET_CACHE_TTL_MS }),
        clock,
        codec: this.codec,
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
  }

  /** Starts serving S3; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    await this.app.listen({ host: this.config.listen.host, port: this.config.listen.port });
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('gateway has no TCP address');
    this.boundAddress = { host: address.address, port: address.port };
    this.logger.info(
      { address: this.boundAddress, kernel: this.codec.kernel, erasure: this.config.erasure, ringEpoch: this.cluster.current.epoch },
      'gateway listening',
    );
    return this.boundAddress;
  }

  /** The bound address (after start). */
  get address(): { host: string; port: number } {
    if (this.boundAddress === undefined) throw new Error('gateway not started');
    return this.boundAddress;
  }

  /** Adopts a newer ring epoch. */
  async updateRing(ring: Ring): Promise<boolean> {
    return this.cluster.update(ring);
  }

  /** Stops serving and closes node connections. */
  async close(): Promise<void> {
    await this.app.close();
    await this.cluster.close();
  }
}

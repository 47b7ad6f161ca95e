import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Logger } from '../common/index.js';
import { serveLocalLink } from '../rpc/index.js';
import { loadBlockHasher } from './checksum.js';
import { NodeServer } from './node-server.js';
import { PreparedResolver } from './prepared-resolver.js';
import { RingStore } from './ring-store.js';
import { ShardStore } from './shard-store.js';
import { ForegroundActivity } from './workers/foreground.js';
import { Healing, type EventDeliveryTuning, type HealingConfig } from './workers/healing.js';
import type { ReplicatorFactory } from './workers/replicators.js';

/** What a storage node needs to run. */
export interface StorageNodeOptions {
  nodeId: string;
  dataDir: string;
  host: string;
  port: number;
  clusterSecret: string;
  logger: Logger;
  reserveBytes?: number;
  /** Memory for metadata rows reads answer from (DEFAULTS.rowCacheBytes); 0 keeps none. */
  rowCacheBytes?: number;
  /** LevelDB's write buffer (DEFAULTS.metadataWriteBufferBytes). */
  metadataWriteBufferBytes?: number;
  /** Memory for shard-file transfers past the page cache (DEFAULTS.directIoMemoryBytes); 0 keeps them in it. */
  directIoMemoryBytes?: number;
  /** Total shard bytes this node may hold; unlimited when absent. */
  capacityBytes?: number;
  /** Shards up to this size are kept inline in LevelDB (shard-store.ts has the default and why). */
  inlineMaxShardBytes?: number;
  /** Shards above the inline threshold and up to this size are appended to segments (shard-store.ts has the default and why). */
  segmentMaxShardBytes?: number;
  /** A segment takes appends until it holds this much (segment-log.ts has the default). */
  segmentSizeBytes?: number;
  /** Age after which start-up recovery drops a prepared shard that was never committed. */
  preparedGraceMs?: number;
  /** Time source for request signatures and prepared-row ages (tests inject one). */
  clock?: () => number;
  /** Pause between passes of the prepared-shard resolver; 0 turns it off. */
  resolveEveryMs?: number;
  /** Bearer token GET /metrics requires; without one it is open. */
  metricsToken?: string | undefined;
  /** Pacing of scrub, repair, audit and rebalance; false runs none of them (tests of the store alone). */
  healing?: Partial<HealingConfig> | false;
  /** The cluster's region (DEFAULTS.region when absent): the `awsRegion` of the events the node delivers, and the region target ARNs may name. */
  region?: string;
  /** Timing and bounds of event delivery other than the defaults (change-delivery.ts); tests shorten them. */
  eventDelivery?: EventDeliveryTuning;
  /**
   * Makes the replicators of replication targets (docs/replication.md). The process running the node
   * wires it from the gateway's replication module; without it the node delivers no replication destination.
   */
  replicators?: ReplicatorFactory | undefined;
}

/** Default pause between resolver passes: prepared shards whose commit was lost are rare and may wait a little. */
export const DEFAULT_RESOLVE_EVERY_MS = 5_000;

/** One storage node: a shard store behind the node protocol server. */
export class StorageNode {
  private readonly options: StorageNodeOptions;
  private store: ShardStore | undefined;
  private rings: RingStore | undefined;
  private server: NodeServer | undefined;
  private boundAddress: { host: string; port: number } | undefined;
  private resolver: PreparedResolver | undefined;
  private background: { abort: AbortController; done: Promise<void> } | undefined;
  private healing: Healing | undefined;
  /** Closers of the in-process links handed out (openLocalLink). */
  private readonly links: (() => void)[] = [];

  constructor(options: StorageNodeOptions) {
    this.options = options;
  }

  /** Opens the store and starts serving; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    const { options } = this;
    const logger = options.logger.child({ component: 'storage-node', nodeId: options.nodeId });
    const store = new ShardStore({
      dataDir: options.dataDir,
      hash: await loadBlockHasher(),
      logger,
      ...(options.reserveBytes === undefined ? {} : { reserveBytes: options.reserveBytes }),
      ...(options.capacityBytes === undefined ? {} : { capacityBytes: options.capacityBytes }),
      rowCacheBytes: options.rowCacheBytes,
      metadataWriteBufferBytes: options.metadataWriteBufferBytes,
      ...(options.directIoMemoryBytes === undefined ? {} : { directIoMemoryBytes: options.directIoMemoryBytes }),
      ...(options.inlineMaxShardBytes === undefined ? {} : { inlineMaxShardBytes: options.inlineMaxShardBytes }),
      ...(options.segmentMaxShardBytes === undefined ? {} : { segmentMaxShardBytes: options.segmentMaxShardBytes }),
      ...(options.segmentSizeBytes === undefined ? {} : { segmentSizeBytes: options.segmentSizeBytes }),
      ...(options.preparedGraceMs === undefined ? {} : { preparedGraceMs: options.preparedGraceMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    await store.open();
    this.store = store;
    const rings = new RingStore(options.dataDir);
    await rings.open();
    this.rings = rings;
    const resolver = new PreparedResolver({
      nodeId: options.nodeId,
      store,
      rings,
      clusterSecret: options.clusterSecret,
      logger,
      ...(options.preparedGraceMs === undefined ? {} : { graceMs: options.preparedGraceMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    this.resolver = resolver;
    const foreground = new ForegroundActivity();
    const healing =
      options.healing === false
        ? undefined
        : new Healing({
            nodeId: options.nodeId,
            store,
            rings,
            clusterSecret: options.clusterSecret,
            logger,
            foreground,
            ...(options.healing === undefined ? {} : { config: options.healing }),
            ...(options.region === undefined ? {} : { region: options.region }),
            ...(options.eventDelivery === undefined ? {} : { eventDelivery: options.eventDelivery }),
            replicators: options.replicators,
            ...(options.clock === undefined ? {} : { clock: options.clock }),
          });
    this.healing = healing;
    this.server = new NodeServer({
      nodeId: options.nodeId,
      store,
      rings,
      resolver,
      foreground,
      ...(healing === undefined ? {} : { healing, onRingAdopted: () => healing.ringChanged() }),
      clusterSecret: options.clusterSecret,
      logger,
      dataDir: options.dataDir,
      metricsToken: options.metricsToken,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    store.observeSyncedWrites(this.server.metrics.observeSync);
    this.boundAddress = await this.server.listen(options.host, options.port);
    logger.info({ address: this.boundAddress, dataDir: options.dataDir, directIo: store.directIo }, 'storage node listening');
    const everyMs = options.resolveEveryMs ?? DEFAULT_RESOLVE_EVERY_MS;
    if (everyMs > 0) this.background = runEvery(resolver, everyMs, logger);
    await healing?.start();
    return this.boundAddress;
  }

  /** The address the node listens on (after start). */
  get address(): { host: string; port: number } {
    if (this.boundAddress === undefined) throw new Error('storage node not started');
    return this.boundAddress;
  }

  /**
   * The node's shard store and ring store (after start), for tools and tests that drive its workers
   * themselves (a node started with `healing: false`).
   */
  get parts(): { store: ShardStore; rings: RingStore } {
    if (this.store === undefined || this.rings === undefined) throw new Error('storage node not started');
    return { store: this.store, rings: this.rings };
  }

  /**
   * A link to this node's batch route for a gateway in the same process (local-link.ts): the caller
   * gets one end of a new channel (transferable to another thread), the node serves the other until
   * it closes.
   */
  openLocalLink(): MessagePort {
    const server = this.server;
    if (server === undefined) throw new Error('storage node not started');
    const { port1, port2 } = new MessageChannel();
    this.links.push(serveLocalLink(port1, server.linkService()));
    return port2;
  }

  /** Stops the background work, stops serving and closes the store. */
  async close(): Promise<void> {
    // Links first: a gateway's calls fail over at once instead of reaching a store that is closing.
    for (const close of this.links.splice(0)) close();
    this.background?.abort.abort();
    await this.background?.done;
    await this.healing?.close();
    await this.resolver?.close();
    await this.server?.close();
    await this.store?.close();
  }
}

/** Runs a worker pass, then waits `everyMs`, until aborted; a failed pass is logged and the next one runs. */
function runEvery(worker: PreparedResolver, everyMs: number, logger: Logger): { abort: AbortController; done: Promise<void> } {
  const abort = new AbortController();
  // One long-lived signal serves every peer request of every pass: many listeners are expected.
  setMaxListeners(0, abort.signal);
  const done = (async () => {
    while (!abort.signal.aborted) {
      try {
        await worker.step(abort.signal);
      } catch (err) {
        if (!abort.signal.aborted) logger.warn({ err, worker: worker.name }, 'background pass failed');
      }
      try {
        await sleep(everyMs, undefined, { signal: abort.signal, ref: false });
      } catch {
        return;
      }
    }
  })();
  return { abort, done };
}

import { DEFAULT_HEALING, DEFAULTS, checkGcAges, type Logger, type NodeHealingConfig } from '../../common/index.js';
import type { NodeWorkStatus, WorkerReport } from '../../rpc/index.js';
import type { RingStore } from '../ring-store.js';
import type { ShardStore } from '../shard-store.js';
import { AuditWorker } from './audit-worker.js';
import { ChangeDelivery, type ChangeDeliveryOptions } from './change-delivery.js';
import { DeliveryFigures } from './delivery-figures.js';
import { EventPublishers } from './event-publishers.js';
import type { ForegroundActivity } from './foreground.js';
import { GcWorker } from './gc-worker.js';
import { IndexSplitter } from './index-splitter.js';
import { IntentResolver } from './intent-resolver.js';
import { HealingFigures } from './healing-figures.js';
import { LifecycleWorker } from './lifecycle-worker.js';
import type { HealingControl } from './healing-routes.js';
import { PeerClients } from './peer-clients.js';
import type { ReplicatorFactory } from './replicators.js';
import { RebalanceWorker } from './rebalance-worker.js';
import { RepairWorker } from './repair-worker.js';
import { ScrubWorker } from './scrub-worker.js';
import { WorkerRunner } from './worker-runner.js';

/** Pacing of a node's background work: the node configuration's healing section. */
export type HealingConfig = NodeHealingConfig;

/** Defaults, from the node settings' schema (a scrub pass a day on a full node; cheap audits and ring checks; hourly garbage collection). */
export const DEFAULT_HEALING_CONFIG: HealingConfig = DEFAULT_HEALING;

/** Timing and bounds of event delivery other than the defaults (change-delivery.ts has them and why). */
export type EventDeliveryTuning = Partial<Pick<ChangeDeliveryOptions, 'offerAfterMs' | 'maxBacklog' | 'retryBaseMs' | 'retryMaxMs' | 'missingTargetGraceMs' | 'probeCacheMs'>> & {
  /** Pause between delivery passes over the log: how soon a new change goes out. */
  passIdleMs?: number;
};

/** Pause between delivery passes when not told otherwise: an event leaves within about a second of its commit. */
const DEFAULT_DELIVERY_PASS_MS = 1_000;

/** Construction parameters of a node's background work. */
export interface HealingOptions {
  nodeId: string;
  store: ShardStore;
  rings: RingStore;
  clusterSecret: string;
  logger: Logger;
  config?: Partial<HealingConfig>;
  /** The cluster's region, in the events the node delivers (DEFAULTS.region when absent). */
  region?: string;
  eventDelivery?: EventDeliveryTuning;
  /** Makes the replicators of replication targets; without it this node delivers no replication destination. */
  replicators?: ReplicatorFactory | undefined;
  /** The node's client traffic, which every worker gives way to. */
  foreground?: ForegroundActivity | undefined;
  clock?: () => number;
}

/** A node's background workers (scrub, repair, audit, rebalance, gc, event delivery), each under its own runner, and their figures. */
export class Healing implements HealingControl {
  readonly figures = new HealingFigures();
  private readonly deliveryFigures = new DeliveryFigures();
  private readonly publishers: EventPublishers;
  private readonly options: HealingOptions;
  private readonly peers: PeerClients;
  private readonly runners: { scrub: WorkerRunner; repair: WorkerRunner; audit: WorkerRunner; intents: WorkerRunner; splits: WorkerRunner; events: WorkerRunner; rebalance?: WorkerRunner; gc?: WorkerRunner; lifecycle?: WorkerRunner };

  constructor(options: HealingOptions) {
    this.options = options;
    const config = { ...DEFAULT_HEALING_CONFIG, ...options.config };
    checkGcAges(config);
    const { nodeId, store, rings } = options;
    const logger = options.logger.child({ component: 'healing' });
    const clock = options.clock ?? Date.now;
    const { foreground } = options;
    // Each repair and each partition audit holds at most one connection to a peer at a time: pools this
    // large serve both at full concurrency, so a repair never waits behind audits or other repairs for one.
    this.peers = new PeerClients(options.clusterSecret, { connectionsPerPeer: config.repairConcurrency + config.auditConcurrency });
    const cursors = store.cursorRows;
    const repair = new RepairWorker({ nodeId, store, rings, peers: this.peers, figures: this.figures, logger, concurrency: config.repairConcurrency, clock });
    const repairRunner = new WorkerRunner({ worker: repair, cursors, logger, foreground, idleMs: 2_000, limits: { bytesPerSecond: config.repairBytesPerSecond }, clock });
    const scrub = new ScrubWorker({ store, figures: this.figures, onQuarantine: () => repairRunner.kick(), clock });
    const audit = new AuditWorker({
      nodeId,
      ring: () => rings.current,
      peers: this.peers,
      figures: this.figures,
      logger,
      enqueue: (task) => repair.enqueue(task),
      onFindings: () => repairRunner.kick(),
      tombstoneGraceMs: config.gcTombstoneGraceMs,
      concurrency: config.auditConcurrency,
      clock,
    });
    const rebalance = new RebalanceWorker({ nodeId, store, rings, peers: this.peers, figures: this.figures, logger, settleMs: config.rebalanceSettleMs, clock });
    const gc = new GcWorker({
      nodeId,
      store,
      rings,
      peers: this.peers,
      figures: this.figures,
      logger,
      tombstoneGraceMs: config.gcTombstoneGraceMs,
      uploadExpiryMs: config.gcUploadExpiryMs,
      settleMs: config.gcSettleMs,
      // Without rebalance there is no move to wait for; with it, only a finished one settles the sets.
      placementSettled: config.rebalance ? () => rebalance.settled(rings.current?.epoch ?? 0) : () => true,
      clock,
    });
    this.publishers = new EventPublishers({ region: options.region ?? DEFAULTS.region, readRecord: (name) => store.userRecord(name), replicators: options.replicators, ring: () => options.rings.current, logger, clock });
    const { passIdleMs, ...tuning } = options.eventDelivery ?? {};
    const delivery = new ChangeDelivery({
      nodeId,
      changes: store.changes,
      rings,
      peers: this.peers,
      publishers: this.publishers,
      settleReplication: (outcomes) => store.settleReplication(outcomes),
      figures: this.deliveryFigures,
      region: options.region ?? DEFAULTS.region,
      logger,
      ...tuning,
      clock,
    });
    this.runners = {
      scrub: new WorkerRunner({ worker: scrub, cursors, logger, foreground, idleMs: config.scrubIntervalMs, limits: { bytesPerSecond: config.scrubBytesPerSecond }, clock }),
      repair: repairRunner,
      audit: new WorkerRunner({ worker: audit, cursors, logger, foreground, idleMs: config.auditIntervalMs, clock }),
      intents: new WorkerRunner({ worker: new IntentResolver({ nodeId, store, rings, peers: this.peers, logger, clock }), cursors, logger, foreground, idleMs: DEFAULTS.indexIntentPassMs, clock }),
      splits: new WorkerRunner({
        worker: new IndexSplitter({ nodeId, store, rings, peers: this.peers, logger, splitKeys: config.indexSplitKeys, stageWaitMs: config.indexSplitWaitMs, clock }),
        cursors,
        logger,
        foreground,
        idleMs: config.indexSplitIntervalMs,
        clock,
      }),
      events: new WorkerRunner({ worker: delivery, cursors, logger, foreground, idleMs: passIdleMs ?? DEFAULT_DELIVERY_PASS_MS, clock }),
      ...(config.rebalance
        ? { rebalance: new WorkerRunner({ worker: rebalance, cursors, logger, foreground, idleMs: config.rebalanceIntervalMs, limits: { bytesPerSecond: config.rebalanceBytesPerSecond }, clock }) }
        : {}),
      ...(config.gc ? { gc: new WorkerRunner({ worker: gc, cursors, logger, foreground, idleMs: config.gcIntervalMs, limits: { itemsPerSecond: config.gcKeysPerSecond }, clock }) } : {}),
      ...(config.lifecycle
        ? {
            lifecycle: new WorkerRunner({
              worker: new LifecycleWorker({
                nodeId,
                store,
                rings,
                peers: this.peers,
                figures: this.figures,
                logger,
                dayMs: config.lifecycleDaySeconds * 1000,
                // A few passes without an answer, not one slow round, hands a leader's keys to the next member.
                leaderSilenceMs: 3 * config.lifecycleIntervalMs,
                clock,
              }),
              cursors,
              logger,
              foreground,
              idleMs: config.lifecycleIntervalMs,
              limits: { itemsPerSecond: config.lifecycleKeysPerSecond },
              clock,
            }),
          }
        : {}),
    };
  }

  /** Starts every runner (each resumes from its persisted cursor). */
  async start(): Promise<void> {
    for (const runner of Object.values(this.runners)) await runner.start();
  }

  /** Stops every runner promptly and closes peer connections. */
  async close(): Promise<void> {
    await Promise.all(Object.values(this.runners).map((runner) => runner.close()));
    await this.publishers.close();
    await this.peers.close();
  }

  /** Starts a full scrub pass now (and an audit pass, so what the scrub cannot see — other nodes' losses — is found too). */
  startScrub(fast: boolean): void {
    this.figures.scrub.asked += 1;
    this.runners.scrub.restartPass(fast);
    this.runners.audit.restartPass(fast);
  }

  /** Wakes rebalance and audit, e.g. after a newer ring was adopted. */
  ringChanged(): void {
    this.runners.rebalance?.kick();
    this.runners.audit.kick();
  }

  /** Figures and runner states for `tessera admin status`. */
  workStatus(): NodeWorkStatus {
    const clock = this.options.clock ?? Date.now;
    const snapshot = this.figures.snapshot(clock());
    const { scrub, repair, audit, rebalance, gc, lifecycle, intents, splits, events } = this.runners;
    const off = (name: string): WorkerReport => ({ name, running: false, worker: { enabled: false } });
    return {
      nodeId: this.options.nodeId,
      ringEpoch: this.options.rings.current?.epoch ?? 0,
      quarantinedShards: this.options.store.stats.quarantinedShards,
      figures: snapshot,
      workers: { scrub: scrub.status(), repair: repair.status(), audit: audit.status(), rebalance: rebalance?.status() ?? off('rebalance'), gc: gc?.status() ?? off('gc'), lifecycle: lifecycle?.status() ?? off('lifecycle'), intents: intents.status(), splits: splits.status(), events: events.status() },
      events: this.deliveryFigures.snapshot(clock()),
    };
  }
}

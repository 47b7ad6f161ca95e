import type { Logger } from '../../common/index.js';
import type { RingStore } from '../ring-store.js';
import type { ShardStore } from '../shard-store.js';
import type { HealingFigures } from './healing-figures.js';
import type { PeerClients } from './peer-clients.js';
/** What one step of a background worker did: the runner throttles on these figures and persists the cursor. */
export interface StepResult {
  /** Items handled (shards verified, repairs attempted, keys examined). */
  items: number;
  /** Bytes read or written, for bytes/s limits. */
  bytes: number;
  /** Where to resume after a restart; null when a pass ended (the next pass starts from the beginning). */
  cursor: string | null;
  /** True when there is nothing to do now: the runner waits its idle pause (or a kick) before the next step. */
  idle: boolean;
}

/** A worker's own figures, shown in status output. */
export type WorkerStatus = Record<string, number | string | boolean | null>;

/**
 * A background job on a storage node. `step` does a small bounded amount of work and returns; it must
 * stop promptly when `signal` aborts. The runner decides when the next step runs.
 */
export interface Worker {
  readonly name: string;
  step(signal: AbortSignal): Promise<StepResult>;
  status(): WorkerStatus;
  /** Called once before the first step with the persisted cursor (null on a first start). */
  resume?(cursor: string | null): void;
  /** Starts a new pass now (an operator's `admin scrub`); workers without passes ignore it. */
  restart?(): void;
}

/**
 * What every node worker that talks to its peers is built from: the node, its store and ring, and its
 * figures. `Store` names the part of the store a worker uses (its row families and calls), so each
 * worker's reach is written at its options.
 */
export interface NodeWorkerDeps<Store extends Partial<ShardStore> = ShardStore> {
  nodeId: string;
  store: Store;
  rings: RingStore;
  peers: PeerClients;
  figures: HealingFigures;
  logger: Logger;
  clock?: () => number;
}

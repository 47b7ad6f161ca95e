import { FIRST_RING_EPOCH, parseRing } from '../../placement/index.js';
import type { NodeClient } from '../../rpc/index.js';
import type { Logger } from '../../common/index.js';
import type { ClusterView } from './cluster-view.js';

/** Nodes asked for their ring epochs at once: a search usually ends with its first wave. */
const WAVE_SIZE = 8;
/** Longest pause between background searches while no answer decides. */
const MAX_RETRY_MS = 60_000;

/**
 * How a search ended: a previous ring installed; the view kept what it had (the ring has no
 * predecessor the nodes know of, or the view already holds it or a newer one); or undecided, and
 * searching again in the background.
 */
export type PreviousRingSearch = 'installed' | 'kept' | 'undecided';

/** What a previous-ring finder needs. */
export interface PreviousRingFinderOptions {
  cluster: ClusterView;
  logger: Logger;
  /** Longest wait for one node's answer. */
  timeoutMs: number;
  /** First pause before searching again when no answer decided; it doubles up to a minute. */
  retryMs: number;
  random?: () => number;
}

/** What the nodes asked so far said about the gateway's current ring. */
interface Survey {
  /** The newest previous epoch reported by a node holding the current ring, and the nodes that reported it. */
  newest: { epoch: number; holders: NodeClient[] };
  /** Nodes that did not answer, or hold an older ring than the gateway's (its offer has not reached them). */
  unsure: number;
}

/**
 * Finds the ring the gateway's current ring replaced, for a gateway that did not see the change
 * itself: one started (or restarted, or a worker replaced) during a rebalance, or one that adopted a
 * ring skipping epochs. Without it a read looks only in the new sets (or in sets two rings old) and
 * answers NoSuchKey for what the rebalance has not moved yet.
 *
 * Who is asked: the nodes of the current ring, eight at a time in random order, for their ring epochs
 * (the unauthenticated GET /health, a few hundred bytes); the ring document itself (signed GET
 * /v1/ring/previous, as large as the partition table) comes from one node. A node's answer counts
 * only if it holds the gateway's ring: its previous ring is then the one that ring replaced there.
 * Nodes the change added hold none and a node that skipped an epoch holds an older one, so the newest
 * reported wins, and the search stops early once a node reports the epoch just below, which nothing
 * can beat. Every node is asked only when none reports it.
 *
 * When no answer decides (no node holds a previous ring, and some nodes did not answer or have not
 * yet taken the gateway's ring), the gateway starts and serves anyway, reading the current sets only
 * (after a skipped epoch, those of the ring it held before as well): refusing to start would turn a
 * partial outage of the nodes into a full one. It logs a warning and
 * searches again in the background, `retryMs` later, doubling the pause up to a minute, until an
 * answer decides or the ring changes. When every node answered with the gateway's ring (or a newer
 * one) and none holds a previous ring, there is none to find (a cluster's nodes from before previous
 * rings were kept, until the next change) and the search ends.
 */
export class PreviousRingFinder {
  private readonly options: PreviousRingFinderOptions;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by each `find`: the background searches of an earlier call stop. */
  private generation = 0;
  private closed = false;

  constructor(options: PreviousRingFinderOptions) {
    this.options = options;
  }

  /**
   * Searches now for the ring the current one replaced and installs it; resolves once this first
   * search ends. An undecided search is repeated in the background (see the class comment).
   */
  async find(): Promise<PreviousRingSearch> {
    this.generation += 1;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.attempt(this.generation, this.options.cluster.current.epoch, 0);
  }

  /** Stops searching in the background. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private async attempt(generation: number, epoch: number, failures: number): Promise<PreviousRingSearch> {
    const outcome = await this.search(epoch).catch((err: unknown) => {
      this.options.logger.warn({ err, epoch }, 'looking for the previous ring failed');
      return 'undecided' as const;
    });
    const stale = this.closed || generation !== this.generation || this.options.cluster.current.epoch !== epoch;
    if (outcome !== 'undecided' || stale) return outcome;
    const retryMs = Math.min(this.options.retryMs * 2 ** failures, MAX_RETRY_MS);
    const fields = { epoch, retryMs };
    if (failures === 0) this.options.logger.warn(fields, 'no storage node handed over the ring the current one replaced; reads see only the current sets until one does');
    else this.options.logger.debug(fields, 'the previous ring is still unknown');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt(generation, epoch, failures + 1);
    }, retryMs);
    this.timer.unref();
    return outcome;
  }

  private async search(epoch: number): Promise<PreviousRingSearch> {
    // The first ring replaced none.
    if (epoch <= FIRST_RING_EPOCH) return 'kept';
    const survey = await this.survey(epoch);
    for (const client of survey.newest.holders) {
      try {
        const ring = parseRing(await client.fetchPreviousRing({ signal: AbortSignal.timeout(this.options.timeoutMs) }));
        // The node may have taken a newer ring since it answered: then this is not the ring asked for.
        if (ring.epoch !== survey.newest.epoch) continue;
        const installed = await this.options.cluster.installPrevious(ring, epoch);
        if (installed) this.options.logger.info({ epoch, previousEpoch: ring.epoch, node: client.nodeId }, 'installed the previous ring from the storage nodes');
        return installed ? 'installed' : 'kept';
      } catch (err) {
        this.options.logger.debug({ err, node: client.nodeId }, 'a node reported a previous ring but did not hand it over');
      }
    }
    return survey.newest.holders.length === 0 && survey.unsure === 0 ? 'kept' : 'undecided';
  }

  /** Asks the current ring's nodes, a wave at a time, which rings they hold. */
  private async survey(epoch: number): Promise<Survey> {
    const pool = [...this.options.cluster.allNodes()];
    const random = this.options.random ?? Math.random;
    const survey: Survey = { newest: { epoch: 0, holders: [] }, unsure: 0 };
    while (pool.length > 0 && survey.newest.epoch < epoch - 1) {
      const wave: NodeClient[] = [];
      while (wave.length < WAVE_SIZE && pool.length > 0) wave.push(...pool.splice(Math.floor(random() * pool.length), 1));
      await Promise.all(wave.map((client) => this.ask(client, epoch, survey)));
    }
    return survey;
  }

  private async ask(client: NodeClient, epoch: number, survey: Survey): Promise<void> {
    let health;
    try {
      health = await client.health({ signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch {
      survey.unsure += 1;
      return;
    }
    if (health.ringEpoch < epoch) survey.unsure += 1;
    // A node on a newer ring knows the ring that one replaced, not ours: the gateway adopts the newer
    // ring soon, and searches again if it skipped ours.
    if (health.ringEpoch !== epoch) return;
    const previous = health.previousRingEpoch ?? 0;
    if (previous === 0 || previous >= epoch) return;
    if (previous > survey.newest.epoch) survey.newest = { epoch: previous, holders: [client] };
    else if (previous === survey.newest.epoch) survey.newest.holders.push(client);
  }
}

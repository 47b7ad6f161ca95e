import { readFile } from 'node:fs/promises';
import { watchFile, unwatchFile, type Stats } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRing, planChange, type Ring } from '../../placement/index.js';
import { NodeClient } from '../../rpc/index.js';
import type { Logger } from '../../common/index.js';

/** Reads and validates a ring file. */
export async function loadRingFile(path: string): Promise<Ring> {
  return parseRing(await readFile(path, 'utf8'));
}

/**
 * Follows a ring file: when it changes and holds a newer epoch, hands the ring to `adopt` and logs
 * the change plan (partitions whose node sets changed). Polls the file's stat, which works on every
 * file system and for files replaced by rename, as `tessera ring` writes them.
 */
export class RingFileWatcher {
  private readonly path: string;
  private readonly logger: Logger;
  private readonly adopt: (ring: Ring) => Promise<boolean>;
  private readonly current: () => Ring;
  private readonly intervalMs: number;
  private readonly listener = (now: Stats, previous: Stats): void => {
    if (now.mtimeMs !== previous.mtimeMs || now.ino !== previous.ino) void this.reload();
  };

  constructor(options: { path: string; logger: Logger; current: () => Ring; adopt: (ring: Ring) => Promise<boolean>; intervalMs?: number }) {
    this.path = options.path;
    this.logger = options.logger;
    this.adopt = options.adopt;
    this.current = options.current;
    this.intervalMs = options.intervalMs ?? 2_000;
  }

  /** Starts watching. */
  start(): void {
    watchFile(this.path, { interval: this.intervalMs, persistent: false }, this.listener);
  }

  /** Reads the file now and adopts it if newer; a bad file is logged and the current ring kept. */
  async reload(): Promise<boolean> {
    try {
      const ring = await loadRingFile(this.path);
      const previous = this.current();
      if (ring.epoch <= previous.epoch) return false;
      const plan = planChange(previous, ring);
      const adopted = await this.adopt(ring);
      if (adopted) {
        this.logger.info({ fromEpoch: plan.fromEpoch, toEpoch: plan.toEpoch, partitionsMoved: plan.moves.length }, 'adopted a newer ring');
      }
      return adopted;
    } catch (err) {
      this.logger.error({ err, path: this.path }, 'ring file unreadable; keeping the current ring');
      return false;
    }
  }

  /** Stops watching. */
  close(): void {
    unwatchFile(this.path, this.listener);
  }
}

/** What the gateway's ring follower needs. */
export interface NodeRingFollowerOptions {
  /** Storage nodes ("host:port") asked first and always; the ring's own nodes are asked as well. */
  seeds: readonly string[];
  clusterSecret: string;
  logger: Logger;
  /** The ring in use; undefined until the first one is adopted. */
  current: () => Ring | undefined;
  /** Clients of the nodes of the ring in use (the cluster view's keep-alive pools). */
  ringNodes: () => readonly NodeClient[];
  adopt: (ring: Ring) => Promise<boolean>;
  intervalMs: number;
  /** Longest wait for one node's answer: a node behind a cut link must not hold a round up. */
  timeoutMs: number;
  /** Ring nodes asked per round besides the seeds; every node holds the pushed ring, so a few suffice. */
  sampleSize?: number;
  random?: () => number;
  /** Wall clock (ms since the epoch) that dates each round. */
  clock: () => number;
}

/** Epochs the nodes asked in one round reported, and the clients that reported them. */
interface RoundAnswers {
  answered: number;
  asked: number;
  newest: { epoch: number; holders: NodeClient[] };
}

/**
 * Follows the ring the storage nodes hold, so a gateway needs no ring file and keeps no state:
 * `tessera ring push` gives every node a new epoch, and each gateway finds it on its next round.
 * A round asks the seeds and a few random nodes of the current ring for their ring epoch (the
 * unauthenticated GET /health), then fetches the ring (signed GET /v1/ring) only from a node that
 * reported a newer epoch than the gateway's. The newest epoch among the answers wins.
 */
export class NodeRingFollower {
  private readonly options: NodeRingFollowerOptions;
  private readonly seedClients: NodeClient[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private closed = false;
  private lastRound: { answered: number; asked: number; atMs: number } | undefined;

  constructor(options: NodeRingFollowerOptions) {
    this.options = options;
    this.seedClients = [...new Set(options.seeds)].map(
      (address) => new NodeClient({ nodeId: `seed ${address}`, idUnknown: true, address, clusterSecret: options.clusterSecret, connections: 1, headersTimeoutMs: options.timeoutMs }),
    );
  }

  /** Asks until some node holds a ring and returns the newest one found; waits `intervalMs` between rounds. */
  async initialRing(signal?: AbortSignal): Promise<Ring> {
    for (let round = 1; ; round += 1) {
      const found = await this.fetchNewer(0);
      if (found !== undefined) return found;
      this.options.logger.warn({ seeds: this.options.seeds, round, answered: this.lastRound?.answered ?? 0 }, 'no storage node holds a ring yet; retrying (tessera cluster init --push or tessera ring push)');
      if (this.closed) throw new Error('stopped while waiting for a ring');
      await sleep(this.options.intervalMs, undefined, signal === undefined ? {} : { signal });
    }
  }

  /** Starts polling every `intervalMs`. */
  start(): void {
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.poll().finally(() => {
          if (!this.closed) tick();
        });
      }, this.options.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** One round now; resolves true when a newer ring was adopted. Concurrent calls share a round. */
  async poll(): Promise<boolean> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Whether the last round reached any node (a gateway that reaches none should not take traffic). */
  get reachable(): boolean {
    return this.lastRound === undefined || this.lastRound.answered > 0;
  }

  /** What the last round saw, for the health endpoint. */
  get status(): { answered: number; asked: number; atMs: number } | undefined {
    return this.lastRound;
  }

  /** Stops polling and closes the seed connections. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.all(this.seedClients.map((client) => client.close()));
  }

  private async round(): Promise<boolean> {
    const current = this.options.current();
    try {
      const ring = await this.fetchNewer(current?.epoch ?? 0);
      if (ring === undefined || current === undefined) return false;
      const plan = planChange(current, ring);
      const adopted = await this.options.adopt(ring);
      if (adopted) this.options.logger.info({ fromEpoch: plan.fromEpoch, toEpoch: plan.toEpoch, partitionsMoved: plan.moves.length }, 'adopted a newer ring from the storage nodes');
      return adopted;
    } catch (err) {
      this.options.logger.error({ err }, 'ring poll failed; keeping the current ring');
      return false;
    }
  }

  /** The newest ring the asked nodes hold, if its epoch is above `epoch`. */
  private async fetchNewer(epoch: number): Promise<Ring | undefined> {
    const answers = await this.ask(this.candidates());
    this.lastRound = { answered: answers.answered, asked: answers.asked, atMs: this.options.clock() };
    if (answers.newest.epoch <= epoch) return undefined;
    for (const client of answers.newest.holders) {
      try {
        const ring = parseRing(await client.fetchRing({ signal: AbortSignal.timeout(this.options.timeoutMs) }));
        if (ring.epoch > epoch) return ring;
      } catch (err) {
        this.options.logger.warn({ err, node: client.nodeId }, 'a node reported a newer ring but did not hand it over');
      }
    }
    return undefined;
  }

  private candidates(): NodeClient[] {
    const byAddress = new Map(this.seedClients.map((client) => [client.address, client]));
    const pool = this.options.ringNodes().filter((client) => !byAddress.has(client.address));
    const random = this.options.random ?? Math.random;
    for (let picked = 0; picked < (this.options.sampleSize ?? 3) && pool.length > 0; picked += 1) {
      const [client] = pool.splice(Math.floor(random() * pool.length), 1);
      if (client !== undefined) byAddress.set(client.address, client);
    }
    return [...byAddress.values()];
  }

  private async ask(clients: readonly NodeClient[]): Promise<RoundAnswers> {
    const newest = { epoch: 0, holders: [] as NodeClient[] };
    let answered = 0;
    await Promise.all(
      clients.map(async (client) => {
        try {
          const health = await client.health({ signal: AbortSignal.timeout(this.options.timeoutMs) });
          answered += 1;
          if (health.ringEpoch > newest.epoch) {
            newest.epoch = health.ringEpoch;
            newest.holders = [client];
          } else if (health.ringEpoch === newest.epoch && newest.epoch > 0) {
            newest.holders.push(client);
          }
        } catch {
          // Unreachable or slow: the next round asks again, and other nodes carry the same ring.
        }
      }),
    );
    return { answered, asked: clients.length, newest };
  }
}

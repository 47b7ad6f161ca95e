import { LRUCache } from 'lru-cache';
import { TurnQueue } from '../../common/index.js';
import type { BucketRecord } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';

/**
 * Bucket lookups that may be asking the nodes at once. Each asks a majority of every node for its
 * whole bucket list, so this bounds what requests naming buckets that are not cached (a flood of
 * made-up names, most of all) can make the nodes do, whatever the cluster's size.
 */
export const MAX_ACTIVE_BUCKET_LOOKUPS = 16;

/** Lookups that may wait for a turn; past that a request is refused with SlowDown. */
const MAX_QUEUED_BUCKET_LOOKUPS = 1_024;

/** How long a lookup may wait for a turn before its request is refused with SlowDown. */
const BUCKET_LOOKUP_WAIT_MS = 5_000;

/** Names remembered as missing: bounded against a flood of made-up names, least recently used out first. */
const MISS_CACHE_ENTRIES = 10_000;

/** One lookup of a name that requests from no one in particular share. */
interface Flight {
  result: Promise<BucketRecord | undefined>;
  stop: AbortController;
  waiters: number;
}

/**
 * Bucket lookups at the nodes, each costing a fan-out, made cheap to ask for again:
 * - a name that is missing is remembered for `missTtlMs` (the positive cache's TTL: a bucket created
 *   through another gateway is seen within it), but only requests that are not signed are told so
 *   from memory. A signed request always asks the nodes, so HeadBucket, CreateBucket and PutObject
 *   through two gateways (or two workers of one) see the new bucket at once.
 * - unsigned requests naming one name share one lookup in flight; it stops once all have left.
 * - at most MAX_ACTIVE_BUCKET_LOOKUPS ask the nodes at once; the next wait their turn, in order,
 *   for a bounded time, and past the queue's bound are refused with SlowDown.
 * A bucket created, changed or deleted through this gateway is `invalidate`d: no lookup begun
 * before that is remembered or shared after it.
 */
export class BucketLookups {
  private readonly read: (name: string, signal: AbortSignal) => Promise<BucketRecord | undefined>;
  private readonly misses: LRUCache<string, true> | undefined;
  private readonly flights = new Map<string, Flight>();
  private readonly turns = new TurnQueue({ maxActive: MAX_ACTIVE_BUCKET_LOOKUPS, maxQueued: MAX_QUEUED_BUCKET_LOOKUPS, maxWaitMs: BUCKET_LOOKUP_WAIT_MS, refusal: busy });
  /** Counts invalidations: a lookup that began before the latest one does not remember its miss. */
  private generation = 0;

  constructor(options: { read: (name: string, signal: AbortSignal) => Promise<BucketRecord | undefined>; missTtlMs: number; perf?: { now(): number } }) {
    this.read = options.read;
    // lru-cache reads a TTL of 0 as "never stale": no remembering at all is meant. Its clock is read on
    // every look (ttlResolution 0), which costs little and lets a test's clock be followed exactly.
    this.misses =
      options.missTtlMs > 0
        ? new LRUCache({ max: MISS_CACHE_ENTRIES, ttl: options.missTtlMs, ttlResolution: 0, ...(options.perf === undefined ? {} : { perf: options.perf }) })
        : undefined;
  }

  /** Lookups asking the nodes now, and lookups waiting for a turn. */
  get figures(): { active: number; queued: number } {
    return { active: this.turns.active, queued: this.turns.queued };
  }

  /**
   * The live record of `name` (undefined: no such bucket). `signed`: the request proved who sent it,
   * and is answered from the nodes as they are now, never from a remembered miss or a shared lookup
   * begun before it arrived.
   */
  async find(name: string, signal: AbortSignal, signed: boolean): Promise<BucketRecord | undefined> {
    if (signed) return this.lookUp(name, signal);
    if (this.misses?.has(name) === true) return undefined;
    let flight = this.flights.get(name);
    if (flight === undefined) {
      const stop = new AbortController();
      const started: Flight = { result: this.lookUp(name, stop.signal), stop, waiters: 0 };
      started.result.then(
        () => this.land(name, started),
        () => this.land(name, started),
      );
      this.flights.set(name, started);
      flight = started;
    }
    return this.join(flight, name, signal);
  }

  /** Forgets what is known of `name`: it was just created, changed or deleted through this gateway. */
  invalidate(name: string): void {
    this.generation += 1;
    this.misses?.delete(name);
    this.flights.delete(name);
  }

  private land(name: string, flight: Flight): void {
    if (this.flights.get(name) === flight) this.flights.delete(name);
  }

  /** Waits for `flight` as one of its waiters; the last waiter to leave stops it. */
  private join(flight: Flight, name: string, signal: AbortSignal): Promise<BucketRecord | undefined> {
    flight.waiters += 1;
    return new Promise((resolve, reject) => {
      const leave = (): void => {
        flight.waiters -= 1;
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        leave();
        if (flight.waiters === 0) {
          // Nobody wants the answer any more: the lookup stops, and the next request starts afresh.
          this.land(name, flight);
          flight.stop.abort(signal.reason);
        }
        reject(signal.reason as Error);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      flight.result.then(
        (record) => {
          leave();
          resolve(record);
        },
        (err: unknown) => {
          leave();
          reject(err as Error);
        },
      );
    });
  }

  /** One lookup at the nodes in its turn; a miss is remembered unless the name was invalidated meanwhile. */
  private async lookUp(name: string, signal: AbortSignal): Promise<BucketRecord | undefined> {
    const generation = this.generation;
    const release = await this.turns.enter(signal);
    try {
      const record = await this.read(name, signal);
      if (record !== undefined) this.misses?.delete(name);
      else if (generation === this.generation) this.misses?.set(name, true);
      return record;
    } finally {
      release();
    }
  }
}

function busy(): S3Error {
  return new S3Error('SlowDown', { message: 'The gateway is looking up as many buckets as it can; please retry.', headers: { 'retry-after': '1' } });
}

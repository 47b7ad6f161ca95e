import { LRUCache } from 'lru-cache';
import type { HybridClock } from '../../common/index.js';
import { decideQuorum, fanOutUntil, isNewerRecord, majority, newestByName, withFurthestIndex, type BucketRecord } from '../../rpc/index.js';
import type { ClusterView } from '../cluster/index.js';
import { isSlowQuorumLoss, quorumError, S3Error, validateBucketName } from '../s3/index.js';
import { listObjects } from './list-merge.js';
import { listVersions } from './list-versions.js';
import { BucketLookups } from './bucket-lookups.js';
import { BucketUsageReader } from './bucket-usage.js';
import { acquireKeyLease, type LeaseScope } from './key-lease.js';
import { ReadDeadline } from './read-retry.js';
import { withTimeout } from './request-scope.js';

/**
 * Where the lease that orders changes of one bucket's record lives: the set of nodes the placement gives
 * this name and the bucket's name as key. Not a bucket name S3 allows, so no object key shares it.
 */
const BUCKET_RECORD_LEASES = '.bucket-records';

/** Most bucket records a gateway keeps cached: enough for any real deployment, bounded against a flood of names. */
const BUCKET_CACHE_ENTRIES = 10_000;

/**
 * Bucket records live on every node; a majority must answer a read or acknowledge a write, so any
 * two majorities overlap and the newest record (by version id) is always seen.
 * Positive lookups are cached briefly (bounded, least recently used first out) because every object
 * request needs one. "No such bucket" is remembered as briefly, but told from memory only to requests
 * that are not signed (bucket-lookups.ts): a bucket created through another gateway (or another
 * worker of this one) must be usable at once by its owner, while anonymous requests and CORS
 * preflights naming missing buckets must not each cost a fan-out to every node.
 */
export class BucketService {
  private readonly cluster: ClusterView;
  private readonly clock: HybridClock;
  /** The configured floor of a node call's deadline; the cluster stretches it to follow observed latency. */
  private readonly nodeTimeoutFloorMs: number;
  private readonly cache: LRUCache<string, BucketRecord>;
  private readonly cacheTtlMs: number;
  private readonly lookups: BucketLookups;
  /** The buckets' usage, from the nodes' counters (quotas, metrics, the admin command). */
  readonly usage: BucketUsageReader;

  constructor(options: { cluster: ClusterView; clock: HybridClock; cacheTtlMs: number; nodeTimeoutMs: number }) {
    this.cluster = options.cluster;
    this.clock = options.clock;
    this.cacheTtlMs = options.cacheTtlMs;
    this.cache = new LRUCache({ max: BUCKET_CACHE_ENTRIES, ttl: options.cacheTtlMs });
    this.lookups = new BucketLookups({ read: (name, signal) => this.readLive(name, signal), missTtlMs: options.cacheTtlMs });
    this.nodeTimeoutFloorMs = options.nodeTimeoutMs;
    this.usage = new BucketUsageReader({ cluster: options.cluster, nodeTimeoutMs: () => this.nodeTimeoutMs });
  }

  /** Bucket lookups asking the nodes now, and waiting for a turn to. */
  get lookupFigures(): { active: number; queued: number } {
    return this.lookups.figures;
  }

  /** One node call's deadline now: the floor, stretched while the nodes answer slowly. */
  private get nodeTimeoutMs(): number {
    return this.cluster.deadlineMs(this.nodeTimeoutFloorMs);
  }

  /** Live buckets, sorted by name. */
  async list(signal: AbortSignal): Promise<BucketRecord[]> {
    const newest = await this.readAll(signal);
    return [...newest.values()].filter((record) => !record.deleted).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Drops the cached record of `name`: a node refused a write into it as a bucket deleted since. */
  forget(name: string): void {
    this.cache.delete(name);
    this.lookups.invalidate(name);
  }

  /**
   * The bucket's record, or NoSuchBucket. `anonymous`: the request is not signed (an anonymous
   * principal, a CORS preflight), and may be told of a miss seen moments ago.
   */
  async require(name: string, signal: AbortSignal, options: { anonymous?: boolean } = {}): Promise<BucketRecord> {
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    try {
      validateBucketName(name);
    } catch {
      // Every bucket was created with a valid name: no node need be asked about any other.
      throw new S3Error('NoSuchBucket', { fields: { BucketName: name } });
    }
    const record = await this.lookups.find(name, signal, options.anonymous !== true);
    if (record === undefined) {
      this.cache.delete(name);
      throw new S3Error('NoSuchBucket', { fields: { BucketName: name } });
    }
    this.remember(record);
    return record;
  }

  /** Caches `record` unless a newer one of its name is cached (written here while it was being read). */
  private remember(record: BucketRecord): void {
    // lru-cache reads a TTL of 0 as "never stale": no caching at all is meant.
    if (this.cacheTtlMs <= 0) return;
    const cached = this.cache.get(record.name);
    if (cached === undefined || isNewerRecord(record, cached)) this.cache.set(record.name, record);
  }

  /** The live record of `name` as a majority holds it; undefined when there is none or it is deleted. */
  private async readLive(name: string, signal: AbortSignal): Promise<BucketRecord | undefined> {
    const record = (await this.readAll(signal)).get(name);
    return record === undefined || record.deleted ? undefined : record;
  }

  /**
   * Creates a bucket owned by `owner` (undefined: the administrator) with `grants` as its ACL;
   * 'existed' when that owner already has it and 'taken' when someone else does. Nothing is written
   * for an existing bucket.
   */
  async create(
    name: string,
    signal: AbortSignal,
    init: { owner?: string | undefined; grants?: BucketRecord['grants']; ownership?: string; objectLock?: BucketRecord['objectLock'] | undefined } = {},
  ): Promise<'created' | 'existed' | 'taken'> {
    validateBucketName(name);
    return this.underLease(name, signal, async (existing) => {
      if (existing !== undefined && !existing.deleted) return existing.owner === init.owner ? 'existed' : 'taken';
      const record: BucketRecord = {
        name,
        versionId: this.clock.next(),
        createdMs: this.clock.nowMs(),
        deleted: false,
        // Every version of a new bucket, and of its multipart uploads, goes to its index from the start (bucket-index.ts).
        index: { shards: [{ id: 0, from: '' }], uploads: true },
        ...(init.owner === undefined ? {} : { owner: init.owner }),
        ...(init.grants === undefined ? {} : { grants: init.grants }),
        ...(init.ownership === undefined ? {} : { ownership: init.ownership }),
        ...(init.objectLock === undefined ? {} : { objectLock: init.objectLock, versioning: 'Enabled' as const }),
      };
      await this.write(record, signal);
      this.lookups.invalidate(name);
      this.remember(record);
      return 'created';
    });
  }

  /**
   * Writes a changed bucket record (CORS rules, tags, a lock) as a new version, from the record as it is
   * now: changes of one bucket, through any gateways, take the name's lease one at a time, so none
   * undoes another. `createdMs`: the bucket the request was authorised against; a bucket deleted and
   * created again since (perhaps by another owner) is not that bucket, and the change is NoSuchBucket.
   */
  async update(name: string, change: (record: BucketRecord) => BucketRecord, signal: AbortSignal, createdMs?: number): Promise<BucketRecord> {
    return this.underLease(name, signal, async (current) => {
      const live = liveRecord(name, current, createdMs);
      const next: BucketRecord = { ...change(live), name, versionId: this.clock.next(), deleted: false };
      await this.write(next, signal);
      this.lookups.invalidate(name);
      this.remember(next);
      return next;
    });
  }

  /**
   * Deletes an empty bucket, under the name's lease and from its record as it is now (a cached one may
   * not know versioning was enabled, and a bucket with versions left must stay). `createdMs` as for update.
   *
   * Writes in flight must not land in the bucket after it is found empty (bucket-incarnations.md): the
   * bucket is first closed on every node, and a node acknowledges that only once every commit it took
   * into the bucket is applied, refusing any after. The emptiness check then reads every node, and the
   * delete writes the tombstone, or reopens the bucket when it is not empty or the check failed.
   */
  async delete(name: string, signal: AbortSignal, createdMs?: number): Promise<void> {
    await this.underLease(name, signal, async (current) => {
      const open = liveRecord(name, current, createdMs);
      this.cache.delete(name);
      this.lookups.invalidate(name);
      try {
        // Every node, not a majority: each must refuse commits into the bucket from now on.
        await retryWhileSlow(signal, () => this.writeOnce({ ...open, versionId: this.clock.next(), closing: true }, signal, 'all'));
        await this.requireEmpty(open, signal);
        await this.write({ ...open, versionId: this.clock.next(), deleted: true }, signal);
      } catch (err) {
        // Not deleted (or not known to be): open, rather than closed to every write until the next change.
        await this.reopen(open);
        throw err;
      }
    });
  }

  /**
   * Writes the bucket's record open again after a delete that closed it did not go through. Not on the
   * client's signal: a bucket left closed refuses every write until the next change of it (which
   * reopens it, or deletes it); failing here leaves it to that change.
   */
  private async reopen(open: BucketRecord): Promise<void> {
    await this.writeOnce({ ...open, versionId: this.clock.next() }, withTimeout(undefined, this.nodeTimeoutMs)).catch(() => undefined);
  }

  /** BucketNotEmpty unless every node reports no object in the bucket (and, under versioning, no version either). */
  private async requireEmpty(record: BucketRecord, signal: AbortSignal): Promise<void> {
    const { name } = record;
    const nodes = this.cluster.allNodes();
    // The emptiness checks are reads: a round lost only to slow nodes is run again, as a listing's is,
    // each page with the deadline of its own moment (it stretches while the nodes answer slowly). Every
    // node must answer: a node acknowledged the closing record only with every commit it took applied,
    // and a version committed on fewer nodes than a write quorum (its other commits refused) is on one
    // node alone.
    const deadline = new ReadDeadline();
    const page = await listObjects(
      nodes,
      { bucket: name, prefix: '', delimiter: '', after: '', afterIsPrefix: false, maxKeys: 1 },
      0,
      signal,
      () => this.nodeTimeoutMs,
      deadline,
    );
    if (page.objects.length > 0) throw new S3Error('BucketNotEmpty', { fields: { BucketName: name } });
    if (record.versioning !== undefined) {
      // S3 keeps a bucket while any version or delete marker remains in it.
      const versions = await listVersions(
        nodes,
        { bucket: name, prefix: '', delimiter: '', after: '', afterVersion: undefined, afterIsPrefix: false, maxKeys: 1 },
        0,
        signal,
        () => this.nodeTimeoutMs,
        deadline,
      );
      if (versions.versions.length > 0) throw new S3Error('BucketNotEmpty', { fields: { BucketName: name } });
    }
  }

  /**
   * Runs `change` with the record of `name` as a majority holds it now, under the exclusive lease that
   * orders every create, update and delete of that name through any gateway (key-lease.ts): two users
   * creating one name are told apart, and a configuration change never brings back a deleted bucket.
   */
  private async underLease<T>(name: string, signal: AbortSignal, change: (current: BucketRecord | undefined) => Promise<T>): Promise<T> {
    // The lease's node calls follow observed latency as every bucket read does: a getter, read per round.
    const nodeTimeoutMs = (): number => this.nodeTimeoutMs;
    const scope: LeaseScope = {
      signal,
      services: {
        cluster: this.cluster,
        get metadataTimeoutMs() {
          return nodeTimeoutMs();
        },
      },
    };
    const lease = await acquireKeyLease(scope, BUCKET_RECORD_LEASES, name, 'Another change of this bucket is in progress; please retry.');
    try {
      return await change((await this.readAll(signal)).get(name));
    } finally {
      await lease.release();
    }
  }

  /**
   * Writes a bucket record to a majority. Sending the same record again is harmless (a node keeps the
   * newest version of each bucket), so a round lost only to slow nodes is run again, as readAll does.
   */
  private write(record: BucketRecord, signal: AbortSignal): Promise<void> {
    return retryWhileSlow(signal, () => this.writeOnce(record, signal));
  }

  private async writeOnce(record: BucketRecord, signal: AbortSignal, reach: 'majority' | 'all' = 'majority'): Promise<void> {
    const nodes = this.cluster.allNodes();
    const needed = reach === 'all' ? nodes.length : majority(nodes.length);
    // The remaining nodes still receive the record; the request does not wait for a hung one.
    const outcomes = await fanOutUntil(
      nodes,
      (node) => node.putBucket(record, { signal: withTimeout(signal, this.nodeTimeoutMs) }),
      (sofar) => sofar.filter((o) => o.ok).length >= needed,
    );
    const decision = decideQuorum(outcomes, needed);
    if (!decision.met) throw quorumError('bucket write', decision.failures);
  }

  /**
   * Every bucket record, newest of each name. Each node call has its own deadline (following observed
   * latency), and a round that lost its majority only to slow nodes is run again until `signal` ends
   * or the read deadline passes: given the request's own signal, a busy machine slows a request down
   * instead of failing it.
   */
  private readAll(signal: AbortSignal): Promise<Map<string, BucketRecord>> {
    return retryWhileSlow(signal, () => this.readAllOnce(signal));
  }

  private async readAllOnce(signal: AbortSignal): Promise<Map<string, BucketRecord>> {
    const nodes = this.cluster.allNodes();
    const needed = majority(nodes.length);
    // Any majority overlaps the majority that acknowledged the newest write, so it need not wait for more.
    const outcomes = await fanOutUntil(
      nodes,
      (node) => node.listBuckets({ signal: withTimeout(signal, this.nodeTimeoutMs) }),
      (sofar) => sofar.filter((o) => o.ok).length >= needed,
    );
    const decision = decideQuorum(outcomes, needed);
    if (!decision.met) throw quorumError('bucket read', decision.failures);
    const lists = decision.successes.map(({ value }) => value);
    for (const record of lists.flat()) this.clock.observe(record.versionId);
    const newest = newestByName(lists);
    // A split's steps are written by the node leading it; a record a gateway wrote meanwhile may carry
    // an older index under a newer version id on some nodes: the index that has come furthest holds.
    for (const record of lists.flat()) {
      const chosen = newest.get(record.name);
      if (chosen !== undefined) newest.set(record.name, withFurthestIndex(chosen, record));
    }
    return newest;
  }
}

/** Runs `round` until it succeeds, fails for another reason than slow nodes, or the read deadline passes. */
async function retryWhileSlow<T>(signal: AbortSignal, round: () => Promise<T>): Promise<T> {
  const deadline = new ReadDeadline();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await round();
    } catch (err) {
      if (!isSlowQuorumLoss(err) || !(await deadline.pause(attempt, signal))) throw err;
    }
  }
}

/**
 * The live record of `name`, open: NoSuchBucket when there is none, it is deleted, or it is another
 * bucket than the one of `createdMs`. A bucket a stopped DeleteBucket (a gateway that died) left
 * closing is live: the change about to be written from it opens it again, or a new delete carries on.
 */
function liveRecord(name: string, record: BucketRecord | undefined, createdMs: number | undefined): BucketRecord {
  if (record === undefined || record.deleted || (createdMs !== undefined && record.createdMs !== createdMs)) {
    throw new S3Error('NoSuchBucket', { fields: { BucketName: name } });
  }
  const { closing: _closing, ...open } = record;
  return open;
}

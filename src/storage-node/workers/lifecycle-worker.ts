import { DEFAULTS } from '../../common/index.js';
import type { RingLocator, RingNode } from '../../placement/index.js';
import {
  UPLOADS_BUCKET,
  currentExpiry,
  dueNoncurrent,
  fanOut,
  isNewerVersion,
  majority,
  newestByName,
  newestRecord,
  parseUploadKey,
  removesExpiredMarker,
  uploadAbortDate,
  writeQuorum,
  type BucketRecord,
  type LifecycleRule,
  type ObjectRecord,
} from '../../rpc/index.js';
import type { HashIndexEntry, StoredObject } from '../metadata-store.js';
import type { ShardStore } from '../shard-store.js';
import { versionAfter } from './gc-worker.js';
import { KeySetCalls } from './lifecycle-set-calls.js';
import { expiryRemovesForGood, versionIsLocked } from './version-lock.js';
import type { NodeWorkerDeps, StepResult, Worker, WorkerStatus } from './worker.js';

/** The store as lifecycle uses it: keys to walk, bucket rules, and the writes that expire. */
export type LifecycleStore = Pick<ShardStore, 'keyRows' | 'bucketRecord' | 'listBuckets' | 'listVersions' | 'objectStatus' | 'commit' | 'deleteVersion' | 'indexRows'>;

/** Construction parameters of the lifecycle worker. */
export interface LifecycleWorkerOptions extends NodeWorkerDeps<LifecycleStore> {
  /** Length of a lifecycle "day" (a real day; tests shorten it). */
  dayMs: number;
  keysPerStep?: number;
  peerTimeoutMs?: number;
  /**
   * How long a key's leader may go without answering before the next member of the set acts for it;
   * DEFAULT_LEADER_SILENCE_MS when absent.
   */
  leaderSilenceMs?: number;
}

/** How long a silent leader's keys wait for it by default before the next member of the set stands in. */
export const DEFAULT_LEADER_SILENCE_MS = 3 * 60 * 60 * 1000;

/** A bucket's rules and versioning state, as the pass read them from a majority of the nodes. */
interface BucketRules {
  rules: readonly LifecycleRule[];
  versioning: BucketRecord['versioning'];
  /** The record the rules were read from: they apply while it is still the bucket's (rulesInForce). */
  versionId: string;
}

/**
 * Applies buckets' lifecycle rules (S3's Expiration, NoncurrentVersionExpiration, ExpiredObjectDeleteMarker
 * and AbortIncompleteMultipartUpload). Each pass walks this node's placement index and acts only on keys
 * whose set this node leads (the first node the ring names for the key's partition), so one node decides
 * for each key. What it decides, it does through the node protocol on the whole set, as a client's request
 * through a gateway would, and only once a write quorum of the set confirms what this node sees:
 *
 * - A current version past its expiry gets a delete marker in a versioned bucket (the null marker while
 *   versioning is suspended) or a tombstone without versioning, exactly what DeleteObject writes. Its
 *   version id follows the expired version's, so any later write by a client still wins.
 * - A noncurrent version is removed for good `NoncurrentDays` after the write that made it noncurrent,
 *   except the newest `NewerNoncurrentVersions` noncurrent ones.
 * - A delete marker that is a key's only version left, on every member of its set, is removed (rules with
 *   ExpiredObjectDeleteMarker, and Expiration Days rules once the marker is older than their days).
 * - An upload open past its DaysAfterInitiation is aborted as AbortMultipartUpload does (a closing marker);
 *   the garbage collector then frees its parts.
 *
 * This node's own copy of a key only says whether to look: what is current, which versions are noncurrent,
 * the tags a filter sees and the locks are judged on the copies a write quorum of the set holds (the newest
 * copy of a version by tag revision), since this node may have missed a delete by id or a tag, hold or
 * retention change. Versions under Object Lock are never removed (versionIsLocked on any member's copy);
 * a delete marker over a locked version still is written, as in S3, since it removes nothing. Bucket
 * rules are re-read at the start of every pass, and a bucket whose record changed on this node since
 * (rules changed or removed, the bucket deleted or created anew) has none for the rest of the pass; a
 * pass over a cluster where no bucket has rules reads no keys at all.
 *
 * A leader that is down would hold its keys' rules back for as long as it stays down, so when it has not
 * answered for `leaderSilenceMs` (judged by the bucket-record round at the start of every pass, which asks
 * every node), the next member of the set that does answer acts instead. Two members acting on one key at
 * once (a leader back mid-pass) do no harm: every action is checked against a write quorum of the set and
 * is idempotent: a marker or tombstone takes the id that follows the expired version's, the same on
 * every member, and a version removed by id is removed once.
 */
export class LifecycleWorker implements Worker {
  readonly name = 'lifecycle';
  private readonly options: LifecycleWorkerOptions;
  private readonly clock: () => number;
  /** What the worker reads and writes on a key's set, each checked on a write quorum. */
  private readonly onSet: KeySetCalls;
  private after: HashIndexEntry | null = null;
  private buckets: Map<string, BucketRules> | null = null;
  /** When each other node last answered this worker's bucket-record round. */
  private readonly lastAnswerMs = new Map<string, number>();
  /** Silence is counted from here for a node never heard from. */
  private readonly startedMs: number;
  /** Whether a majority has answered a bucket-record round since start. */
  private heardMajority = false;
  /** Keys this node acted on in place of a silent leader, since start. */
  private stoodIn = 0;
  /** The action counters when the pass began, for its summary. */
  private passStart = { expired: 0, noncurrentRemoved: 0, markersRemoved: 0, uploadsAborted: 0 };

  constructor(options: LifecycleWorkerOptions) {
    this.options = options;
    this.onSet = new KeySetCalls(options);
    this.clock = options.clock ?? Date.now;
    this.startedMs = this.clock();
  }

  resume(cursor: string | null): void {
    if (cursor === null) return;
    const parsed = JSON.parse(cursor) as HashIndexEntry | null;
    if (parsed !== null && typeof parsed.hashHex === 'string') this.after = parsed;
  }

  restart(): void {
    this.after = null;
    this.buckets = null;
    this.options.figures.lifecycle.passStartedMs = null;
  }

  status(): WorkerStatus {
    return { at: this.after?.hashHex ?? null, bucketsWithRules: this.buckets === null ? null : this.buckets.size, keysForSilentLeaders: this.stoodIn };
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const fig = this.options.figures.lifecycle;
    const locator = this.options.rings.locator;
    if (fig.passStartedMs === null || this.buckets === null) {
      fig.passStartedMs = this.clock();
      this.passStart = { expired: fig.expired, noncurrentRemoved: fig.noncurrentRemoved, markersRemoved: fig.markersRemoved, uploadsAborted: fig.uploadsAborted };
      const buckets = locator === undefined ? new Map<string, BucketRules>() : await this.readBucketRules(locator, signal);
      // Peers still starting, or a ring from the last run naming their old ports: wait for the next round.
      if (buckets === null) {
        fig.passStartedMs = null;
        return { items: 0, bytes: 0, cursor: this.after === null ? null : JSON.stringify(this.after), idle: true };
      }
      this.buckets = buckets;
    }
    // Without a ring, or without a bucket that has rules, there is nothing to apply: the pass ends here.
    const page = locator === undefined || this.buckets.size === 0 ? [] : await this.options.store.keyRows.hashIndexPage(this.after, this.options.keysPerStep ?? DEFAULTS.gcKeysPerStep);
    for (const entry of page) {
      signal.throwIfAborted();
      try {
        await this.examine(locator as RingLocator, entry, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        this.options.logger.warn({ err, bucket: entry.bucket, key: entry.key }, 'lifecycle skipped a key this pass');
      }
      this.after = entry;
      fig.keysScanned += 1;
    }
    if (page.length > 0) return { items: page.length, bytes: 0, cursor: JSON.stringify(this.after), idle: false };
    const done = {
      expired: fig.expired - this.passStart.expired,
      noncurrentRemoved: fig.noncurrentRemoved - this.passStart.noncurrentRemoved,
      markersRemoved: fig.markersRemoved - this.passStart.markersRemoved,
      uploadsAborted: fig.uploadsAborted - this.passStart.uploadsAborted,
    };
    if (Object.values(done).some((count) => count > 0)) this.options.logger.info({ worker: this.name, ...done }, 'lifecycle pass applied rules');
    fig.passes += 1;
    fig.lastPassMs = this.clock();
    fig.passStartedMs = null;
    this.after = null;
    this.buckets = null;
    return { items: 1, bytes: 0, cursor: null, idle: true };
  }

  /** The rules of every live bucket that has any, from the newest records a majority of the nodes hold; null while peers start. */
  private async readBucketRules(locator: RingLocator, signal: AbortSignal): Promise<Map<string, BucketRules> | null> {
    const { nodeId, store, peers } = this.options;
    const nodes = locator.ring.nodes;
    const timeout = this.onSet.peerSignal(signal);
    const outcomes = await fanOut(nodes, (node) => (node.id === nodeId ? store.listBuckets() : peers.get(node).listBuckets({ signal: timeout })));
    signal.throwIfAborted();
    const now = this.clock();
    for (const outcome of outcomes) if (outcome.ok) this.lastAnswerMs.set(outcome.nodeId, now);
    const answers = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    // Fewer than a majority could miss the newest rules (a rule just removed): apply nothing this pass.
    // Until a majority first answers, that is a start, not a fault: a debug line and null, not a warning.
    if (answers.length < majority(nodes.length)) {
      if (!this.heardMajority) {
        this.options.logger.debug({ answered: answers.length, nodes: nodes.length }, 'lifecycle waits for a majority of peers');
        return null;
      }
      throw new Error(`lifecycle: only ${answers.length} of ${nodes.length} nodes answered for bucket records`);
    }
    this.heardMajority = true;
    const newest = newestByName<BucketRecord>(answers);
    const rules = new Map<string, BucketRules>();
    for (const record of newest.values()) {
      if (!record.deleted && record.lifecycle !== undefined && record.lifecycle.some((rule) => rule.enabled)) {
        rules.set(record.name, { rules: record.lifecycle, versioning: record.versioning, versionId: record.versionId });
      }
    }
    return rules;
  }

  /**
   * The rules this pass read for `bucket`, unless this node has heard of a newer record of it since:
   * rules removed or changed, or the bucket deleted (and perhaps created again under its name, by
   * anyone, holding new objects), which a pass over millions of keys must not act on for hours.
   * Every bucket write reaches every node that answers, so this node's own copy is the first to know.
   */
  private async rulesInForce(bucket: string): Promise<BucketRules | undefined> {
    const rules = this.buckets?.get(bucket);
    if (rules === undefined) return undefined;
    const held = await this.options.store.bucketRecord(bucket);
    if (held !== undefined && isNewerVersion(held.versionId, rules.versionId)) {
      // The rules of the newer record (if any) wait for the next pass, which reads them from a majority.
      this.buckets?.delete(bucket);
      return undefined;
    }
    return rules;
  }

  private async examine(locator: RingLocator, entry: HashIndexEntry, signal: AbortSignal): Promise<void> {
    const set = locator.locate(entry.bucket, entry.key).nodes;
    if (!this.actsFor(set)) return;
    if (set[0]?.id !== this.options.nodeId) this.stoodIn += 1;
    if (entry.bucket === UPLOADS_BUCKET) {
      if (parseUploadKey(entry.key)?.kind === 'marker') await this.upload(set, entry, signal);
      return;
    }
    const bucket = await this.rulesInForce(entry.bucket);
    if (bucket === undefined) return;
    const { store } = this.options;
    const current = await store.keyRows.getObject(entry.bucket, entry.key);
    if (current === undefined) return;
    const rows = await store.keyRows.keyVersions(entry.bucket, entry.key);
    const versions = rows.some((v) => v.record.versionId === current.record.versionId) ? rows : [current, ...rows];
    const now = this.clock();
    if (await this.expireCurrent(set, bucket, current.record, now, signal)) return;
    const remaining = await this.expireNoncurrent(set, bucket.rules, current.record, versions, now, signal);
    if (remaining === 1 && current.record.deleted && current.record.versioning !== undefined && removesExpiredMarker(bucket.rules, current.record, now, this.options.dayMs)) {
      await this.removeLoneMarker(set, current.record, signal);
    }
  }

  /**
   * Writes the delete marker (or tombstone) of a current version past its expiry; true when it did.
   * Like a client's DeleteObject it holds the key's shared lease from its check to its commit, so a
   * conditional write through any gateway either sees the marker or is seen by the check.
   */
  private async expireCurrent(set: readonly RingNode[], bucket: BucketRules, record: ObjectRecord, now: number, signal: AbortSignal): Promise<boolean> {
    if (record.deleted) return false;
    // A first look on this node's copy; the marker is only written once the rule, the date and the lock
    // also hold on the copy a write quorum has (writeExpiryMarker), since this one may be stale.
    const expiry = currentExpiry(bucket.rules, record, record.lastModifiedMs, this.options.dayMs);
    if (expiry === undefined || expiry.atMs > now || (expiryRemovesForGood(bucket, record) && versionIsLocked(record, now))) return false;
    const expired = await this.onSet.underSharedLease(set, record, signal, () => this.writeExpiryMarker(set, bucket, record, now, signal));
    if (expired !== true) return false;
    this.options.figures.lifecycle.expired += 1;
    this.options.logger.debug({ bucket: record.bucket, key: record.key, versionId: record.versionId, ruleId: expiry.ruleId }, 'lifecycle expired an object');
    return true;
  }

  /** The marker of an expired current version, committed if it still is the newest on a write quorum; true when it was. */
  private async writeExpiryMarker(set: readonly RingNode[], bucket: BucketRules, record: ObjectRecord, now: number, signal: AbortSignal): Promise<boolean> {
    // Only while a write quorum of the set agrees this is the key's newest version: never expire over a write this node missed.
    const copies = await this.onSet.currentOnSet(set, record, signal);
    if (copies === undefined) return false;
    // The newest copy by version, then by tag revision: a tag change, a legal hold or a retention this
    // node missed decides, not this node's older copy of the same version.
    const newest = newestRecord([record, ...copies]) ?? record;
    if (newest.versionId !== record.versionId || newest.deleted) return false;
    // A version a delete by id removed from the others lingers only on members that missed it: it must be current on a write quorum.
    const holders = copies.filter((copy) => copy.versionId === record.versionId).length;
    if (holders < writeQuorum(record.erasure.dataShards, record.erasure.parityShards)) return false;
    const expiry = currentExpiry(bucket.rules, newest, newest.lastModifiedMs, this.options.dayMs);
    if (expiry === undefined || expiry.atMs > now) return false;
    // A marker over a version removes nothing; a tombstone or null marker over the null version removes it,
    // which no lock a member reports may allow.
    if (expiryRemovesForGood(bucket, newest) && copies.some((copy) => copy.versionId === newest.versionId && versionIsLocked(copy, now))) return false;
    const { bucket: name, key, erasure } = record;
    const marker: ObjectRecord = {
      bucket: name,
      key,
      versionId: versionAfter(record.versionId),
      deleted: true,
      sizeBytes: 0,
      etag: '""',
      lastModifiedMs: now,
      contentType: '',
      userMetadata: {},
      headers: {},
      checksums: {},
      erasure,
      ...(bucket.versioning === undefined ? {} : { versioning: bucket.versioning }),
    };
    // A marker under versioning; without it, the tombstone that removes the key for good.
    return this.onSet.commitOnSet(set, marker, signal, bucket.versioning === undefined ? 's3:LifecycleExpiration:Delete' : 's3:LifecycleExpiration:DeleteMarkerCreated');
  }

  /**
   * Removes the noncurrent versions past their NoncurrentDays (keeping the newest NewerNoncurrentVersions);
   * answers how many of this node's versions are left. This node's copy only says whether to look: a
   * version is removed only as the versions a write quorum of the set holds order it, with the tags and
   * locks of their newest copies, under the key's shared lease. Otherwise a delete by id this node missed
   * would make it take the version clients see as current for a noncurrent one, and remove it.
   */
  private async expireNoncurrent(
    set: readonly RingNode[],
    rules: readonly LifecycleRule[],
    current: ObjectRecord,
    versions: readonly StoredObject[],
    now: number,
    signal: AbortSignal,
  ): Promise<number> {
    if (dueNoncurrent(rules, versions.map((v) => v.record), now, this.options.dayMs).length === 0) return versions.length;
    const removed = await this.onSet.underSharedLease(set, current, signal, async () => {
      const agreed = await this.onSet.versionsOnSet(set, current, signal);
      if (agreed === undefined) return 0;
      let count = 0;
      for (const version of dueNoncurrent(rules, agreed.records, now, this.options.dayMs)) {
        // Any member's copy under a lock keeps the version: that member may hold the newest lock state.
        if ((agreed.copies.get(version.versionId) ?? []).some((copy) => versionIsLocked(copy, now))) continue;
        if (!(await this.onSet.deleteOnSet(set, version, signal))) continue;
        count += 1;
        this.options.figures.lifecycle.noncurrentRemoved += 1;
      }
      return count;
    });
    return versions.length - (removed ?? 0);
  }

  /**
   * Whether this node decides for a key of `set`: it leads the set, or every member before it has been
   * silent for the leader silence.
   */
  private actsFor(set: readonly RingNode[]): boolean {
    const silenceMs = this.options.leaderSilenceMs ?? DEFAULT_LEADER_SILENCE_MS;
    const now = this.clock();
    for (const node of set) {
      if (node.id === this.options.nodeId) return true;
      if (now - (this.lastAnswerMs.get(node.id) ?? this.startedMs) < silenceMs) return false;
    }
    return false;
  }

  /** Removes a delete marker that every member of the set holds as the key's only version. */
  private async removeLoneMarker(set: readonly RingNode[], marker: ObjectRecord, signal: AbortSignal): Promise<void> {
    if (!(await this.onSet.markerIsAlone(set, marker, signal))) return;
    if (await this.onSet.deleteOnSet(set, marker, signal)) this.options.figures.lifecycle.markersRemoved += 1;
  }

  /** Aborts an upload open past the DaysAfterInitiation of a rule of its bucket, as AbortMultipartUpload does. */
  private async upload(set: readonly RingNode[], entry: HashIndexEntry, signal: AbortSignal): Promise<void> {
    const stored = await this.options.store.keyRows.getObject(entry.bucket, entry.key);
    const record = stored?.record;
    const upload = record?.upload;
    if (record === undefined || upload === undefined || record.deleted || upload.closed !== undefined) return;
    const bucket = await this.rulesInForce(upload.bucket);
    if (bucket === undefined) return;
    const now = this.clock();
    const abort = uploadAbortDate(bucket.rules, upload.key, upload.initiatedMs, this.options.dayMs);
    if (abort === undefined || abort.atMs > now) return;
    // A completion or abort this node missed wrote a newer marker: nothing to do.
    const newest = await this.onSet.newestOnSet(set, record, signal);
    if (newest === undefined || newest.versionId !== record.versionId) return;
    const closing: ObjectRecord = {
      ...record,
      versionId: versionAfter(record.versionId),
      deleted: true,
      sizeBytes: 0,
      etag: '""',
      lastModifiedMs: now,
      upload: { ...upload, closed: 'aborted', closedMs: now },
    };
    if (!(await this.onSet.commitOnSet(set, closing, signal))) return;
    this.options.figures.lifecycle.uploadsAborted += 1;
    this.options.logger.debug({ bucket: upload.bucket, key: upload.key, ruleId: abort.ruleId }, 'lifecycle aborted an incomplete multipart upload');
  }
}

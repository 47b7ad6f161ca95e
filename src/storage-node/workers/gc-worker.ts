import { DEFAULTS, formatVersionId, parseVersionId } from '../../common/index.js';
import { sameNodes, type RingLocator, type RingNode } from '../../placement/index.js';
import { UPLOADS_BUCKET, fanOut, isNewerVersion, newestRecord, parseUploadKey, readQuorum, uploadMarkerKey, type ErasureParams, type ObjectRecord, type ObjectStatus } from '../../rpc/index.js';
import { toObjectStatus, type HashIndexEntry, type StoredObject, type VersionCursor } from '../metadata-store.js';
import { sweepShardDirectory, sweepTmpDirectory } from './orphan-files.js';
import { KeySetCalls } from './lifecycle-set-calls.js';
import type { ShardStore } from '../shard-store.js';
import type { NodeWorkerDeps, StepResult, Worker, WorkerStatus } from './worker.js';

/** The store as the collector uses it: keys and tombstones to walk, files and segments to sweep, and the writes that collect. */
export type GcStore = Pick<
  ShardStore,
  'keyRows' | 'versionRows' | 'fileRows' | 'directories' | 'isWriting' | 'segmentUsageAfter' | 'compactSegment' | 'commit' | 'dropVersion' | 'listVersions' | 'objectStatus' | 'versionStatus' | 'deleteVersion' | 'bucketRecord' | 'indexRows'
>;

/** Construction parameters of the garbage collector. */
export interface GcWorkerOptions extends NodeWorkerDeps<GcStore> {
  /** Age (from the tombstone's lastModifiedMs) before a tombstone may be dropped. */
  tombstoneGraceMs: number;
  /** Age (from initiation) after which an upload never completed is aborted. */
  uploadExpiryMs: number;
  /** Files younger than this are never orphans; uploads closed more recently than this keep their parts. */
  settleMs: number;
  /**
   * Whether this node's rebalance to the current ring is done. Until it is, members of an older set may
   * still hold versions the tombstone hides, and rebalance would copy them to a set that dropped it.
   */
  placementSettled?: () => boolean;
  keysPerStep?: number;
  peerTimeoutMs?: number;
}

/**
 * Where a pass is: walking the placement index, then the tombstones of versions deleted by id, then
 * sweeping shard subdirectory `directory` (256 = tmp/), then compacting the sealed segments after `after`.
 */
type Cursor =
  | { phase: 'keys'; after: HashIndexEntry | null }
  | { phase: 'gone'; after: VersionCursor | null }
  | { phase: 'files'; directory: number }
  | { phase: 'segments'; after: number };

/** A sealed segment whose registered images hold less than this share of it is compacted. */
export const COMPACT_LIVE_BELOW = 0.5;

const SHARD_DIRECTORIES = 256;
const MAX_CACHED_VERDICTS = 1_024;
/** Rows per page when an aborted upload's key has its versions read for the parts they list. */
const VERSION_PAGE_ROWS = 256;

/** What one member of a key's set holds. */
interface MemberAnswer {
  node: RingNode;
  status: ObjectStatus | null;
}

/** Whether the parts of an upload may go: never while it is open or its end is unknown; else all but those a manifest lists. */
type UploadVerdict = { collect: false } | { collect: true; referenced: ReadonlySet<string> };

/** True when `record` is a tombstone at least `graceMs` old: then it and "no version at all" mean the same. */
export function isExpiredTombstone(record: ObjectRecord, nowMs: number, graceMs: number): boolean {
  return record.deleted && nowMs - record.lastModifiedMs >= graceMs;
}

/**
 * The version id right after `versionId` (same writer). Tombstones the collector writes over a part, or
 * over an expired upload's marker, take it: it is newer than what it replaces, every member computes the
 * same one (so audits see equal digests), and any real later write to the key still wins.
 */
export function versionAfter(versionId: string): string {
  const { physicalMs, logical, writerId } = parseVersionId(versionId);
  return logical >= 0xffff ? formatVersionId(physicalMs + 1, 0, writerId) : formatVersionId(physicalMs, logical + 1, writerId);
}


function tombstoneOver(record: ObjectRecord, versionId: string, nowMs: number): ObjectRecord {
  const { bucket, key, erasure } = record;
  return { bucket, key, versionId, deleted: true, sizeBytes: 0, etag: '""', lastModifiedMs: nowMs, contentType: '', userMetadata: {}, headers: {}, checksums: {}, erasure };
}

/**
 * Garbage collection. Each pass walks this node's placement index, then sweeps its shard and temporary
 * directories; every decision is about this node's own copy, and audits reconcile the members.
 *
 * - Tombstones: one older than the grace period is dropped once every member of the key's set under
 *   the current ring answers with it, a newer version, another tombstone, or nothing. A member holding
 *   an older live version blocks the drop (the tombstone is what keeps that version deleted; audit copies
 *   it there), and so does a member that does not answer. A node outside the key's current set leaves
 *   its tombstone alone: strays are rebalance's. Audit never copies an expired tombstone to a member that
 *   holds nothing, or the drop would be undone forever. While this node's rebalance to the current ring
 *   is unfinished no tombstone is dropped: a member of the old set may still hold what it hides.
 * - Superseded versions cannot exist on a node outside bucket versioning: the commit of a newer version
 *   drops the older one's shard data in the same batch (metadata-store.ts). Under versioning the older
 *   versions and delete markers are kept as S3 keeps them, and the collector takes none of them. Prepared
 *   versions never committed are the prepared resolver's and start-up recovery's.
 * - Multipart: the first member of an upload marker's set aborts an upload still open after the expiry,
 *   writing a closing marker on the set as an abort does. A part is dropped (replaced here by a tombstone,
 *   which frees its shard at once and which audit spreads rather than undoes) once the upload's newest
 *   marker, read from a read quorum of its set, is a closing marker older than the settle time, and no
 *   record a read quorum of the target key's set holds lists the part's version (a read quorum of each
 *   set where the ring this node held before places the key elsewhere: the rebalance may not have moved
 *   the manifest yet, and a previous set that cannot answer keeps the parts): for an abort that
 *   guards against a completion that raced it; for a completion, only the manifest's own list is kept
 *   while the manifest is the target key's version, and once it has been overwritten or deleted for the
 *   settle time, no part is. A completed upload's closing marker is the parts' only link to their
 *   manifest, so tombstone collection keeps it while the manifest is current and for a grace after.
 *   Open uploads, markers nobody answers for, and closing markers written before they recorded how the
 *   upload ended keep their parts.
 *   A closed upload leaves its bucket's uploads index first (forgetClosedUpload).
 * - Tombstones of versions deleted by id (`x` rows): dropped once older than the same grace.
 * - Files: shard files no `f` row registers and temporary files, last written before the settle time
 *   (orphan-files.ts); start-up recovery removes the same without the age check.
 * - Segments: a sealed segment whose registered images hold less than half its bytes has them moved to
 *   the open segment and is removed (ShardStore.compactSegment); one step per segment.
 */
export class GcWorker implements Worker {
  readonly name = 'gc';
  private readonly options: GcWorkerOptions;
  private readonly clock: () => number;
  private cursor: Cursor = { phase: 'keys', after: null };
  private readonly verdicts = new Map<string, UploadVerdict>();
  private keptThisPass = 0;
  /** The index writes a closed upload's forgetting makes, as lifecycle expiry makes its index writes. */
  private readonly onSet: KeySetCalls;

  constructor(options: GcWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.onSet = new KeySetCalls({ ...options, ...(options.peerTimeoutMs === undefined ? {} : { peerTimeoutMs: options.peerTimeoutMs }) });
  }

  resume(cursor: string | null): void {
    if (cursor === null) return;
    const parsed = JSON.parse(cursor) as Cursor;
    if (parsed.phase === 'keys' || parsed.phase === 'gone' || (parsed.phase === 'files' && Number.isInteger(parsed.directory)) || (parsed.phase === 'segments' && Number.isInteger(parsed.after))) this.cursor = parsed;
  }

  restart(): void {
    this.cursor = { phase: 'keys', after: null };
    this.options.figures.gc.passStartedMs = null;
  }

  status(): WorkerStatus {
    const { cursor } = this;
    if (cursor.phase === 'files') return { phase: 'files', directory: cursor.directory };
    if (cursor.phase === 'segments') return { phase: 'segments', at: String(cursor.after) };
    return { phase: cursor.phase, at: cursor.after?.hashHex ?? null };
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const fig = this.options.figures.gc;
    if (fig.passStartedMs === null) {
      fig.passStartedMs = this.clock();
      this.keptThisPass = 0;
      this.verdicts.clear();
    }
    if (this.cursor.phase === 'keys') return this.keysStep(signal);
    if (this.cursor.phase === 'gone') return this.goneStep(this.cursor.after);
    if (this.cursor.phase === 'segments') return this.segmentStep(this.cursor.after, signal);
    const { directory } = this.cursor;
    const { store, settleMs } = this.options;
    const { shardDir, tmpDir } = store.directories;
    const now = this.clock();
    if (directory < SHARD_DIRECTORIES) {
      const swept = await sweepShardDirectory(store.fileRows, shardDir, directory.toString(16).padStart(2, '0'), now, settleMs, signal, (path) => store.isWriting(path));
      fig.orphanFilesRemoved += swept.files;
      fig.bytesFreed += swept.bytes;
      this.cursor = { phase: 'files', directory: directory + 1 };
      // Files count against the same items/s budget as keys, so a full disk's sweep is paced too.
      return { items: Math.max(1, swept.examined), bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
    }
    const swept = await sweepTmpDirectory(tmpDir, now, settleMs, signal, (path) => store.isWriting(path));
    fig.tmpFilesRemoved += swept.files;
    fig.bytesFreed += swept.bytes;
    this.cursor = { phase: 'segments', after: -1 };
    return { items: Math.max(1, swept.examined), bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
  }

  /** Compacts the next sealed segment after `after` if it is sparse; ends the pass when there is none. */
  private async segmentStep(after: number, signal: AbortSignal): Promise<StepResult> {
    const { store } = this.options;
    const fig = this.options.figures.gc;
    const next = await store.segmentUsageAfter(after);
    if (next !== null) {
      this.cursor = { phase: 'segments', after: next.segment };
      if (next.sizeBytes > 0 && next.liveBytes >= next.sizeBytes * COMPACT_LIVE_BELOW) return { items: 1, bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
      const compacted = await store.compactSegment(next.segment, signal);
      fig.segmentImagesMoved += compacted.moved;
      if (compacted.removed) {
        fig.segmentsRemoved += 1;
        fig.bytesFreed += Math.max(0, compacted.freedBytes - compacted.movedBytes);
      }
      // Moved bytes are read and written again: they count against the pass's byte budget.
      return { items: Math.max(1, compacted.moved), bytes: compacted.movedBytes, cursor: JSON.stringify(this.cursor), idle: false };
    }
    fig.passes += 1;
    fig.lastPassMs = this.clock();
    fig.tombstonesKept = this.keptThisPass;
    fig.passStartedMs = null;
    this.cursor = { phase: 'keys', after: null };
    return { items: 1, bytes: 0, cursor: null, idle: true };
  }

  private async keysStep(signal: AbortSignal): Promise<StepResult> {
    const { store, rings, figures, logger } = this.options;
    const locator = rings.locator;
    const after = this.cursor.phase === 'keys' ? this.cursor.after : null;
    // Without a ring nothing can be asked of a key's set: the pass goes straight to the files.
    const page = locator === undefined ? [] : await store.keyRows.hashIndexPage(after, this.options.keysPerStep ?? DEFAULTS.gcKeysPerStep);
    for (const entry of page) {
      signal.throwIfAborted();
      try {
        await this.examine(locator as RingLocator, entry, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        logger.warn({ err, bucket: entry.bucket, key: entry.key }, 'garbage collection skipped a key this pass');
      }
      this.cursor = { phase: 'keys', after: entry };
      figures.gc.keysScanned += 1;
    }
    if (page.length === 0) this.cursor = { phase: 'gone', after: null };
    return { items: page.length, bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
  }

  /**
   * Drops the tombstones of versions deleted by id once past the grace: by then every member that was
   * away has been audited (the audit spreads the delete), which is what the grace promises for key
   * tombstones too. Kept while this node's rebalance is unfinished, as a member of an older set may
   * still hold the version.
   */
  private async goneStep(after: VersionCursor | null): Promise<StepResult> {
    const { store, figures, tombstoneGraceMs } = this.options;
    const { rows } = await store.versionRows.versionGonePage(after, this.options.keysPerStep ?? DEFAULTS.gcKeysPerStep);
    const now = this.clock();
    const settled = this.options.placementSettled?.() !== false;
    for (const gone of rows) {
      if (now - gone.deletedMs < tombstoneGraceMs || !settled) continue;
      await store.versionRows.dropVersionGone(gone);
      figures.gc.tombstonesDropped += 1;
    }
    const last = rows.at(-1);
    this.cursor = last === undefined ? { phase: 'files', directory: 0 } : { phase: 'gone', after: { hashHex: last.hashHex, bucket: last.bucket, key: last.key, versionId: last.versionId } };
    return { items: Math.max(1, rows.length), bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
  }

  private async examine(locator: RingLocator, entry: HashIndexEntry, signal: AbortSignal): Promise<void> {
    const stored = await this.options.store.keyRows.getObject(entry.bucket, entry.key);
    if (stored === undefined) return;
    const { record } = stored;
    // A closed upload leaves its bucket's uploads index first: its closing marker is kept until it has.
    if (record.deleted && record.upload?.closed !== undefined && !(await this.forgetClosedUpload(locator, record, signal))) {
      this.keptThisPass += 1;
      return;
    }
    // A delete marker written under versioning is a version S3 keeps (listed, deletable by id): never garbage.
    if (record.deleted && record.versioning !== undefined) return;
    if (record.deleted) return this.tombstone(locator, stored, signal);
    if (record.bucket !== UPLOADS_BUCKET) return;
    const name = parseUploadKey(record.key);
    if (name?.kind === 'part') return this.part(locator, stored, name.bucket, name.uploadId, signal);
    if (name?.kind === 'marker' && record.upload !== undefined && record.upload.closed === undefined) return this.openUpload(locator, stored, signal);
  }

  /**
   * Has the uploads index forget the closed upload whose closing marker is `closing` (its rows and its
   * parts'), so ListMultipartUploads reads only open uploads. The first member of the marker's set does
   * it, once the closing marker is older than the settle time and every member holds it (or a newer
   * marker): by then no index replica can learn of the upload again from a late settle or a resolved
   * intent. It is asked every pass while the marker stays, for as long as the tombstone grace (a replica
   * away that long is rebuilt, not caught up): a completed upload's marker stays as long as its object,
   * and forgetting it again on every pass for ever would cost a round per multipart object. True when
   * this node's copy of the marker may go on to tombstone collection.
   */
  private async forgetClosedUpload(locator: RingLocator, closing: ObjectRecord, signal: AbortSignal): Promise<boolean> {
    const { nodeId, figures, settleMs, tombstoneGraceMs } = this.options;
    const set = locator.locate(closing.bucket, closing.key).nodes;
    if (set[0]?.id !== nodeId) return true;
    const closedForMs = this.clock() - (closing.upload?.closedMs ?? closing.lastModifiedMs);
    if (closedForMs < settleMs) return false;
    if (closedForMs >= settleMs + tombstoneGraceMs) return true;
    const { answered, missing } = await this.askSet(set, closing.bucket, closing.key, signal);
    // A member holding nothing collected its copy already (or never had one): only an older marker waits for audit.
    if (missing > 0 || answered.some(({ status }) => status !== null && isNewerVersion(closing.versionId, status.record.versionId))) return false;
    const forgotten = await this.onSet.forgetUpload(closing, signal);
    if (forgotten === true) figures.gc.uploadsForgotten += 1;
    return forgotten !== false;
  }

  /** Drops an expired tombstone of this node's once no member of the set can bring an older version back. */
  private async tombstone(locator: RingLocator, stored: StoredObject, signal: AbortSignal): Promise<void> {
    const { store, nodeId, figures, tombstoneGraceMs } = this.options;
    const { record } = stored;
    if (!isExpiredTombstone(record, this.clock(), tombstoneGraceMs)) return;
    const set = locator.locate(record.bucket, record.key).nodes;
    if (!set.some((node) => node.id === nodeId)) return;
    if (this.options.placementSettled?.() === false) {
      this.keptThisPass += 1;
      return;
    }
    if (record.upload?.closed === 'completed' && !(await this.completionForgettable(locator, record, signal))) {
      this.keptThisPass += 1;
      return;
    }
    const { answered, missing } = await this.askSet(set, record.bucket, record.key, signal);
    const olderLive = answered.some(({ status }) => status !== null && !status.record.deleted && isNewerVersion(record.versionId, status.record.versionId));
    if (missing > 0 || olderLive) {
      this.keptThisPass += 1;
      return;
    }
    if (await store.dropVersion(record.bucket, record.key, record.versionId)) figures.gc.tombstonesDropped += 1;
  }

  /** Aborts an upload open for longer than the expiry, if this node leads its marker's set and no newer marker exists. */
  private async openUpload(locator: RingLocator, stored: StoredObject, signal: AbortSignal): Promise<void> {
    const { store, nodeId, peers, figures, logger, uploadExpiryMs } = this.options;
    const { record } = stored;
    const upload = record.upload;
    const now = this.clock();
    if (upload === undefined || now - upload.initiatedMs < uploadExpiryMs) return;
    const set = locator.locate(record.bucket, record.key).nodes;
    if (set[0]?.id !== nodeId) return;
    const { answered } = await this.askSet(set, record.bucket, record.key, signal);
    // A member holds a newer marker (the upload was completed or aborted, and this node missed it): audit brings it here.
    if (answered.some(({ status }) => status !== null && isNewerVersion(status.record.versionId, record.versionId))) return;
    // The closing marker's version follows the marker's, so a completion that raced this abort (whose marker is newer) wins.
    const closing: ObjectRecord = { ...tombstoneOver(record, versionAfter(record.versionId), now), upload: { ...upload, closed: 'aborted', closedMs: now } };
    const timeout = this.peerSignal(signal);
    const commits = await fanOut(set, (node) =>
      node.id === nodeId ? store.commit({ record: closing, shardIndex: null }) : peers.get(node).commit({ record: closing, shardIndex: null }, { signal: timeout }),
    );
    signal.throwIfAborted();
    const done = commits.filter((c) => c.ok).length;
    if (done === 0) return;
    figures.gc.uploadsAborted += 1;
    logger.info({ bucket: upload.bucket, key: upload.key, uploadId: record.key.slice(upload.bucket.length + 1), members: done }, 'aborted an expired multipart upload');
  }

  /** Drops this node's shard of a part nothing can use any more, by committing a tombstone over it here. */
  private async part(locator: RingLocator, stored: StoredObject, bucket: string, uploadId: string, signal: AbortSignal): Promise<void> {
    const { store, figures } = this.options;
    const { record } = stored;
    const verdict = await this.uploadVerdict(locator, bucket, uploadId, record.erasure, signal);
    if (!verdict.collect || verdict.referenced.has(partId(record.key, record.versionId))) return;
    const tombstone = tombstoneOver(record, versionAfter(record.versionId), this.clock());
    await store.commit({ record: tombstone, shardIndex: null });
    const now = await store.keyRows.getObject(record.bucket, record.key);
    if (now?.record.versionId !== tombstone.versionId) return;
    figures.gc.partsDropped += 1;
    figures.gc.bytesFreed += stored.shardSizeBytes;
  }

  /** Whether an upload's parts may go, and which a manifest still lists; cached for the pass. */
  private async uploadVerdict(locator: RingLocator, bucket: string, uploadId: string, erasure: ErasureParams, signal: AbortSignal): Promise<UploadVerdict> {
    const markerKey = uploadMarkerKey(bucket, uploadId);
    const cached = this.verdicts.get(markerKey);
    if (cached !== undefined) return cached;
    const verdict = await this.judgeUpload(locator, markerKey, erasure, signal);
    if (this.verdicts.size >= MAX_CACHED_VERDICTS) this.verdicts.clear();
    this.verdicts.set(markerKey, verdict);
    return verdict;
  }

  private async judgeUpload(locator: RingLocator, markerKey: string, erasure: ErasureParams, signal: AbortSignal): Promise<UploadVerdict> {
    const keep: UploadVerdict = { collect: false };
    const quorum = readQuorum(erasure.dataShards, erasure.parityShards);
    const markers = await this.askSet(locator.locate(UPLOADS_BUCKET, markerKey).nodes, UPLOADS_BUCKET, markerKey, signal);
    if (markers.answered.length < quorum) return keep;
    const marker = newest(markers.answered);
    const upload = marker?.upload;
    // Nothing anywhere, an open upload, or a closing marker from before closings said how the upload ended.
    if (marker === undefined || !marker.deleted || upload?.closed === undefined) return keep;
    if (this.clock() - (upload.closedMs ?? marker.lastModifiedMs) < this.options.settleMs) return keep;
    // Every set the manifest may sit on must answer: during a rebalance it may not have left the old one yet.
    const sets = this.placementsOf(locator, upload.bucket, upload.key);
    const answered: MemberAnswer[] = [];
    for (const set of sets) {
      const targets = await this.askSet(set, upload.bucket, upload.key, signal);
      if (targets.answered.length < quorum) return keep;
      answered.push(...targets.answered);
    }
    const referenced = new Set<string>();
    let manifestFound = false;
    for (const { status } of answered) {
      if (status === null) continue;
      if (status.record.versionId === upload.manifestVersionId) manifestFound = true;
      addUploadParts(status.record, markerKey, referenced);
    }
    if (upload.closed === 'completed' && !manifestFound && upload.manifestVersionId !== undefined) {
      // Under bucket versioning an overwritten or deleted manifest lives on as a noncurrent version: its parts stay.
      for (const set of sets) {
        const kept = await this.askSetForVersion(set, upload.bucket, upload.key, upload.manifestVersionId, signal);
        if (kept === undefined) return keep;
        if (kept !== null) {
          manifestFound = true;
          addUploadParts(kept, markerKey, referenced);
        }
      }
    }
    if (upload.closed === 'aborted') {
      // An abort that raced a completion, or followed one whose answer was lost, closes an upload that
      // a manifest uses: the parts any version of the key lists stay, current or not.
      for (const set of sets) {
        const listed = await this.partsListedByVersions(set, upload.bucket, upload.key, markerKey, quorum, signal);
        if (listed === undefined) return keep;
        for (const id of listed) referenced.add(id);
      }
    }
    if (upload.closed === 'completed' && !manifestFound) {
      // The manifest is gone from every member: overwritten or deleted, so its parts are garbage once
      // readers that opened it have had the settle time to finish. Nothing newer yet (a completion not
      // visible everywhere) keeps them.
      const current = newest(answered);
      if (current !== undefined && isNewerVersion(upload.manifestVersionId ?? '', current.versionId)) return keep;
      if (current !== undefined && this.clock() - current.lastModifiedMs < this.options.settleMs) return keep;
    }
    return { collect: true, referenced };
  }

  /**
   * The sets a key's versions may sit on: its set under the current ring and, when the ring this node
   * held before differs for it, that ring's set too (a rebalance moves a key some time after the change).
   */
  private placementsOf(locator: RingLocator, bucket: string, key: string): (readonly RingNode[])[] {
    const current = locator.locate(bucket, key).nodes;
    const previous = this.options.rings.previousLocator?.locate(bucket, key).nodes;
    if (previous === undefined || sameNodes(previous, current)) return [current];
    return [current, previous];
  }

  /**
   * Whether a completed upload's closing marker may go: it is the only link from the parts to their
   * manifest, so it stays while the manifest is the target key's current version, and for a tombstone
   * grace after it was superseded, so every part's node has had many passes to collect the parts.
   */
  private async completionForgettable(locator: RingLocator, marker: ObjectRecord, signal: AbortSignal): Promise<boolean> {
    const upload = marker.upload;
    if (upload === undefined) return true;
    const targets = await this.askSet(locator.locate(upload.bucket, upload.key).nodes, upload.bucket, upload.key, signal);
    if (targets.answered.length < readQuorum(marker.erasure.dataShards, marker.erasure.parityShards)) return false;
    const current = newest(targets.answered);
    if (current === undefined) return true;
    if (!isNewerVersion(current.versionId, upload.manifestVersionId ?? '')) return false;
    return this.clock() - current.lastModifiedMs >= this.options.tombstoneGraceMs;
  }

  /** Every member's answer for a key (this node's from its own store), and how many did not answer. */
  private async askSet(set: readonly RingNode[], bucket: string, key: string, signal: AbortSignal): Promise<{ answered: MemberAnswer[]; missing: number }> {
    const { store, nodeId, peers } = this.options;
    const timeout = this.peerSignal(signal);
    const outcomes = await fanOut(set, async (node): Promise<MemberAnswer> => {
      if (node.id === nodeId) {
        const local = await store.objectStatus(bucket, key);
        return { node, status: local === undefined ? null : toObjectStatus(local) };
      }
      return { node, status: await peers.get(node).objectStatus(bucket, key, { signal: timeout }) };
    });
    signal.throwIfAborted();
    const answered = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    return { answered, missing: set.length - answered.length };
  }

  /**
   * One version of a key as any member of its set holds it (current or noncurrent); null when every
   * member answered without it, undefined when some member did not answer (nothing can be decided).
   */
  private async askSetForVersion(set: readonly RingNode[], bucket: string, key: string, versionId: string, signal: AbortSignal): Promise<ObjectRecord | null | undefined> {
    const { store, nodeId, peers } = this.options;
    const timeout = this.peerSignal(signal);
    const outcomes = await fanOut(set, async (node) => {
      if (node.id === nodeId) return (await store.versionStatus(bucket, key, versionId))?.record ?? null;
      return (await peers.get(node).versionStatus(bucket, key, versionId, { signal: timeout }))?.record ?? null;
    });
    signal.throwIfAborted();
    if (outcomes.some((o) => !o.ok)) return undefined;
    for (const o of outcomes) if (o.ok && o.value !== null) return o.value;
    return null;
  }

  /**
   * The parts of the upload at `markerKey` that any version of `bucket/key` lists, read from the members
   * of its set page by page; undefined when fewer than `quorum` of them answered.
   */
  private async partsListedByVersions(
    set: readonly RingNode[],
    bucket: string,
    key: string,
    markerKey: string,
    quorum: number,
    signal: AbortSignal,
  ): Promise<Set<string> | undefined> {
    const { store, nodeId, peers } = this.options;
    const timeout = this.peerSignal(signal);
    const outcomes = await fanOut(set, async (node) => {
      const listed = new Set<string>();
      // The key's own rows come first under the prefix `key` (a longer key sorts after them): stop at the first other.
      for (let afterVersion: string | undefined; ; ) {
        const query = { bucket, prefix: key, after: afterVersion === undefined ? '' : key, afterIsPrefix: false, limit: VERSION_PAGE_ROWS, ...(afterVersion === undefined ? {} : { afterVersion }) };
        const page = node.id === nodeId ? await store.listVersions(query) : await peers.get(node).listVersions(query, { signal: timeout });
        for (const { record } of page.entries) {
          if (record.key !== key) return listed;
          addUploadParts(record, markerKey, listed);
        }
        afterVersion = page.entries.at(-1)?.record.versionId;
        if (!page.truncated || afterVersion === undefined) return listed;
      }
    });
    signal.throwIfAborted();
    const answered = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    if (answered.length < quorum) return undefined;
    return new Set(answered.flatMap((listed) => [...listed]));
  }

  private peerSignal(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.options.peerTimeoutMs ?? DEFAULTS.gcPeerTimeoutMs)]);
  }
}

/** Adds to `into` the parts of the upload at `markerKey` that the manifest `record` lists. */
function addUploadParts(record: ObjectRecord, markerKey: string, into: Set<string>): void {
  for (const part of record.parts ?? []) {
    if (part.bucket === UPLOADS_BUCKET && part.key.startsWith(`${markerKey}/`)) into.add(partId(part.key, part.versionId));
  }
}

function partId(key: string, versionId: string): string {
  return `${key}\0${versionId}`;
}

function newest(answers: readonly MemberAnswer[]): ObjectRecord | undefined {
  return newestRecord(answers.map(({ status }) => status?.record));
}

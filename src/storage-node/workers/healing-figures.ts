/**
 * Every figure the background workers produce, in one place: `tessera admin status` prints them and
 * metrics will export them. Workers update their own section; nothing else writes here.
 */
export class HealingFigures {
  /** Deep scrub: the current pass and totals since start. */
  readonly scrub = {
    passes: 0,
    passStartedMs: null as number | null,
    lastPassMs: null as number | null,
    keysScanned: 0,
    keysTotal: 0,
    shardsVerified: 0,
    bytesVerified: 0,
    checksumFailures: 0,
    missingShards: 0,
    /** Passes asked for (`tessera admin scrub`, `admin heal`) since the node started. */
    asked: 0,
    /** `asked` when the last finished pass began: that pass covered every shard after each of those requests. */
    lastPassAsked: 0,
  };

  /** Repair: shards rebuilt and records copied, to this node or to the node the ring names. */
  readonly repair = {
    done: 0,
    failed: 0,
    pending: 0,
    shardsRebuilt: 0,
    recordsCopied: 0,
    bytesRebuilt: 0,
    /** Time spent rebuilding, for MB/s. */
    rebuildMs: 0,
  };

  /** Audit of the partitions this node leads. */
  readonly audit = {
    passes: 0,
    partitionsChecked: 0,
    /** Partitions a pass could not compare: fewer than two members answered their digest in time. */
    partitionsUnchecked: 0,
    digestMismatches: 0,
    /** Versions some member of their set lacked at the last pass (objects below full redundancy). */
    belowFullRedundancy: 0,
    lastPassMs: null as number | null,
  };

  /** Rebalance after a ring change. */
  readonly rebalance = {
    epoch: 0,
    done: true,
    passStartedMs: null as number | null,
    scanned: 0,
    total: 0,
    moved: 0,
    dropped: 0,
    /** Keys this node holds that belong elsewhere and are not yet moved (at the last pass). */
    pending: 0,
    bytesMoved: 0,
  };

  /** Garbage collection: totals since start, except where a figure says "at the last pass". */
  readonly gc = {
    passes: 0,
    passStartedMs: null as number | null,
    lastPassMs: null as number | null,
    keysScanned: 0,
    /** Expired tombstones this node dropped once every member of the key's set held it, a newer version, or nothing. */
    tombstonesDropped: 0,
    /** Expired tombstones kept at the last pass: a member held an older live version, or did not answer. */
    tombstonesKept: 0,
    /** Uploads never completed within the expiry that this node (their set's first member) aborted. */
    uploadsAborted: 0,
    /** Closed uploads whose rows this node (their marker set's first member) had every uploads-index replica forget. */
    uploadsForgotten: 0,
    /** Parts of aborted uploads, and parts a completion left out, whose shard this node dropped. */
    partsDropped: 0,
    /** Shard files no metadata row pointed to, older than the settle time. */
    orphanFilesRemoved: 0,
    /** Temporary files of writes that ended without cleaning up, older than the settle time. */
    tmpFilesRemoved: 0,
    /** Shard bytes freed by dropped parts, orphan files, temporary files and compacted segments. */
    bytesFreed: 0,
    /** Sealed segments removed once compaction had moved their live images out. */
    segmentsRemoved: 0,
    /** Live images compaction copied out of sparse segments. */
    segmentImagesMoved: 0,
  };

  /** Lifecycle rules applied on the keys this node leads: totals since start. */
  readonly lifecycle = {
    passes: 0,
    passStartedMs: null as number | null,
    lastPassMs: null as number | null,
    keysScanned: 0,
    /** Current versions expired: a delete marker (versioned bucket) or a tombstone written over them. */
    expired: 0,
    /** Noncurrent versions removed for good (NoncurrentVersionExpiration). */
    noncurrentRemoved: 0,
    /** Delete markers removed that were their key's only version (ExpiredObjectDeleteMarker). */
    markersRemoved: 0,
    /** Multipart uploads aborted (AbortIncompleteMultipartUpload). */
    uploadsAborted: 0,
  };

  /** A plain copy with derived figures (rates, progress, estimated time left). */
  snapshot(nowMs: number): HealingSnapshot {
    const { scrub, repair, rebalance } = this;
    const rebalanceElapsedS = rebalance.passStartedMs === null ? 0 : (nowMs - rebalance.passStartedMs) / 1000;
    const rebalanceRate = rebalanceElapsedS > 0 ? rebalance.scanned / rebalanceElapsedS : 0;
    return {
      scrub: { ...scrub, progress: scrub.keysTotal === 0 ? 1 : Math.min(1, scrub.keysScanned / scrub.keysTotal) },
      repair: { ...repair, mbPerSecond: repair.rebuildMs === 0 ? 0 : repair.bytesRebuilt / 1e6 / (repair.rebuildMs / 1000) },
      audit: { ...this.audit },
      rebalance: {
        ...rebalance,
        progress: rebalance.done || rebalance.total === 0 ? 1 : Math.min(1, rebalance.scanned / rebalance.total),
        etaSeconds: rebalance.done ? 0 : rebalanceRate === 0 ? null : Math.max(0, rebalance.total - rebalance.scanned) / rebalanceRate,
      },
      gc: { ...this.gc },
      lifecycle: { ...this.lifecycle },
    };
  }
}

/** What a node reports about its background work. */
export interface HealingSnapshot {
  scrub: HealingFigures['scrub'] & { progress: number };
  repair: HealingFigures['repair'] & { mbPerSecond: number };
  audit: HealingFigures['audit'];
  rebalance: HealingFigures['rebalance'] & { progress: number; etaSeconds: number | null };
  gc: HealingFigures['gc'];
  lifecycle: HealingFigures['lifecycle'];
}

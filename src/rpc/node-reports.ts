import Type, { type Static } from 'typebox';
import { ObjectRecord } from './object-record.js';
import { ShardIndex, VersionId } from './wire-fields.js';

/** What a node reports about itself: health, partition summaries for peers' audits, and its background work. */

const Count = Type.Integer({ minimum: 0 });
const Rate = Type.Number({ minimum: 0 });
const TimeOrNull = Type.Union([Type.Number(), Type.Null()]);

/** Answer of GET /health. */
export const NodeHealth = Type.Object({
  nodeId: Type.String(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  metadataStore: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
  freeBytes: Type.Number(),
  checksumFailures: Count,
  /** Epoch of the newest ring the node holds; 0 when it has none. */
  ringEpoch: Count,
  /**
   * Epoch of the ring the newest one replaced on this node (what placed its data before the change); 0
   * when it has none. Absent from nodes older than this field.
   */
  previousRingEpoch: Type.Optional(Count),
  /** Shards waiting for repair (failed checksums or missing data). Absent from nodes older than this field. */
  quarantinedShards: Type.Optional(Count),
  /** Shard writes refused for lack of space, and disk or LevelDB I/O errors, since start. */
  noSpaceRefusals: Type.Optional(Count),
  ioErrors: Type.Optional(Count),
  /** The node's capacity limit and the shard bytes counted against it; null when only the disk limits it. */
  capacityBytes: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  usedBytes: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  /** What start-up recovery removed: temporary files, stale prepared shards, orphan files, empty segments; and files found missing. */
  recovery: Type.Optional(
    Type.Union([
      Type.Object({
        tmpFilesRemoved: Count,
        stalePreparedDropped: Count,
        orphanFilesRemoved: Count,
        missingFiles: Count,
        /** Segments no row named any image of (absent from nodes that predate segments). */
        emptySegmentsRemoved: Type.Optional(Count),
        completedMs: Type.Number(),
      }),
      Type.Null(),
    ]),
  ),
  /** Prepared shards the node settled with its peers (committed or dropped) and those still undecided. */
  preparedResolver: Type.Optional(
    Type.Object({ passes: Count, committed: Count, discarded: Count, expired: Count, undecided: Count, lastPassMs: TimeOrNull }),
  ),
});
/** Answer of GET /health. */
export type NodeHealth = Static<typeof NodeHealth>;

/** Answer of GET /v1/partitions/digest: a compact summary of the versions a node holds in one ring partition. */
export const PartitionDigest = Type.Object({
  partition: Count,
  count: Count,
  /** SHA-256 over (bucket, key, version id, deleted) of every version of every key in hash order; equal digests mean equal versions. */
  digest: Type.String(),
});
/** Answer of GET /v1/partitions/digest. */
export type PartitionDigest = Static<typeof PartitionDigest>;

/** One key of a partition listing: the node's newest version of it and the shard it holds. */
export const PartitionEntry = Type.Object({
  hashHex: Type.String(),
  bucket: Type.String(),
  key: Type.String(),
  record: ObjectRecord,
  shardIndex: Type.Union([ShardIndex, Type.Null()]),
});
/** One key of a partition listing. */
export type PartitionEntry = Static<typeof PartitionEntry>;

/** Where a partition listing resumes: the last entry of the previous page (exclusive). */
export interface PartitionCursor {
  hashHex: string;
  bucket: string;
  key: string;
}

/** Answer of GET /v1/partitions/entries. */
export const PartitionEntriesResponse = Type.Object({ entries: Type.Array(PartitionEntry), truncated: Type.Boolean() });
/** Answer of GET /v1/partitions/entries. */
export type PartitionEntriesResponse = Static<typeof PartitionEntriesResponse>;

/** Where a partition's version or tombstone listing resumes: the last row of the previous page (exclusive). */
export interface PartitionVersionCursor extends PartitionCursor {
  versionId: string;
}

/**
 * Answer of GET /v1/partitions/versions: every version row (current and noncurrent, delete markers
 * included) of a partition's keys, in hash order and each key's versions newest first.
 */
export const PartitionVersionsResponse = PartitionEntriesResponse;
/** Answer of GET /v1/partitions/versions. */
export type PartitionVersionsResponse = PartitionEntriesResponse;

/** A version deleted by id, as a node's tombstone records it. */
export const VersionGoneEntry = Type.Object({
  hashHex: Type.String(),
  bucket: Type.String(),
  key: Type.String(),
  versionId: VersionId,
  deletedMs: Type.Number(),
  bypassGovernance: Type.Optional(Type.Boolean()),
});
/** A version deleted by id. */
export type VersionGoneEntry = Static<typeof VersionGoneEntry>;

/** Answer of GET /v1/partitions/gone: a page of a partition's version tombstones, in hash order. */
export const PartitionGoneResponse = Type.Object({ gone: Type.Array(VersionGoneEntry), truncated: Type.Boolean() });
/** Answer of GET /v1/partitions/gone. */
export type PartitionGoneResponse = Static<typeof PartitionGoneResponse>;

/** The figures of a node's background workers (HealingFigures' snapshot), as `tessera admin status` reads them. */
export const WorkFigures = Type.Object({
  /** Deep scrub: the current pass and totals since start. */
  scrub: Type.Object({
    passes: Count,
    passStartedMs: TimeOrNull,
    lastPassMs: TimeOrNull,
    keysScanned: Count,
    keysTotal: Count,
    shardsVerified: Count,
    bytesVerified: Count,
    checksumFailures: Count,
    missingShards: Count,
    /** Passes asked for since the node started, and how many of those requests the last finished pass began after (absent from older nodes). */
    asked: Type.Optional(Count),
    lastPassAsked: Type.Optional(Count),
    /** Share of the current pass done, 0 to 1. */
    progress: Rate,
  }),
  /** Repair: shards rebuilt and records copied, to this node or to the node the ring names. */
  repair: Type.Object({
    done: Count,
    failed: Count,
    pending: Count,
    shardsRebuilt: Count,
    recordsCopied: Count,
    bytesRebuilt: Count,
    rebuildMs: Rate,
    mbPerSecond: Rate,
  }),
  /** Audit of the partitions this node leads. */
  audit: Type.Object({ passes: Count, partitionsChecked: Count, partitionsUnchecked: Type.Optional(Count), digestMismatches: Count, belowFullRedundancy: Count, lastPassMs: TimeOrNull }),
  /** Rebalance after a ring change. */
  rebalance: Type.Object({
    epoch: Count,
    done: Type.Boolean(),
    passStartedMs: TimeOrNull,
    scanned: Count,
    total: Count,
    moved: Count,
    dropped: Count,
    pending: Count,
    bytesMoved: Count,
    progress: Rate,
    /** Estimated seconds left; null while there is no rate to estimate from. */
    etaSeconds: Type.Union([Rate, Type.Null()]),
  }),
  /** Garbage collection: totals since start, except tombstonesKept (at the last pass). */
  gc: Type.Object({
    passes: Count,
    passStartedMs: TimeOrNull,
    lastPassMs: TimeOrNull,
    keysScanned: Count,
    tombstonesDropped: Count,
    tombstonesKept: Count,
    uploadsAborted: Count,
    partsDropped: Count,
    orphanFilesRemoved: Count,
    tmpFilesRemoved: Count,
    bytesFreed: Count,
    /** Segments compacted away, and the images moved out of them first (absent from nodes that predate segments). */
    segmentsRemoved: Type.Optional(Count),
    segmentImagesMoved: Type.Optional(Count),
  }),
  /** Lifecycle rules applied on the keys a node leads: totals since start (absent from nodes that predate it). */
  lifecycle: Type.Optional(
    Type.Object({
      passes: Count,
      passStartedMs: TimeOrNull,
      lastPassMs: TimeOrNull,
      keysScanned: Count,
      expired: Count,
      noncurrentRemoved: Count,
      markersRemoved: Count,
      uploadsAborted: Count,
    }),
  ),
});
/** The figures of a node's background workers. */
export type WorkFigures = Static<typeof WorkFigures>;

/**
 * One worker's runner: pacing and its worker's own figures. A worker switched off by configuration
 * reports only its name, `running: false` and `worker.enabled: false`.
 */
export const WorkerReport = Type.Object({
  name: Type.String(),
  running: Type.Boolean(),
  steps: Type.Optional(Count),
  failures: Type.Optional(Count),
  lastError: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  /** Bytes/s and items/s over the last completed second of work. */
  bytesPerSecond: Type.Optional(Rate),
  itemsPerSecond: Type.Optional(Rate),
  limits: Type.Optional(Type.Object({ bytesPerSecond: Type.Optional(Rate), itemsPerSecond: Type.Optional(Rate) })),
  /** Steps run at once. */
  lanes: Type.Optional(Count),
  /** Steps followed by a pause because the node was serving clients meanwhile. */
  yields: Type.Optional(Count),
  worker: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()])),
});
/** One worker's runner state. */
export type WorkerReport = Static<typeof WorkerReport>;

/** One event target's delivery from a node: its backlog as the last pass found it, and counters since the node started. */
export const EventTargetFigures = Type.Object({
  target: Type.String(),
  /** Changes this node leads that wait for the target. */
  backlog: Count,
  /** Age of the oldest of them (0: none waits). */
  oldestSeconds: Type.Number({ minimum: 0 }),
  /** Messages the target accepted. */
  delivered: Count,
  /** Publishes that failed and were retried. */
  failures: Count,
  /** Changes dropped for the target past the backlog limit. */
  dropped: Count,
  /** Destinations skipped because the target no longer exists. */
  undeliverable: Count,
});
/** One event target's delivery figures. */
export type EventTargetFigures = Static<typeof EventTargetFigures>;

/** Answer of GET /v1/admin/status: a node's background work, every worker by name. */
export const NodeWorkStatus = Type.Object({
  nodeId: Type.String(),
  ringEpoch: Count,
  quarantinedShards: Count,
  figures: WorkFigures,
  workers: Type.Object({ scrub: WorkerReport, repair: WorkerReport, audit: WorkerReport, rebalance: WorkerReport, gc: WorkerReport, lifecycle: Type.Optional(WorkerReport), intents: Type.Optional(WorkerReport), splits: Type.Optional(WorkerReport), events: Type.Optional(WorkerReport) }),
  /** Delivery of bucket event notifications, per target (change-delivery.ts). */
  events: Type.Optional(Type.Array(EventTargetFigures, { maxItems: 1_000 })),
});
/** Answer of GET /v1/admin/status. */
export type NodeWorkStatus = Static<typeof NodeWorkStatus>;

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventTargetFigures, NodeHealth, NodeWorkStatus } from '../rpc/index.js';
import type { DigestFigures } from './node-server/node-calls.js';

/** fsync latency buckets (seconds): a fast SSD to a slow shared disk. */
const SYNC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** How long a key count stays good: counting walks an index, so a scrape every few seconds must not. */
const RECORD_COUNT_TTL_MS = 60_000;
/**
 * How long a scrape waits for a key count under way. A node of millions of keys walks them for longer
 * than Prometheus waits for a scrape (10 s by default); past this the scrape reports the last count
 * (NaN before the first) and the walk goes on for a later one.
 */
const RECORD_COUNT_WAIT_MS = 2_000;

/** What a node's figures are read from at scrape time. */
export interface NodeMetricsSources {
  nodeId: string;
  /** The node's health report, as GET /health answers it. */
  health: () => Promise<NodeHealth>;
  /** The background workers' figures, as `tessera admin status` prints them; undefined when the node runs none. */
  workStatus: (() => NodeWorkStatus) | undefined;
  /** Keys the node holds a version of (walks an index: called at most once a minute). */
  countKeys: () => Promise<number>;
  /** The LevelDB directory, whose files' sizes are summed; without it the size is not reported. */
  metadataDir: string | undefined;
  /** How the partition digests peers' audits ask for fare. */
  digests: () => DigestFigures;
}

type Figure = { name: string; help: string; kind: 'counter' | 'gauge'; value: (status: NodeWorkStatus) => number };

/**
 * The background workers' figures as metrics: one table over the same NodeWorkStatus that
 * `tessera admin status` prints, so the two can never disagree.
 */
const WORK_FIGURES: readonly Figure[] = [
  { name: 'scrub_passes_total', help: 'Deep scrub passes completed', kind: 'counter', value: (s) => s.figures.scrub.passes },
  { name: 'scrub_progress_ratio', help: 'Share of the current deep scrub pass done (0 to 1)', kind: 'gauge', value: (s) => s.figures.scrub.progress },
  { name: 'scrub_keys_scanned', help: 'Keys the current scrub pass has checked', kind: 'gauge', value: (s) => s.figures.scrub.keysScanned },
  { name: 'scrub_bytes_per_second', help: 'Deep scrub read rate over its last second of work', kind: 'gauge', value: (s) => s.workers.scrub.bytesPerSecond ?? 0 },
  { name: 'scrub_verified_shards_total', help: 'Shards the deep scrub verified', kind: 'counter', value: (s) => s.figures.scrub.shardsVerified },
  { name: 'scrub_verified_bytes_total', help: 'Bytes the deep scrub verified', kind: 'counter', value: (s) => s.figures.scrub.bytesVerified },
  { name: 'scrub_checksum_failures_total', help: 'Shards the deep scrub found failing their checksum', kind: 'counter', value: (s) => s.figures.scrub.checksumFailures },
  { name: 'scrub_missing_shards_total', help: 'Shards the deep scrub found missing', kind: 'counter', value: (s) => s.figures.scrub.missingShards },
  { name: 'repairs_done_total', help: 'Repairs completed (shards rebuilt or records copied)', kind: 'counter', value: (s) => s.figures.repair.done },
  { name: 'repairs_failed_total', help: 'Repair attempts that failed (retried later)', kind: 'counter', value: (s) => s.figures.repair.failed },
  { name: 'repairs_pending', help: 'Repairs waiting to be done', kind: 'gauge', value: (s) => s.figures.repair.pending },
  { name: 'repair_rebuilt_bytes_total', help: 'Shard bytes rebuilt by repair', kind: 'counter', value: (s) => s.figures.repair.bytesRebuilt },
  { name: 'quarantined_shards', help: 'Shards quarantined for repair (failed checksums or missing data)', kind: 'gauge', value: (s) => s.quarantinedShards },
  { name: 'audit_passes_total', help: 'Audit passes over the partitions this node leads', kind: 'counter', value: (s) => s.figures.audit.passes },
  { name: 'audit_partitions_checked_total', help: 'Partitions audited: the members\' digests compared', kind: 'counter', value: (s) => s.figures.audit.partitionsChecked },
  {
    name: 'audit_partitions_unchecked_total',
    help: 'Partitions an audit passed over because fewer than two members answered their digest in time',
    kind: 'counter',
    value: (s) => s.figures.audit.partitionsUnchecked ?? 0,
  },
  {
    name: 'objects_below_full_redundancy',
    help: 'Versions some member of their node set lacked at the last audit pass',
    kind: 'gauge',
    value: (s) => s.figures.audit.belowFullRedundancy,
  },
  { name: 'rebalance_progress_ratio', help: 'Share of the current rebalance done (0 to 1; 1 when idle)', kind: 'gauge', value: (s) => s.figures.rebalance.progress },
  {
    name: 'rebalance_eta_seconds',
    help: 'Estimated seconds left of the current rebalance (0 when idle, -1 while unknown)',
    kind: 'gauge',
    value: (s) => s.figures.rebalance.etaSeconds ?? -1,
  },
  { name: 'rebalance_pending', help: 'Keys held here that belong to other nodes and are not moved yet', kind: 'gauge', value: (s) => s.figures.rebalance.pending },
  { name: 'rebalance_moved_total', help: 'Keys rebalance moved to their new owners', kind: 'counter', value: (s) => s.figures.rebalance.moved },
  { name: 'rebalance_moved_bytes_total', help: 'Bytes rebalance moved', kind: 'counter', value: (s) => s.figures.rebalance.bytesMoved },
  { name: 'gc_passes_total', help: 'Garbage-collection passes completed', kind: 'counter', value: (s) => s.figures.gc.passes },
  { name: 'gc_tombstones_dropped_total', help: 'Expired tombstones dropped', kind: 'counter', value: (s) => s.figures.gc.tombstonesDropped },
  { name: 'gc_uploads_aborted_total', help: 'Multipart uploads aborted after their expiry', kind: 'counter', value: (s) => s.figures.gc.uploadsAborted },
  { name: 'gc_parts_dropped_total', help: 'Parts of ended uploads dropped', kind: 'counter', value: (s) => s.figures.gc.partsDropped },
  {
    name: 'gc_files_removed_total',
    help: 'Orphan and temporary files removed',
    kind: 'counter',
    value: (s) => s.figures.gc.orphanFilesRemoved + s.figures.gc.tmpFilesRemoved,
  },
  { name: 'gc_freed_bytes_total', help: 'Bytes freed by garbage collection', kind: 'counter', value: (s) => s.figures.gc.bytesFreed },
  { name: 'lifecycle_passes_total', help: 'Lifecycle passes completed', kind: 'counter', value: (s) => s.figures.lifecycle?.passes ?? 0 },
  { name: 'lifecycle_keys_scanned_total', help: 'Keys the lifecycle worker examined', kind: 'counter', value: (s) => s.figures.lifecycle?.keysScanned ?? 0 },
  { name: 'lifecycle_expired_total', help: 'Current versions expired by lifecycle rules (delete marker or tombstone written)', kind: 'counter', value: (s) => s.figures.lifecycle?.expired ?? 0 },
  { name: 'lifecycle_noncurrent_removed_total', help: 'Noncurrent versions removed by lifecycle rules', kind: 'counter', value: (s) => s.figures.lifecycle?.noncurrentRemoved ?? 0 },
  { name: 'lifecycle_markers_removed_total', help: 'Expired object delete markers removed by lifecycle rules', kind: 'counter', value: (s) => s.figures.lifecycle?.markersRemoved ?? 0 },
  { name: 'lifecycle_uploads_aborted_total', help: 'Incomplete multipart uploads aborted by lifecycle rules', kind: 'counter', value: (s) => s.figures.lifecycle?.uploadsAborted ?? 0 },
];

type TargetFigure = { name: string; help: string; kind: 'counter' | 'gauge'; value: (target: EventTargetFigures) => number };

/** Event delivery's figures per target (label `target`), from the same NodeWorkStatus. */
const EVENT_TARGET_FIGURES: readonly TargetFigure[] = [
  { name: 'event_backlog', help: 'Changes this node leads that wait for the event target, as the last delivery pass found them', kind: 'gauge', value: (t) => t.backlog },
  { name: 'event_oldest_seconds', help: 'Age of the oldest change waiting for the event target (0: none waits)', kind: 'gauge', value: (t) => t.oldestSeconds },
  { name: 'event_deliveries_total', help: 'Event messages the target accepted', kind: 'counter', value: (t) => t.delivered },
  { name: 'event_failures_total', help: 'Publishes to the event target that failed (each is retried)', kind: 'counter', value: (t) => t.failures },
  { name: 'event_dropped_total', help: 'Changes dropped for the event target past the backlog limit', kind: 'counter', value: (t) => t.dropped },
  { name: 'event_undeliverable_total', help: 'Destinations skipped because their event target no longer exists', kind: 'counter', value: (t) => t.undeliverable },
];

/**
 * A storage node's Prometheus figures, read at scrape time from the node's own reports (health and
 * work status): nothing on the request path records anything but the fsync histogram.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  /** Observes one synced metadata write (seconds). */
  readonly observeSync: (seconds: number) => void;
  private readonly sources: NodeMetricsSources;
  private keyCount: { value: number; atMs: number } | undefined;
  /** The count under way: scrapes that find the last one expired share it instead of each walking the index. */
  private counting: Promise<number> | undefined;

  constructor(sources: NodeMetricsSources) {
    this.sources = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_node_' });
    new Gauge({ name: 'tessera_node_info', help: 'The node id (value 1)', labelNames: ['node'], registers }).set({ node: sources.nodeId }, 1);
    const sync = new Histogram({ name: 'tessera_node_fsync_duration_seconds', help: 'Duration of synced metadata writes (group commits)', buckets: SYNC_BUCKETS, registers });
    this.observeSync = (seconds) => sync.observe(seconds);
    const self = this;
    let health: NodeHealth | undefined;
    const fromHealth = (name: string, help: string, value: (h: NodeHealth) => number, first = false): void => {
      const gauge: Gauge = new Gauge({
        name: `tessera_node_${name}`,
        help,
        registers,
        async collect() {
          // The first figure of a scrape asks for the report; the others read the same one.
          if (first || health === undefined) health = await sources.health();
          gauge.set(value(health));
        },
      });
    };
    fromHealth('up', 'Whether the node accepts writes (1) or is degraded (0)', (h) => (h.status === 'ok' ? 1 : 0), true);
    fromHealth('free_bytes', 'Free bytes on the data directory\'s file system', (h) => h.freeBytes);
    fromHealth('capacity_bytes', 'The node\'s capacity limit in bytes (-1: only the disk limits it)', (h) => h.capacityBytes ?? -1);
    fromHealth('used_bytes', 'Shard bytes counted against the capacity limit (-1: no limit set)', (h) => h.usedBytes ?? -1);
    fromHealth('ring_epoch', 'Epoch of the newest ring the node holds', (h) => h.ringEpoch);
    fromHealth('checksum_failures', 'Shard reads that failed their checksum since start', (h) => h.checksumFailures);
    fromHealth('io_errors', 'Disk and LevelDB I/O errors since start', (h) => h.ioErrors ?? 0);
    fromHealth('no_space_refusals', 'Shard writes refused for lack of space since start', (h) => h.noSpaceRefusals ?? 0);
    const records = new Gauge({
      name: 'tessera_node_records',
      help: 'Keys this node holds a version (and its shard) of; counted at most once a minute, NaN until first counted',
      registers,
      async collect() {
        records.set(await self.records());
      },
    });
    this.digestFigures(sources.digests);
    const metadataDir = sources.metadataDir;
    if (metadataDir !== undefined) {
      const leveldb = new Gauge({
        name: 'tessera_node_leveldb_bytes',
        help: 'Size of the node\'s LevelDB files',
        registers,
        async collect() {
          leveldb.set(await directoryBytes(metadataDir));
        },
      });
    }
    if (sources.workStatus !== undefined) this.workFigures(sources.workStatus);
  }

  /** The partition digests peers' audits ask this node for: how many run and wait now, how many ended which way. */
  private digestFigures(digests: () => DigestFigures): void {
    const registers = [this.registry];
    const gauges: [string, string, (f: DigestFigures) => number][] = [
      ['partition_digests_running', 'Partition digests being computed for peers\' audits', (f) => f.running],
      ['partition_digests_waiting', 'Partition digests waiting for a turn', (f) => f.waiting],
    ];
    for (const [name, help, value] of gauges) {
      const gauge: Gauge = new Gauge({ name: `tessera_node_${name}`, help, registers, collect: () => gauge.set(value(digests())) });
    }
    const outcomes = new Counter<'outcome'>({
      name: 'tessera_node_partition_digests_total',
      help: 'Partition digests asked of this node, by outcome: done, abandoned (the caller went away), refused (too many waited)',
      labelNames: ['outcome'],
      registers,
      collect() {
        const figures = digests();
        outcomes.reset();
        for (const outcome of ['done', 'abandoned', 'refused'] as const) outcomes.inc({ outcome }, figures[outcome]);
      },
    });
  }

  /** The figures in Prometheus text format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  private workFigures(workStatus: () => NodeWorkStatus): void {
    const registers = [this.registry];
    let status: NodeWorkStatus | undefined;
    let statusAt = -1;
    // One status per scrape: the figures are read from the same snapshot.
    const current = (): NodeWorkStatus => {
      const now = performance.now();
      if (status === undefined || now - statusAt > 500) {
        status = workStatus();
        statusAt = now;
      }
      return status;
    };
    this.eventFigures(current);
    for (const figure of WORK_FIGURES) {
      const name = `tessera_node_${figure.name}`;
      if (figure.kind === 'counter') {
        const counter: Counter = new Counter({
          name,
          help: figure.help,
          registers,
          collect() {
            counter.reset();
            counter.inc(Math.max(0, figure.value(current())));
          },
        });
      } else {
        const gauge: Gauge = new Gauge({
          name,
          help: figure.help,
          registers,
          collect() {
            gauge.set(figure.value(current()));
          },
        });
      }
    }
  }

  /** One metric per event target figure, labelled by target: set afresh at each scrape, so a target gone from the report leaves no stale series. */
  private eventFigures(current: () => NodeWorkStatus): void {
    const registers = [this.registry];
    for (const figure of EVENT_TARGET_FIGURES) {
      const name = `tessera_node_${figure.name}`;
      if (figure.kind === 'counter') {
        const counter: Counter<'target'> = new Counter({
          name,
          help: figure.help,
          labelNames: ['target'],
          registers,
          collect() {
            counter.reset();
            for (const target of current().events ?? []) counter.inc({ target: target.target }, Math.max(0, figure.value(target)));
          },
        });
      } else {
        const gauge: Gauge<'target'> = new Gauge({
          name,
          help: figure.help,
          labelNames: ['target'],
          registers,
          collect() {
            gauge.reset();
            for (const target of current().events ?? []) gauge.set({ target: target.target }, figure.value(target));
          },
        });
      }
    }
  }

  /** The key count: a fresh one, or the one under way if it ends soon enough, else the last one. */
  private async records(): Promise<number> {
    if (this.keyCount !== undefined && performance.now() - this.keyCount.atMs <= RECORD_COUNT_TTL_MS) return this.keyCount.value;
    this.counting ??= this.sources.countKeys().then(
      (value) => {
        this.keyCount = { value, atMs: performance.now() };
        this.counting = undefined;
        return value;
      },
      (err: unknown) => {
        this.counting = undefined;
        throw err;
      },
    );
    const counting = this.counting;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), RECORD_COUNT_WAIT_MS);
    });
    try {
      const counted = await Promise.race([counting, waited]);
      if (counted !== undefined) return counted;
      // Left running for a later scrape; a failure then is that scrape's to report.
      counting.catch(() => undefined);
      return this.keyCount?.value ?? Number.NaN;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Bytes of the files directly in `dir` (LevelDB keeps its files flat). */
async function directoryBytes(dir: string): Promise<number> {
  // All at once: each stat waits its turn in libuv's pool, which a busy node's LevelDB reads fill, and
  // a hundred files stated one after another waited a hundred turns (over a minute on a busy node).
  const sizes = await Promise.all(
    (await readdir(dir)).map(async (name) => {
      try {
        const info = await stat(join(dir, name));
        return info.isFile() ? info.size : 0;
      } catch {
        // Compaction removed the file meanwhile.
        return 0;
      }
    }),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogDeliveryFigures } from '../access-log/index.js';
import { WRITE_STAGES, type WriteStage } from '../data-path/index.js';

/** The label an S3 request gets before its operation is known (it failed authentication or routing). */
export const UNKNOWN_OPERATION = 'unknown';

/** Status classes a request is counted under, by `Math.floor(status / 100)`. */
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Request latency buckets (seconds): a small cached GET to a large upload. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Node-protocol call latency buckets (seconds): to headers, so shard bodies do not count. */
const NODE_CALL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The children of one operation, created once so that a request costs one map lookup. */
interface OperationSeries {
  byClass: Counter.Internal[];
  latency: Histogram.Internal<'operation'>;
  received: Counter.Internal;
  sent: Counter.Internal;
}

/** Records one node-protocol call: its outcome ('ok' or a wire error code) and seconds to the node's answer. */
export type NodeCallObserver = (outcome: string, seconds: number) => void;

/** What the gateway's figures are read from at scrape time. */
export interface GatewayMetricsSources {
  /** The S3 operation names of the operation table: their series exist from the start. */
  operations: readonly string[];
  ringEpoch: () => number;
  kernel: string;
  relaxedSimd: boolean;
  /** The buckets that have a quota, with their usage (read at scrape time, at most every QUOTA_FIGURES_MS). */
  bucketQuotas?: () => Promise<readonly BucketQuotaFigure[]>;
  /** Server access log delivery's figures since start (docs/access-logs.md); read at scrape time. */
  accessLogs?: () => LogDeliveryFigures | undefined;
}


/** One bucket's quota and usage, as the metrics show them. */
export interface BucketQuotaFigure {
  bucket: string;
  maxBytes?: number | undefined;
  maxObjects?: number | undefined;
  bytes: number;
  objects: number;
}

/** Most buckets whose quota and usage the metrics show: a label per bucket, bounded (the first by name). */
export const MAX_QUOTA_SERIES = 1_000;
/** How long one reading of the buckets' usage serves scrapes: every scrape asks every node otherwise. */
const QUOTA_FIGURES_MS = 10_000;

/**
 * The gateway's Prometheus figures in a registry of its own (several gateways may share a process in
 * tests). Every labelled series of the request path is created up front, so recording a request is
 * a map lookup, three counter increments and a histogram observation: nothing is allocated.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly operations = new Map<string, OperationSeries>();
  private readonly requests: Counter<'operation' | 'status_class'>;
  private readonly latency: Histogram<'operation'>;
  private readonly received: Counter<'operation'>;
  private readonly sent: Counter<'operation'>;
  private readonly nodeCalls: Counter<'node' | 'outcome'>;
  private readonly nodeLatency: Histogram<'node'>;
  private readonly writeStages: Map<WriteStage, Histogram.Internal<'stage'>>;
  private readonly degraded: Counter;
  private readonly quorum: Counter;
  private readonly stalled: Counter;
  private readonly settlesDropped: Counter;
  private inFlightCount = 0;

  constructor(sources: GatewayMetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_gateway_' });
    ({ requests: this.requests, latency: this.latency, received: this.received, sent: this.sent } = requestMetrics(registers, () => this.inFlightCount));
    ({ nodeCalls: this.nodeCalls, nodeLatency: this.nodeLatency } = nodeCallMetrics(registers));
    ({ writeStages: this.writeStages, degraded: this.degraded, quorum: this.quorum, stalled: this.stalled, settlesDropped: this.settlesDropped } = dataPathMetrics(registers));
    clusterMetrics(registers, sources);
    if (sources.bucketQuotas !== undefined) quotaMetrics(registers, sources.bucketQuotas);
    if (sources.accessLogs !== undefined) accessLogMetrics(registers, sources.accessLogs);
    for (const name of [...sources.operations, UNKNOWN_OPERATION]) this.series(name);
  }

  /** A request has started being served. */
  requestStarted(): void {
    this.inFlightCount += 1;
  }

  /** A request has ended (answered, failed or cut off); call once per requestStarted. */
  requestEnded(): void {
    this.inFlightCount -= 1;
  }

  /** Records one answered request. */
  requestDone(operation: string, status: number, seconds: number, receivedBytes: number, sentBytes: number): void {
    const series = this.operations.get(operation) ?? this.series(operation);
    const statusClass = Math.min(Math.max(Math.floor(status / 100), 1), 5) - 1;
    (series.byClass[statusClass] as Counter.Internal).inc();
    series.latency.observe(seconds);
    if (receivedBytes > 0) series.received.inc(receivedBytes);
    if (sentBytes > 0) series.sent.inc(sentBytes);
  }

  /** A stripe was reconstructed from parity on a read. */
  degradedRead(): void {
    this.degraded.inc();
  }

  /** A request was refused because too few nodes answered. */
  quorumFailure(): void {
    this.quorum.inc();
  }

  /** A connection was closed because its client stopped reading. */
  stalledClient(): void {
    this.stalled.inc();
  }

  /** `count` bucket index settles could not be delivered to a replica (their intents stand). */
  indexSettlesDropped(count: number): void {
    this.settlesDropped.inc(count);
  }

  /** The recorder of one node's calls, its series created now (one per node, when its client is made). */
  nodeCallObserver(nodeId: string): NodeCallObserver {
    const latency = this.nodeLatency.labels(nodeId);
    const ok = this.nodeCalls.labels(nodeId, 'ok');
    return (outcome, seconds) => {
      latency.observe(seconds);
      if (outcome === 'ok') ok.inc();
      else this.nodeCalls.inc({ node: nodeId, outcome });
    };
  }

  /** Records how long one stage of a successful object write took. */
  writeStageDone(stage: WriteStage, seconds: number): void {
    this.writeStages.get(stage)?.observe(seconds);
  }

  /** The figures in Prometheus text format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  private series(operation: string): OperationSeries {
    const series: OperationSeries = {
      byClass: STATUS_CLASSES.map((statusClass) => this.requests.labels(operation, statusClass)),
      latency: this.latency.labels(operation),
      received: this.received.labels(operation),
      sent: this.sent.labels(operation),
    };
    this.operations.set(operation, series);
    return series;
  }
}

/**
 * The series of S3 requests: answered by status class, latency, bytes in and out; and the gauge of
 * those being served now, read from `inFlightCount` at scrape time.
 */
function requestMetrics(
  registers: Registry[],
  inFlightCount: () => number,
): {
  requests: Counter<'operation' | 'status_class'>;
  latency: Histogram<'operation'>;
  received: Counter<'operation'>;
  sent: Counter<'operation'>;
} {
  const requests = new Counter({
    name: 'tessera_gateway_requests_total',
    help: 'S3 requests answered, by operation and status class',
    labelNames: ['operation', 'status_class'],
    registers,
  });
  const latency = new Histogram({
    name: 'tessera_gateway_request_duration_seconds',
    help: 'Time from a request arriving to its response ending, by S3 operation',
    labelNames: ['operation'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const received = new Counter({
    name: 'tessera_gateway_received_bytes_total',
    help: 'Request body bytes of S3 requests (their declared size), by operation',
    labelNames: ['operation'],
    registers,
  });
  const sent = new Counter({
    name: 'tessera_gateway_sent_bytes_total',
    help: 'Bytes written to clients while serving S3 requests (bodies and headers), by operation',
    labelNames: ['operation'],
    registers,
  });
  const inFlight = new Gauge({
    name: 'tessera_gateway_requests_in_flight',
    help: 'S3 requests being served now',
    registers,
    collect() {
      inFlight.set(inFlightCount());
    },
  });
  return { requests, latency, received, sent };
}

/** The series of node-protocol calls to storage nodes: outcomes and time to answer, by node. */
function nodeCallMetrics(registers: Registry[]): { nodeCalls: Counter<'node' | 'outcome'>; nodeLatency: Histogram<'node'> } {
  const nodeCalls = new Counter({
    name: 'tessera_gateway_node_calls_total',
    help: "Node-protocol requests to storage nodes, by node and outcome ('ok' or the wire error code)",
    labelNames: ['node', 'outcome'],
    registers,
  });
  const nodeLatency = new Histogram({
    name: 'tessera_gateway_node_call_duration_seconds',
    help: "Time until a storage node answered a node-protocol request (headers), by node",
    labelNames: ['node'],
    buckets: NODE_CALL_BUCKETS,
    registers,
  });
  return { nodeCalls, nodeLatency };
}

/** The series of the data path: write stages, degraded reads, quorum failures, stalled clients and undelivered index settles. */
function dataPathMetrics(registers: Registry[]): {
  writeStages: Map<WriteStage, Histogram.Internal<'stage'>>;
  degraded: Counter;
  quorum: Counter;
  stalled: Counter;
  settlesDropped: Counter;
} {
  const writeStage = new Histogram({
    name: 'tessera_gateway_write_stage_duration_seconds',
    help:
      "Time each stage of a successful object write took: 'prepare' (body received, shards durable on a write quorum), " +
      "'checks' (digests, key lease, conditions), 'commit' (the record on a write quorum)",
    labelNames: ['stage'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const writeStages = new Map(WRITE_STAGES.map((stage) => [stage, writeStage.labels(stage)]));
  const degraded = new Counter({
    name: 'tessera_gateway_degraded_reads_total',
    help: 'Stripes read by reconstructing missing or damaged data shards from parity',
    registers,
  });
  const quorum = new Counter({
    name: 'tessera_gateway_quorum_failures_total',
    help: 'S3 requests refused with 503 because too few storage nodes answered',
    registers,
  });
  const stalled = new Counter({
    name: 'tessera_gateway_stalled_clients_total',
    help: 'Connections closed because their client took none of a response for responseStallTimeoutMs',
    registers,
  });
  const settlesDropped = new Counter({
    name: 'tessera_gateway_index_settles_dropped_total',
    help: 'Bucket index settles not delivered to a replica (down, slow, or too many queued); their intents stand until resolved',
    registers,
  });
  return { writeStages, degraded, quorum, stalled, settlesDropped };
}

/**
 * Per-bucket quota and usage gauges, for the buckets that have a quota only (an operator sets each one,
 * and at most MAX_QUOTA_SERIES are shown), so the label's values stay bounded. One reading serves every
 * gauge and every scrape for QUOTA_FIGURES_MS; a reading that fails leaves the gauges empty.
 */
function quotaMetrics(registers: Registry[], read: () => Promise<readonly BucketQuotaFigure[]>): void {
  let reading: { atMs: number; figures: Promise<readonly BucketQuotaFigure[]> } | undefined;
  const figures = (): Promise<readonly BucketQuotaFigure[]> => {
    const nowMs = Date.now();
    if (reading === undefined || nowMs - reading.atMs > QUOTA_FIGURES_MS) reading = { atMs: nowMs, figures: read().then((all) => all.slice(0, MAX_QUOTA_SERIES)).catch(() => []) };
    return reading.figures;
  };
  const gauge = (name: string, help: string, value: (figure: BucketQuotaFigure) => number | undefined): void => {
    const metric: Gauge<'bucket'> = new Gauge({
      name,
      help,
      labelNames: ['bucket'],
      aggregator: 'max',
      registers,
      async collect() {
        const all = await figures();
        metric.reset();
        for (const figure of all) {
          const v = value(figure);
          if (v !== undefined) metric.set({ bucket: figure.bucket }, v);
        }
      },
    });
  };
  gauge('tessera_gateway_bucket_quota_bytes', 'A bucket\'s byte quota (buckets with a quota)', (f) => f.maxBytes);
  gauge('tessera_gateway_bucket_quota_objects', 'A bucket\'s object quota (buckets with a quota)', (f) => f.maxObjects);
  gauge('tessera_gateway_bucket_usage_bytes', 'Logical bytes of the object versions a bucket with a quota keeps, from the nodes\' counts', (f) => f.bytes);
  gauge('tessera_gateway_bucket_usage_objects', 'Object versions (delete markers not counted) a bucket with a quota keeps, from the nodes\' counts', (f) => f.objects);
}

/** Server access log delivery, read at scrape time from the delivery's own counts. */
function accessLogMetrics(registers: Registry[], read: () => LogDeliveryFigures | undefined): void {
  const pending = new Gauge({
    name: 'tessera_gateway_access_log_pending_records',
    help: 'Access log records reserved: requests to logged buckets in flight and records waiting for their log object',
    registers,
    collect() {
      pending.set(read()?.pendingRecords ?? 0);
    },
  });
  const total = (name: string, help: string, value: (figures: LogDeliveryFigures) => number): void => {
    const metric = new Counter({
      name,
      help,
      registers,
      collect() {
        metric.reset();
        metric.inc(value(read() ?? { pendingRecords: 0, objectsWritten: 0, recordsWritten: 0, recordsDropped: 0, recordsFailed: 0, refused: 0 }));
      },
    });
  };
  total('tessera_gateway_access_log_objects_total', 'Access log objects written', (f) => f.objectsWritten);
  total('tessera_gateway_access_log_records_total', 'Access log records written', (f) => f.recordsWritten);
  total('tessera_gateway_access_log_dropped_total', 'Access log records dropped because their target bucket was gone', (f) => f.recordsDropped);
  total('tessera_gateway_access_log_failed_total', 'Access log records not written in time: their responses were cut off', (f) => f.recordsFailed);
  total('tessera_gateway_access_log_refused_total', 'Requests to logged buckets refused with SlowDown: every record slot was taken', (f) => f.refused);
}

/** The gauges of what the gateway runs with: the ring epoch (read at scrape time) and the erasure kernel. */
function clusterMetrics(registers: Registry[], sources: GatewayMetricsSources): void {
  const ringEpoch = new Gauge({
    name: 'tessera_gateway_ring_epoch',
    help: 'Epoch of the ring the gateway places objects with',
    aggregator: 'max',
    registers,
    collect() {
      ringEpoch.set(sources.ringEpoch());
    },
  });
  const kernel = new Gauge({
    name: 'tessera_gateway_erasure_kernel_info',
    help: 'The erasure-coding kernel in use (value 1)',
    labelNames: ['kernel', 'relaxed_simd'],
    aggregator: 'max',
    registers,
  });
  kernel.set({ kernel: sources.kernel, relaxed_simd: String(sources.relaxedSimd) }, 1);
}

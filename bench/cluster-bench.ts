/**
 * Cluster macro-benchmark: PUT and GET throughput and latency of the embedded cluster (one gateway and six storage
 * nodes, 4+2 erasure coding, in this process on loopback ports, real LevelDB and files in a temp dir), next to a bare
 * Fastify server that discards PUT bodies and serves GETs from memory, measured in the same run with the same client.
 * The ratio column (Tessera MB/s / baseline MB/s) is the figure to watch: it factors out how fast this machine does
 * HTTP at all. Run with `npm run bench` (`-- --quick` for a smoke run, `-- --help` for flags). Not part of `npm test`.
 */
import { randomFillSync } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { DEFAULTS } from '../src/common/index.js';
import { bestKernel } from '../src/erasure/index.js';
import { startCluster, TEST_CREDENTIALS, type TestCluster } from '../test/helpers/cluster.js';
import { formatSize, opsFor, parseBenchArgs, USAGE, type BenchArgs } from './lib/bench-args.js';
import { BaselineServer } from './lib/baseline-server.js';
import { failureLines, tableHeader, tableRow, throughputRatio, type CaseRow } from './lib/result-table.js';
import { runCase, runMain, type CaseResult } from './lib/run-case.js';
import { S3BenchClient } from './lib/s3-bench-client.js';

const BUCKET = 'bench';
/** Per-request headers and body timeout: long enough for a 64 MiB object on a loaded 2-core machine, short enough to expose a hang. */
const REQUEST_TIMEOUT_MS = 120_000;

/** The two things measured, each with its own client of the same class and settings. */
interface Target {
  name: 'tessera' | 'baseline';
  client: S3BenchClient;
}

/** Warm-up operations per size and target, so JIT and connection setup stay out of the first case. */
function warmupOpsFor(sizeBytes: number): number {
  return sizeBytes >= 16 * 1024 * 1024 ? 1 : sizeBytes >= 256 * 1024 ? 8 : 64;
}

async function warmUp(target: Target, payload: Uint8Array, concurrency: number): Promise<void> {
  const label = formatSize(payload.byteLength);
  const ops = warmupOpsFor(payload.byteLength);
  const key = (i: number): string => `warmup-${label}/${i}`;
  await runUntilDone(target, 'warm-up PUT', ops, concurrency, (i) => target.client.put(BUCKET, key(i), payload));
  // The first GET of each size compares every byte with what was PUT.
  await target.client.get(BUCKET, key(0), payload, true);
  await runUntilDone(target, 'warm-up GET', ops, concurrency, (i) => target.client.get(BUCKET, key(i), payload, false));
}

async function runUntilDone(target: Target, what: string, ops: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  const result = await runCase({ ops, concurrency: Math.min(concurrency, 4), sizeBytes: 0, op });
  if (result.errors > 0) throw new Error(`${target.name} ${what}: ${result.errors}/${ops} failed; first: ${result.firstError ?? '?'}`);
}

async function measure(target: Target, kind: 'put' | 'get', payload: Uint8Array, concurrency: number, ops: number): Promise<CaseResult> {
  const keyPrefix = `${formatSize(payload.byteLength)}-c${concurrency}`;
  const op =
    kind === 'put'
      ? (i: number) => target.client.put(BUCKET, `${keyPrefix}/${i}`, payload)
      : // Each case reads back what its PUT case wrote; the first object of each case is compared byte for byte.
        (i: number) => target.client.get(BUCKET, `${keyPrefix}/${i}`, payload, i === 0);
  return runCase({ ops, concurrency, sizeBytes: payload.byteLength, op });
}

function printPreamble(args: BenchArgs): void {
  const cpu = cpus();
  console.log(`tessera cluster bench${args.quick ? ' (--quick)' : ''}`);
  console.log(`node ${process.version} on ${process.platform}/${process.arch}`);
  console.log(`cpu: ${cpu[0]?.model ?? 'unknown'} x ${cpu.length}, memory ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, ${loadLine()}`);
  console.log(
    `cluster: 1 gateway + 6 storage nodes in-process, erasure 4+2, block ${formatSize(DEFAULTS.blockSizeBytes)}, kernel ${bestKernel()}`,
  );
  console.log(`sizes: ${args.sizesBytes.map(formatSize).join(', ')}; concurrency: ${args.concurrencies.join(', ')}`);
  console.log('client: undici Pool, SigV4 with UNSIGNED-PAYLOAD, both targets; MB = 10^6 bytes; latency = request start to last byte');
  console.log('ratio = tessera MB/s / baseline MB/s\n');
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  printPreamble(args);
  const startedMs = performance.now();

  // One pre-generated payload per size; every request of that size streams from it.
  const payloads = args.sizesBytes.map((sizeBytes) => randomFillSync(new Uint8Array(sizeBytes)));
  const connections = Math.max(...args.concurrencies);
  const cluster = await startCluster({
    // Production timeouts, not the test helper's short ones: a loaded 2-core machine must not trip them.
    gatewayOverrides: { metadataTimeoutMs: DEFAULTS.metadataTimeoutMs, stallTimeoutMs: DEFAULTS.stallTimeoutMs },
  });
  const baselineServer = new BaselineServer({ payloads });
  const targets: Target[] = [];
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (closing ??= (async () => {
      for (const target of targets) await target.client.close().catch(() => undefined);
      await baselineServer.close().catch(() => undefined);
      await cluster.close();
    })());
  const onSignal = (): void => {
    void shutdown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const baselineEndpoint = await baselineServer.start();
    const clientOptions = { ...TEST_CREDENTIALS, connections, timeoutMs: REQUEST_TIMEOUT_MS };
    const baseline: Target = { name: 'baseline', client: new S3BenchClient({ ...clientOptions, endpoint: baselineEndpoint }) };
    const tessera: Target = { name: 'tessera', client: new S3BenchClient({ ...clientOptions, endpoint: cluster.endpoint }) };
    targets.push(baseline, tessera);
    for (const target of targets) await target.client.createBucket(BUCKET);

    console.log(tableHeader());
    const rows: CaseRow[] = [];
    for (const payload of payloads) {
      for (const target of targets) await warmUp(target, payload, connections);
      for (const concurrency of args.concurrencies) {
        const ops = opsFor(payload.byteLength, concurrency, args.opsScale);
        for (const kind of ['put', 'get'] as const) {
          const baselineResult = await measure(baseline, kind, payload, concurrency, ops);
          const tesseraResult = await measure(tessera, kind, payload, concurrency, ops);
          const row: CaseRow = { name: `${kind}-${formatSize(payload.byteLength)}-c${concurrency}`, tessera: tesseraResult, baseline: baselineResult };
          rows.push(row);
          console.log(tableRow(row));
        }
      }
    }
    printSummary(rows, cluster, performance.now() - startedMs);
    return failureLines(rows).length === 0 ? 0 : 1;
  } finally {
    await shutdown();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Other work on the machine skews both targets; the load average says whether a run is worth comparing. */
function loadLine(): string {
  const [one = 0] = loadavg();
  const busy = one > cpus().length / 2 ? ' (machine busy: figures are noisy)' : '';
  return `load average ${one.toFixed(2)}${busy}`;
}

function printSummary(rows: readonly CaseRow[], cluster: TestCluster, elapsedMs: number): void {
  const ratios = rows.map(throughputRatio).filter(Number.isFinite);
  const geomean = ratios.length === 0 ? Number.NaN : Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
  console.log(`\ngeometric mean ratio over ${ratios.length} cases: ${geomean.toFixed(2)}`);
  console.log(`total ${(elapsedMs / 1000).toFixed(0)} s, ${loadLine()}; cluster data was in ${cluster.dataDir}`);
  const failures = failureLines(rows);
  if (failures.length > 0) {
    console.log(`\n${failures.length} case(s) had failed requests:`);
    for (const line of failures) console.log(`  ${line}`);
  }
}

runMain(main);

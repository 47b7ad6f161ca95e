/**
 * Cluster macro-benchmark (`npm run bench`; `-- --quick` for a smoke run, `-- --help` for flags). In one run it starts
 * three servers as child processes: the embedded default (`tessera dev`, what `npm start` runs), a Fastify null server
 * that stores nothing (the ceiling: what HTTP in one Node process costs) and s3rver (the reference peer), and, when
 * Ceph is installed, a fresh single-node Ceph cluster with RGW (the peers' bring-up scripts). Against each,
 * with the same client, it PUTs and then GETs the same objects for every line of the issue's matrix, verifying every
 * GET byte for byte, and reads each process's CPU from /proc over each timed window. A window in which other load
 * used the machine is run once more. It also measures a raw-disk fdatasync write (the ceiling of a durable PUT) and,
 * when a python with torch and boto3 is found, a PyTorch DataLoader reading objects from each server. Last, tessera's
 * encrypted (SSE-S3, SSE-C) against plain PUT and GET at 1 MiB and 64 MiB, interleaved in one run, and boto3's
 * listings of a bucket of many small keys on tessera and the peers. Ends with the README's tables in markdown.
 * Prints figures, ratios to the ceiling and the peer, and the issue's targets with PASS/MISS; exits 0 unless a
 * request failed. Not part of `npm test`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { formatSize, listingKeyCount, MATRIX, parseBenchArgs, scaledCount, TORCH_WORKLOAD, USAGE, type BenchArgs, type Workload } from './lib/bench-args.js';
import { CpuMeter } from './lib/cpu-meter.js';
import { flushDirtyPages, measureDisk, type DiskFigures } from './lib/disk-ceiling.js';
import { basePayload, objectParts } from './lib/payload.js';
import {
  cpuTableLines,
  failureLines,
  goalCounts,
  loaderTableLines,
  matrixHeader,
  matrixLine,
  matrixRow,
  roundsLine,
  type Absent,
  type LoaderRow,
  type MatrixRow,
  type Measured,
} from './lib/result-table.js';
import { runCase, runMain, type CaseResult } from './lib/run-case.js';
import { warmUp, warmupRoundOps, WARMUP_MAX_ROUNDS, WARMUP_MIN_ROUNDS, WARMUP_SETTLED, type WarmUp } from './lib/warm-up.js';
import { foldSseWindow, SSE_MODES, SSE_ROUNDS, SSE_TARGET_RATIO, SSE_WORKLOADS, sseHeaderLines, sseHeaders, sseLine, sseVerdicts, type SseFigures, type SseMode, type SseRow } from './lib/sse-cases.js';
import { listingMarkdown, runListingTable, type ListingRow } from './lib/listing-table.js';
import { defineWebhookTarget, EVENT_ROUNDS, EVENT_TARGET_RATIO, EVENT_WORKLOADS, EVENTS_BUCKET, everyCreatedObject, WebhookSink } from './lib/event-cases.js';
import { checkoutCommit, matrixMarkdown, runFactsLine, type RunFacts } from './lib/markdown-table.js';
import { describeTargets, planRgw, startTargets } from './lib/start-targets.js';
import { stopTarget, type Target } from './lib/targets.js';
import { TorchLoader } from './lib/torch-loader.js';

const BUCKET = 'bench';
const MiB = 1024 * 1024;
/** Per-request headers and body timeout: long enough for a 64 MiB object on a loaded 2-core machine, short enough to expose a hang. */
const REQUEST_TIMEOUT_MS = 120_000;
/** Busy CPU outside the measured processes (and kernel threads) above which a window is run once more. */
const OTHER_LOAD_CORES = 0.25;
/** Disk ceiling: bytes written, and the fdatasync interval of the variant that syncs as it goes. */
const DISK_BYTES = 256 * MiB;
const QUICK_DISK_BYTES = 64 * MiB;
const DISK_SYNC_EVERY_BYTES = 4 * MiB;
/** A DataLoader pass over 5,000 objects may take minutes against a slow server on a loaded machine. */
const LOADER_TIMEOUT_MS = 600_000;

/** Machine facts and what is compared, printed first so a pasted result carries its context. */
function printPreamble(args: BenchArgs, cpuMeter: CpuMeter): void {
  const cpu = cpus();
  console.log(`tessera bench${args.quick ? ' (--quick: a tenth of the objects)' : ''}${args.opsScale === 1 ? '' : ` (--ops-scale=${args.opsScale})`}`);
  console.log(`node ${process.version} on ${process.platform}/${process.arch}; cpu ${cpu[0]?.model ?? 'unknown'} x ${cpu.length}; memory ${(totalmem() / 1024 ** 3).toFixed(1)} GiB`);
  console.log(`${loadLine(true)}${cpuMeter.available ? '' : '; no /proc: CPU per process and other-load detection are off'}`);
}

/** The load average; before the run it says whether other work was going on, afterwards it includes this bench. */
function loadLine(before: boolean): string {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  const busy = before && one > cpus().length / 2 ? ' (machine busy before the run: figures may be noisy)' : '';
  return `load average ${one.toFixed(2)} ${five.toFixed(2)} ${fifteen.toFixed(2)}${before ? busy : ' (this run included)'}`;
}

function printDisk(disk: DiskFigures, dir: string): void {
  console.log(`\nraw disk (${formatSize(disk.totalBytes)} in 1MiB writes to ${dir}):`);
  console.log(`  one fdatasync at the end      ${figureMiBps(disk.syncAtEndMiBps)}   -> 4+2 PUT ceiling ${figureMiBps((disk.syncAtEndMiBps * 4) / 6)}`);
  console.log(
    `  fdatasync every ${formatSize(disk.syncEveryBytes).padEnd(13)} ${figureMiBps(disk.syncEveryMiBps)}   -> 4+2 PUT ceiling ${figureMiBps((disk.syncEveryMiBps * 4) / 6)}  (used for /disk)`,
  );
}

function figureMiBps(value: number): string {
  return `${value.toFixed(0).padStart(5)} MiB/s`;
}

/** The bench's state across the run: the CPU meter, the key prefixes the PUTs wrote, and whether it was interrupted. */
class Bench {
  readonly cpu = new CpuMeter();
  /** The file system every server stores on: written back after each window (flushDirtyPages). */
  private readonly dataDir: string;
  /** Set on SIGINT/SIGTERM: requests then fail as the servers stop, and their figures are not printed. */
  interrupted = false;
  /** Per target and workload: the key prefix the last PUT wrote, which the GET then reads. */
  private readonly putPrefixes = new Map<string, string>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /**
   * Runs `work` in a CPU window for `target`; when other load used more than OTHER_LOAD_CORES, runs it once more
   * (with `attempt` 1) and keeps the second figures, noting the first.
   */
  async window<T>(targetPids: readonly number[], clientPid: number | 'self', work: (attempt: number) => Promise<T>): Promise<Measured<T>> {
    const first = await this.measure(targetPids, clientPid, () => work(0));
    if (!(first.cpu.otherCores > OTHER_LOAD_CORES)) return { ...first, firstTry: undefined };
    const second = await this.measure(targetPids, clientPid, () => work(1));
    return { ...second, firstTry: first.cpu };
  }

  /** Writes back what the servers left dirty in the page cache (after warm-ups; every window does it itself). */
  async writeBack(): Promise<void> {
    await flushDirtyPages(this.dataDir);
  }

  /** One timed window, then (untimed) the disk written back: each window pays for its own writes only. */
  private async measure<T>(targetPids: readonly number[], clientPid: number | 'self', work: () => Promise<T>): Promise<Omit<Measured<T>, 'firstTry'>> {
    const measured = await this.cpu.measure(targetPids, clientPid, work);
    await flushDirtyPages(this.dataDir);
    return measured;
  }

  async put(target: Target, workload: Workload, objects: number, base: Uint8Array, round: number): Promise<Measured<CaseResult>> {
    const slot = `${target.name}/${workload.sizeBytes}/${round}`;
    return this.window(target.pids, 'self', (attempt) => {
      // A repeated PUT writes fresh keys, so it measures the same work as the first (no overwrites).
      const prefix = `${formatSize(workload.sizeBytes)}-c${workload.clients}-r${round}${attempt === 0 ? '' : `-again${attempt}`}`;
      this.putPrefixes.set(slot, prefix);
      return runCase({
        ops: objects,
        concurrency: workload.clients,
        sizeBytes: workload.sizeBytes,
        op: (i) => target.client.put(BUCKET, `${prefix}/${i}`, objectParts(`${prefix}/${i}`, base)),
      });
    });
  }

  /** GETs what the PUT of the same round wrote. */
  async get(target: Target, workload: Workload, objects: number, base: Uint8Array, round: number): Promise<Measured<CaseResult>> {
    const prefix = this.putPrefixes.get(`${target.name}/${workload.sizeBytes}/${round}`);
    if (prefix === undefined) throw new Error(`GET ${formatSize(workload.sizeBytes)} round ${round} on ${target.name} before its PUT`);
    return this.window(target.pids, 'self', () =>
      runCase({
        ops: objects,
        concurrency: workload.clients,
        sizeBytes: workload.sizeBytes,
        // Every GET is compared byte for byte with what its key's PUT sent.
        op: (i) => target.client.get(BUCKET, `${prefix}/${i}`, objectParts(`${prefix}/${i}`, base), true),
      }),
    );
  }
}

/** `items` starting at index `by` (modulo its length), wrapping around. */
function rotated<T>(items: readonly T[], by: number): T[] {
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

async function runMatrix(bench: Bench, args: BenchArgs, targets: readonly Target[], diskCeilingMiBps: number, absent: Absent): Promise<MatrixRow[]> {
  console.log('\nPUT then GET of the same objects by the same client (undici, SigV4 UNSIGNED-PAYLOAD); every GET verified byte for byte.');
  console.log('rate in the unit of the issue target; p50/p99 in ms, request start to last byte; cores = the server process tree in the window;');
  console.log('ms cpu = the server\'s CPU per request (ms; for RGW radosgw + ceph-osd + ceph-mon);');
  console.log(`ratios = tessera rate over the null server (ceiling), the disk's 4+2 PUT ceiling, s3rver and RGW (peers); * = run twice (other load)`);
  if (args.rounds > 1) console.log(`${args.rounds} rounds per line, the servers taking turns; each server's median round is shown, ratios are medians of the rounds' ratios; then every round's rates and tessera's ratio to each peer`);
  console.log('');
  console.log(matrixHeader(absent));
  const rows: MatrixRow[] = [];
  const warmUps: string[] = [];
  for (const workload of MATRIX) {
    const base = basePayload(workload.sizeBytes);
    const objects = scaledCount(workload.objects, args, workload.clients);
    const warmed: WarmUp[] = [];
    for (const target of targets) warmed.push(await warmUp(target.name, target.client, BUCKET, base, workload.clients, args.quick));
    await bench.writeBack();
    const round = `${warmupRoundOps(workload.sizeBytes)} PUTs and GETs of ${formatSize(workload.sizeBytes)} at ${workload.clients} clients`;
    warmUps.push(`  ${round}: ${warmed.map((w) => `${w.target} ${w.rounds} (last ${w.opsPerSec.toFixed(0)} ops/s)`).join(', ')}`);
    for (const op of ['put', 'get'] as const) {
      const rounds: MatrixRow['rounds'] = {};
      for (let round = 0; round < args.rounds; round += 1) {
        // The servers take turns, each round starting with the next, so that none always runs first after a write-back.
        for (const target of rotated(targets, round)) (rounds[target.name] ??= []).push(await bench[op](target, workload, objects, base, round));
        if (bench.interrupted) throw new Error('interrupted');
      }
      const row = matrixRow(op, workload, objects, rounds);
      rows.push(row);
      console.log(matrixLine(row, diskCeilingMiBps));
      const perRound = roundsLine(row);
      if (perRound !== undefined) console.log(perRound);
    }
  }
  console.log(`\nWarm-up rounds before each size${args.quick ? ' (--quick: one round)' : ` (until a round is no more than ${WARMUP_SETTLED * 100}% faster than the best before it; ${WARMUP_MIN_ROUNDS} to ${WARMUP_MAX_ROUNDS})`}:`);
  for (const line of warmUps) console.log(line);
  return rows;
}

async function runLoaderTable(bench: Bench, args: BenchArgs, targets: readonly Target[], root: string): Promise<LoaderRow[]> {
  const { sizeBytes, numWorkers, batchSize } = TORCH_WORKLOAD;
  const objects = scaledCount(TORCH_WORKLOAD.objects, args, batchSize);
  console.log(`\nPyTorch DataLoader: ${objects} objects of ${formatSize(sizeBytes)}, num_workers ${numWorkers}, batch ${batchSize}, one boto3 client per worker (path style)`);
  if (!args.torch) {
    console.log('  skipped (--no-torch)');
    return [];
  }
  const loader = await TorchLoader.start();
  if ('skipped' in loader) {
    console.log(`  skipped: ${loader.skipped}`);
    return [];
  }
  try {
    console.log(`  ${loader.python}: ${loader.versions}; every sample verified; wall s includes worker start-up (1st batch s)`);
    console.log('  samples/s = samples / wall s; server/client/other = cores in the window (client = python and its workers)\n');
    const base = basePayload(sizeBytes);
    const basePath = join(root, `torch-base-${sizeBytes}`);
    await writeFile(basePath, base);
    const prefix = `torch-${formatSize(sizeBytes)}`;
    const rows: LoaderRow[] = [];
    for (const target of targets) {
      const key = (i: number): string => `${prefix}/${i}`;
      const prefill = await runCase({ ops: objects, concurrency: 16, sizeBytes, op: (i) => target.client.put(BUCKET, key(i), objectParts(key(i), base)) });
      const request = {
        endpoint: target.endpoint,
        accessKeyId: target.accessKeyId,
        secretAccessKey: target.secretAccessKey,
        bucket: BUCKET,
        prefix,
        count: objects,
        basePath,
        numWorkers,
        batchSize,
      };
      const measured = await bench.window(target.pids, loader.pid, () => loader.run(request, LOADER_TIMEOUT_MS));
      if (bench.interrupted) throw new Error('interrupted');
      rows.push({ target: target.name, measured, prefillErrors: prefill.errors, prefillFirstError: prefill.firstError });
    }
    for (const line of loaderTableLines(rows, sizeBytes)) console.log(line);
    return rows;
  } finally {
    await loader.close();
  }
}

/**
 * Tessera alone: the same objects PUT then GET plain, with SSE-S3 and with SSE-C, the modes taking turns for
 * SSE_ROUNDS rounds so that load from elsewhere hurts them alike; each mode keeps its best throughput and cheapest CPU.
 */
async function runEncryption(bench: Bench, args: BenchArgs, tessera: Target): Promise<{ pass: number; miss: number; failed: string[] }> {
  console.log(`\nEncryption at rest, tessera dev only, AES-256-GCM on ${tessera.aesBackend === 'native' ? 'the native addon' : tessera.aesBackend === 'node' ? 'node:crypto' : tessera.aesBackend ?? '?'}: plain, SSE-S3 and SSE-C in turn, best of ${SSE_ROUNDS} rounds; every GET verified byte for byte.`);
  console.log('/plain = throughput over plain\'s in the same run; ms CPU/MiB = the server process tree\'s CPU per MiB moved; * = run twice (other load)\n');
  if (!args.sse) {
    console.log('  skipped (--no-sse)');
    return { pass: 0, miss: 0, failed: [] };
  }
  for (const line of sseHeaderLines()) console.log(line);
  const counts = { pass: 0, miss: 0, failed: [] as string[] };
  for (const workload of SSE_WORKLOADS) {
    const base = basePayload(workload.sizeBytes);
    const objects = scaledCount(workload.objects, args, workload.clients);
    const size = formatSize(workload.sizeBytes);
    const figures = new Map<SseMode, { put: SseFigures | undefined; get: SseFigures | undefined }>(SSE_MODES.map((mode) => [mode, { put: undefined, get: undefined }]));
    for (let round = 0; round < SSE_ROUNDS; round += 1) {
      for (const mode of SSE_MODES) {
        const headers = sseHeaders(mode);
        const sofar = figures.get(mode) as { put: SseFigures | undefined; get: SseFigures | undefined };
        let prefix = '';
        const put = await bench.window(tessera.pids, 'self', (attempt) => {
          prefix = `sse-${mode}-${size}-r${round}${attempt === 0 ? '' : `-again${attempt}`}`;
          return runCase({
            ops: objects,
            concurrency: workload.clients,
            sizeBytes: workload.sizeBytes,
            op: (i) => tessera.client.put(BUCKET, `${prefix}/${i}`, objectParts(`${prefix}/${i}`, base), headers.put),
          });
        });
        const get = await bench.window(tessera.pids, 'self', () =>
          runCase({
            ops: objects,
            concurrency: workload.clients,
            sizeBytes: workload.sizeBytes,
            op: (i) => tessera.client.get(BUCKET, `${prefix}/${i}`, objectParts(`${prefix}/${i}`, base), true, headers.get),
          }),
        );
        if (bench.interrupted) throw new Error('interrupted');
        figures.set(mode, { put: foldSseWindow(sofar.put, put, workload.sizeBytes), get: foldSseWindow(sofar.get, get, workload.sizeBytes) });
      }
    }
    const rows: SseRow[] = SSE_MODES.map((mode) => {
      const { put, get } = figures.get(mode) as { put: SseFigures; get: SseFigures };
      return { workload, objects, mode, put, get };
    });
    const plain = rows[0] as SseRow;
    for (const row of rows) {
      console.log(sseLine(row, plain));
      if (row.put.errors + row.get.errors > 0) counts.failed.push(`encryption ${size} ${row.mode}: ${row.put.firstError ?? row.get.firstError ?? '?'}`);
      if (row.mode === 'plain') continue;
      for (const verdict of sseVerdicts(row, plain)) counts[verdict.pass ? 'pass' : 'miss'] += 1;
    }
  }
  console.log(`(target: each encrypted PUT and GET at >= ${SSE_TARGET_RATIO * 100}% of plain's throughput)`);
  return counts;
}

/**
 * Tessera alone: the same PUTs to a plain bucket and to one whose writes are notified (their changes logged in the
 * commit's batch on every node, then delivered by the nodes to a webhook this bench serves), in turn for
 * EVENT_ROUNDS rounds, each keeping its best throughput and cheapest CPU. Ends once every event arrived.
 */
async function runChangeLog(bench: Bench, args: BenchArgs, tessera: Target, tesseraDir: string): Promise<{ pass: number; miss: number; failed: string[] }> {
  console.log(`\nChange log, tessera dev only: PUTs to a bucket whose notification configuration selects every created object, against plain PUTs, in turn, best of ${EVENT_ROUNDS} rounds.`);
  console.log('/plain = throughput over plain\'s in the same run; ms CPU/op = the server process tree\'s CPU per PUT; * = run twice (other load)\n');
  const counts = { pass: 0, miss: 0, failed: [] as string[] };
  if (!args.events || args.sseOnly) {
    console.log(`  skipped (${args.sseOnly ? '--sse-only' : '--no-events'})`);
    return counts;
  }
  const sink = new WebhookSink();
  try {
    const arn = await defineWebhookTarget(tesseraDir, 'bench-webhook', await sink.start());
    await tessera.client.createBucket(EVENTS_BUCKET);
    await tessera.client.putBucketConfiguration(EVENTS_BUCKET, 'notification', everyCreatedObject(arn));
    console.log(`  ${'case'.padEnd(22)} ${'plain'.padStart(12)} ${'events'.padStart(12)} ${'/plain'.padStart(7)}  ${'ms CPU/op plain'.padStart(16)} ${'events'.padStart(7)}`);
    let notified = 0;
    for (const workload of EVENT_WORKLOADS) {
      const base = basePayload(workload.sizeBytes);
      const objects = scaledCount(workload.objects, args, workload.clients);
      const size = formatSize(workload.sizeBytes);
      const best = { plain: { opsPerSec: 0, cpuMs: Number.POSITIVE_INFINITY, repeated: false }, events: { opsPerSec: 0, cpuMs: Number.POSITIVE_INFINITY, repeated: false } };
      for (let round = 0; round < EVENT_ROUNDS; round += 1) {
        for (const mode of ['plain', 'events'] as const) {
          const bucket = mode === 'plain' ? BUCKET : EVENTS_BUCKET;
          const measured = await bench.window(tessera.pids, 'self', (attempt) => {
            const prefix = `events-${mode}-${size}-r${round}${attempt === 0 ? '' : `-again${attempt}`}`;
            return runCase({ ops: objects, concurrency: workload.clients, sizeBytes: workload.sizeBytes, op: (i) => tessera.client.put(bucket, `${prefix}/${i}`, objectParts(`${prefix}/${i}`, base)) });
          });
          if (bench.interrupted) throw new Error('interrupted');
          const result = measured.value;
          if (mode === 'events') notified += result.okOps + (measured.firstTry === undefined ? 0 : objects);
          if (result.errors > 0) counts.failed.push(`change log ${size} ${mode}: ${result.firstError ?? '?'}`);
          const figures = best[mode];
          figures.opsPerSec = Math.max(figures.opsPerSec, result.opsPerSec);
          if (result.okOps > 0) figures.cpuMs = Math.min(figures.cpuMs, (measured.cpu.targetCores * result.wallMs) / result.okOps);
          figures.repeated ||= measured.firstTry !== undefined;
        }
      }
      const ratio = best.events.opsPerSec / best.plain.opsPerSec;
      const mark = (repeated: boolean): string => (repeated ? '*' : ' ');
      console.log(
        `  PUT ${size.padEnd(6)} x ${String(objects).padEnd(8)} ${best.plain.opsPerSec.toFixed(0).padStart(8)} op/s${mark(best.plain.repeated)} ${best.events.opsPerSec.toFixed(0).padStart(7)} op/s${mark(best.events.repeated)} ${ratio.toFixed(2).padStart(6)}  ${best.plain.cpuMs.toFixed(2).padStart(16)} ${best.events.cpuMs.toFixed(2).padStart(7)}  ${ratio >= EVENT_TARGET_RATIO ? 'PASS' : 'MISS'}`,
      );
      counts[ratio >= EVENT_TARGET_RATIO ? 'pass' : 'miss'] += 1;
    }
    console.log(`(target: PUT throughput with the change log >= ${EVENT_TARGET_RATIO * 100}% of plain's)`);
    const drainStart = performance.now();
    const drainBy = drainStart + 300_000;
    while (sink.records < notified && performance.now() < drainBy && !bench.interrupted) await new Promise((resolve) => setTimeout(resolve, 100));
    const drained = ((performance.now() - drainStart) / 1000).toFixed(1);
    console.log(`events delivered to the webhook: ${sink.records} of ${notified} written, all in ${drained} s after the last PUT${sink.records < notified ? ' (NOT ALL: gave up waiting)' : ''}`);
    if (sink.records < notified) counts.failed.push(`change log: ${notified - sink.records} events not delivered within 5 minutes`);
    return counts;
  } finally {
    await sink.close();
  }
}

function printCpu(rows: readonly MatrixRow[], loaderRows: readonly LoaderRow[], cpu: CpuMeter): void {
  if (!cpu.available) return;
  console.log(`\nCPU in each timed window, in cores of ${cpus().length}: server = the target's process tree, client = the load generator`);
  console.log(`(this process; for the DataLoader, python and its workers), other = the rest of the machine less kernel threads,`);
  console.log(`including the idle servers. A window with other > ${OTHER_LOAD_CORES} cores was run again; the second figures are shown.\n`);
  for (const line of cpuTableLines(rows, loaderRows)) console.log(line);
}


/** The README's tables in markdown, under the command and date that made them. */
function printMarkdown(facts: RunFacts, rows: readonly MatrixRow[], listingRows: readonly ListingRow[], absent: Absent, listingKeys: number): void {
  console.log('\nREADME tables (markdown):\n');
  console.log(runFactsLine(facts));
  if (rows.length > 0) console.log(['', ...matrixMarkdown(rows, absent)].join('\n'));
  if (listingRows.length > 0) console.log(['', ...listingMarkdown(listingRows, absent, listingKeys)].join('\n'));
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const startedMs = performance.now();
  const startedAt = new Date();
  const root = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  const bench = new Bench(root);
  printPreamble(args, bench.cpu);
  console.log(`started ${startedAt.toISOString()}`);
  const rgw = planRgw(args, process.env);
  const absent: Absent = 'absent' in rgw ? { rgw: rgw.absent } : {};
  const stopping = new AbortController();
  let starting: Promise<Target[]> = Promise.resolve([]);
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (closing ??= (async () => {
      // A start in progress (Ceph's takes a minute) is cut short, then whatever it started is stopped.
      stopping.abort();
      const targets = await starting.catch(() => []);
      await Promise.all(targets.map(stopTarget));
      if (!args.keepData) await rm(root, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    // Requests in flight fail as their servers stop; the figures they would print mean nothing.
    bench.interrupted = true;
    console.log(`\n${signal}: stopping the servers${args.keepData ? '' : ' and removing the data'}`);
    void shutdown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // The disk goes first, with no server running, so nothing else writes.
    const diskDir = join(root, 'disk');
    await mkdir(diskDir);
    // One table alone (--sse-only, --events-only): no disk ceiling, matrix, DataLoader or listings.
    const oneTable = args.sseOnly || args.eventsOnly;
    const disk = oneTable ? undefined : await measureDisk(diskDir, args.quick ? QUICK_DISK_BYTES : DISK_BYTES, DISK_SYNC_EVERY_BYTES, basePayload(MiB));
    if (disk !== undefined) printDisk(disk, root);

    const connections = Math.max(...MATRIX.map((workload) => workload.clients), 16);
    starting = startTargets(root, { connections, timeoutMs: REQUEST_TIMEOUT_MS }, rgw, stopping.signal, absent);
    const targets = await starting;
    if (bench.interrupted) throw new Error('interrupted');
    describeTargets(targets, rgw, absent);
    for (const target of targets) await target.client.createBucket(BUCKET);

    const rows = disk === undefined ? [] : await runMatrix(bench, args, targets, (disk.syncEveryMiBps * 4) / 6, absent);
    const loaderRows = oneTable ? [] : await runLoaderTable(bench, args, targets, root);
    const listingKeys = listingKeyCount(args);
    const listingRows = oneTable ? [] : await runListingTable({ targets, absent, keys: listingKeys, enabled: args.listing, signal: stopping.signal });
    const encryption = await runEncryption(bench, { ...args, sse: args.sse && !args.eventsOnly }, targets.find((target) => target.name === 'tessera') as Target);
    const changeLog = await runChangeLog(bench, args, targets.find((target) => target.name === 'tessera') as Target, join(root, 'tessera'));
    printCpu(rows, loaderRows, bench.cpu);

    const matrixGoals = goalCounts(rows);
    const goals = { pass: matrixGoals.pass + encryption.pass + changeLog.pass, miss: matrixGoals.miss + encryption.miss + changeLog.miss };
    const listingFailures = listingRows.flatMap((row) => row.problems.map((problem) => `listing ${row.target}: ${problem}`));
    const failures = [...failureLines(rows, loaderRows), ...listingFailures, ...encryption.failed, ...changeLog.failed];
    const windows = [...rows.flatMap((row) => Object.values(row.rounds).flat()), ...loaderRows.map((row) => row.measured)];
    const repeated = windows.filter((window) => window.firstTry !== undefined).length;
    const noisy = windows.filter((window) => window.cpu.otherCores > OTHER_LOAD_CORES).length;
    console.log(`\nissue targets: ${goals.pass} PASS, ${goals.miss} MISS (reported, not fatal)`);
    if (repeated > 0) {
      const still = noisy === 0 ? 'none still had it' : `${noisy} still had it on the second run: compare ratios, not absolute figures`;
      console.log(`${repeated} of ${windows.length} timed windows ran twice because of other load; ${still}`);
    }
    console.log(`total ${((performance.now() - startedMs) / 1000).toFixed(0)} s, ${loadLine(false)}${args.keepData ? `; data kept in ${root}` : ''}`);
    const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    const cpu = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`;
    printMarkdown({ command, startedAt, commit: checkoutCommit(), node: process.version, cpu }, rows, listingRows, absent, listingKeys);
    if (failures.length > 0) {
      console.log(`\n${failures.length} case(s) had failed requests:`);
      for (const line of failures) console.log(`  ${line}`);
    }
    return failures.length === 0 ? 0 : 1;
  } finally {
    await shutdown();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

runMain(main);

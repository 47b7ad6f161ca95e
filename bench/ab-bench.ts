/**
 * Two builds of tessera side by side (`npm run bench:ab -- --baseline=<checkout>`): the embedded default of this
 * checkout and of another (built there with `npm run build`) run at the same time, each a child process with its data
 * in its own temporary directory, and take turns through the same timed PUT and GET windows of one workload. With
 * --baseline-node the baseline runs on another Node.js binary, so that `--baseline=.` compares engines. A change's
 * effect is then the median of the round-by-round ratios, which a machine whose speed drifts from one minute to the
 * next does not move as much as it moves any single figure. Reports ops/s, MiB/s, p50/p99, each server's
 * CPU per request and the bytes it wrote to storage per request in every round. Not part of `npm test`.
 */
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { formatSize, parseSize } from './lib/bench-args.js';
import { CpuMeter, type CpuFigures } from './lib/cpu-meter.js';
import { flushDirtyPages } from './lib/disk-ceiling.js';
import { median, medianInterval } from './lib/median.js';
import { basePayload, objectParts } from './lib/payload.js';
import { runCase, runMain, type CaseResult } from './lib/run-case.js';
import { freePort, startTessera, stopTarget, type Target } from './lib/targets.js';
import { warmUp } from './lib/warm-up.js';

const USAGE = `usage: npm run bench:ab -- --baseline=<checkout> [--baseline-node=<node>] [--size=4KiB] [--clients=16] [--objects=2000] [--rounds=5] [--writes-between=0] [--quick]
  Runs this checkout's tessera dev and the one built in <checkout> (its dist/bin/tessera.js, from npm run build)
  side by side and times PUT then GET of the same objects on each, the two taking turns for --rounds rounds.
  --baseline-node=<node>: the Node.js binary that runs the baseline (this one's by default); with
  --baseline=. it compares engines instead of builds.
  --writes-between=N: N more PUTs of other keys, untimed, between a round's PUTs and its GETs, so that the GETs
  read objects written N writes ago rather than the newest (what caches hold then).
  Prints every round and the median of the round-by-round ratios (this build over the baseline), with the
  sign test's 95% interval for that median (6 rounds or more): a ratio whose interval holds 1 is not told
  apart from no change.`;

const BUCKET = 'bench';
/** Per-request headers and body timeout, as in `npm run bench`. */
const REQUEST_TIMEOUT_MS = 120_000;

interface AbArgs {
  baseline: string;
  /** The node binary that runs the baseline; undefined: the one running this script. */
  baselineNode: string | undefined;
  sizeBytes: number;
  clients: number;
  objects: number;
  rounds: number;
  writesBetween: number;
  quick: boolean;
}

function parseArgs(argv: readonly string[]): AbArgs | 'help' {
  const args: Partial<AbArgs> & Omit<AbArgs, 'baseline'> = { baselineNode: undefined, sizeBytes: 4 * 1024, clients: 16, objects: 2000, rounds: 5, writesBetween: 0, quick: false };
  const whole = (name: string, value: string, least = 1): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < least) throw new Error(`bad ${name} ${JSON.stringify(value)}: expected a whole number >= ${least}`);
    return n;
  };
  for (const arg of argv) {
    const at = arg.indexOf('=');
    const [name, value] = at < 0 ? [arg, undefined] : [arg.slice(0, at), arg.slice(at + 1)];
    if (name === '--help' || name === '-h') return 'help';
    if (name === '--quick') args.quick = true;
    else if (name === '--baseline' && value) args.baseline = resolve(value);
    // A path is made absolute here; a bare name (node22) stays one, looked up on PATH when started.
    else if (name === '--baseline-node' && value) args.baselineNode = value.includes('/') ? resolve(value) : value;
    else if (name === '--size' && value) args.sizeBytes = parseSize(value);
    else if (name === '--clients' && value) args.clients = whole(name, value);
    else if (name === '--objects' && value) args.objects = whole(name, value);
    else if (name === '--rounds' && value) args.rounds = whole(name, value);
    else if (name === '--writes-between' && value) args.writesBetween = whole(name, value, 0);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  if (args.baseline === undefined) throw new Error(`--baseline is required\n${USAGE}`);
  return { ...args, baseline: args.baseline };
}

/** One timed window: what the client saw and what the machine's processes used. */
interface Window {
  result: CaseResult;
  cpu: CpuFigures;
}

/** A build under test: its label, its running server, and its windows per operation, one per round. */
interface Build {
  label: string;
  target: Target;
  windows: { put: Window[]; get: Window[] };
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const args = parsed;
  const baselineBin = join(args.baseline, 'dist', 'bin', 'tessera.js');
  await access(baselineBin).catch(() => {
    throw new Error(`no build at ${baselineBin}: run npm run build in ${args.baseline} first`);
  });
  if (args.baselineNode !== undefined && isAbsolute(args.baselineNode)) {
    await access(args.baselineNode).catch(() => {
      throw new Error(`no node binary at ${args.baselineNode}`);
    });
  }
  const objects = args.quick ? Math.max(args.clients, Math.round(args.objects / 10)) : args.objects;
  const rounds = args.quick ? 1 : args.rounds;
  const cpuMeter = new CpuMeter();
  const root = await mkdtemp(join(tmpdir(), 'tessera-ab-'));
  const builds: Build[] = [];
  const [one, five] = loadavg();
  const between = args.writesBetween > 0 ? `, ${args.writesBetween} other PUTs (untimed) between each round's PUTs and GETs` : '';
  console.log(`tessera A/B: ${formatSize(args.sizeBytes)} x ${objects} at ${args.clients} clients, ${rounds} round(s), the builds taking turns${between}`);
  const engine = args.baselineNode === undefined ? '' : ` on ${args.baselineNode}`;
  console.log(`this: ${process.cwd()} on ${process.execPath} (${process.version}); baseline: ${args.baseline}${engine}; load average ${one?.toFixed(2)} ${five?.toFixed(2)} before the run`);
  try {
    const settings = { connections: args.clients, timeoutMs: REQUEST_TIMEOUT_MS };
    // Undefined bin and node take startTessera's defaults: this checkout's build, this process's node.
    const start = async (label: string, bin?: string, node?: string): Promise<Build> => {
      const dataDir = join(root, label);
      await mkdir(dataDir);
      const port = await freePort();
      const target = await startTessera(dataDir, port, settings, bin, node);
      builds.push({ label, target, windows: { put: [], get: [] } });
      return builds.at(-1) as Build;
    };
    // One at a time: two first starts side by side would each take the other's CPU while compiling.
    await start('this');
    await start('baseline', baselineBin, args.baselineNode);
    const base = basePayload(args.sizeBytes);
    for (const build of builds) {
      await build.target.client.createBucket(BUCKET);
      const warmed = await warmUp(build.label, build.target.client, BUCKET, base, args.clients, args.quick);
      console.log(`  ${build.label}: ${build.target.description}; warm after ${warmed.rounds} round(s)`);
    }
    await flushDirtyPages(root);

    console.log(`\n${'round'.padEnd(6)}${'build'.padEnd(10)}${'op'.padEnd(5)}${'ops/s'.padStart(9)}${'MiB/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'CPU ms/op'.padStart(11)}${'disk KiB/op'.padStart(13)}${'other cores'.padStart(13)}`);
    for (let round = 0; round < rounds; round += 1) {
      // Each round starts with the other build, so that neither always follows a write-back.
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const op of ['put', 'get'] as const) {
        if (op === 'get' && args.writesBetween > 0) {
          await writeBetween(order, round, args, base);
          await flushDirtyPages(root);
        }
        for (const build of order) {
          const prefix = `r${round}/${build.label}`;
          const key = (i: number): string => `${prefix}/${i}`;
          const { value: result, cpu } = await cpuMeter.measure(build.target.pids, 'self', () =>
            runCase({
              ops: objects,
              concurrency: args.clients,
              sizeBytes: args.sizeBytes,
              op:
                op === 'put'
                  ? (i) => build.target.client.put(BUCKET, key(i), objectParts(key(i), base))
                  : (i) => build.target.client.get(BUCKET, key(i), objectParts(key(i), base), true),
            }),
          );
          await flushDirtyPages(root);
          if (result.errors > 0) throw new Error(`${build.label} ${op} round ${round}: ${result.errors}/${objects} failed; first: ${result.firstError ?? '?'}`);
          const window = { result, cpu };
          build.windows[op].push(window);
          console.log(roundLine(round, build.label, op, window));
        }
      }
    }

    const [current, baseline] = builds as [Build, Build];
    console.log(`\nmedians over ${rounds} round(s); ratio = this build over the baseline, the median of the round-by-round ratios,`);
    console.log('and the interval that holds the median ratio at 95% or more (the sign test\'s: it assumes only that rounds are independent):');
    for (const op of ['put', 'get'] as const) {
      const mine = current.windows[op];
      const theirs = baseline.windows[op];
      const rate = (w: Window): number => w.result.opsPerSec;
      const cpuPerOp = (w: Window): number => cpuMsPerOp(w);
      const rateRatios = mine.map((w, i) => rate(w) / rate(theirs[i] as Window));
      const cpuRatios = mine.map((w, i) => cpuPerOp(w) / cpuPerOp(theirs[i] as Window));
      const diskKiB = (windows: Window[]): string => median(windows.map(diskKiBPerOp)).toFixed(1);
      console.log(
        `  ${op.toUpperCase().padEnd(4)} ops/s ${median(mine.map(rate)).toFixed(0)} vs ${median(theirs.map(rate)).toFixed(0)}: ratio ${median(rateRatios).toFixed(3)} ${intervalText(rateRatios)} (rounds ${rateRatios.map((r) => r.toFixed(2)).join(' ')});` +
          ` server CPU per request ${median(mine.map(cpuPerOp)).toFixed(2)} vs ${median(theirs.map(cpuPerOp)).toFixed(2)} ms: ratio ${median(cpuRatios).toFixed(3)} ${intervalText(cpuRatios)};` +
          ` disk writes per request ${diskKiB(mine)} vs ${diskKiB(theirs)} KiB`,
      );
    }
    return 0;
  } finally {
    await Promise.all(builds.map((build) => stopTarget(build.target)));
    await rm(root, { recursive: true, force: true });
  }
}

/** The 95% interval of a median ratio, and whether it tells the builds apart: `[0.93-1.15, holds 1]`. */
function intervalText(ratios: readonly number[]): string {
  const interval = medianInterval(ratios);
  if (interval === null) return '[too few rounds for an interval]';
  const verdict = interval.low > 1 ? 'above 1' : interval.high < 1 ? 'below 1' : 'holds 1';
  return `[${interval.low.toFixed(2)}-${interval.high.toFixed(2)}, ${verdict}]`;
}

function cpuMsPerOp(window: Window): number {
  return (window.cpu.targetCores * window.result.wallMs) / window.result.okOps;
}

function diskKiBPerOp(window: Window): number {
  return window.cpu.targetWriteBytes / 1024 / window.result.okOps;
}

function roundLine(round: number, label: string, op: string, window: Window): string {
  const { result, cpu } = window;
  return (
    `${String(round + 1).padEnd(6)}${label.padEnd(10)}${op.toUpperCase().padEnd(5)}${result.opsPerSec.toFixed(0).padStart(9)}${result.mibPerSec.toFixed(1).padStart(9)}` +
    `${result.p50Ms.toFixed(1).padStart(9)}${result.p99Ms.toFixed(1).padStart(9)}${cpuMsPerOp(window).toFixed(2).padStart(11)}${diskKiBPerOp(window).toFixed(1).padStart(13)}${cpu.otherCores.toFixed(2).padStart(13)}`
  );
}

runMain(main);

/** Untimed PUTs of other keys on every build, so that a round's GETs read objects that are no longer the newest. */
async function writeBetween(builds: readonly Build[], round: number, args: AbArgs, base: Uint8Array): Promise<void> {
  for (const build of builds) {
    const key = (i: number): string => `between-r${round}/${build.label}/${i}`;
    const result = await runCase({
      ops: args.writesBetween,
      concurrency: args.clients,
      sizeBytes: args.sizeBytes,
      op: (i) => build.target.client.put(BUCKET, key(i), objectParts(key(i), base)),
    });
    if (result.errors > 0) throw new Error(`${build.label} writes between round ${round}: ${result.errors}/${args.writesBetween} failed; first: ${result.firstError ?? '?'}`);
  }
}

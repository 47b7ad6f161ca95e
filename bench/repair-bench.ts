/**
 * Repair benchmark: how fast the cluster rebuilds what one node lost. Each case starts a fresh in-process cluster
 * (one gateway, six storage nodes, 4+2, real LevelDB and files in a temp dir, loopback HTTP), writes objects of one
 * size, breaks one node and restarts it, and times until every lost shard is rebuilt; then it checks that the node
 * holds a verified copy of each. Two ways to break a node:
 *   files  its shard files are deleted while it is down (inline shards stay): its start-up recovery quarantines them,
 *          so its own repair starts with a full persisted queue. This measures repair alone. Sizes whose shards
 *          are all inline are skipped.
 *   wipe   its whole data directory is removed and it restarts empty; a fast scrub + audit pass on every node finds
 *          what it lacks (each node audits the partitions it leads) and rebuilds it onto it (the in-memory queue).
 *          Repair cannot end before the audits that find the losses, so this measures audit and repair together.
 * Repair runs unthrottled (the default repairBytesPerSecond is 0). MB = 10^6 bytes of rebuilt shard data; "per node"
 * divides by the nodes that rebuilt anything. Run with `npm run bench:repair` (`-- --help` for flags). Not in `npm test`.
 */
import { randomFillSync } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { DEFAULTS } from '../src/common/index.js';
import { bestKernel } from '../src/erasure/index.js';
import { DEFAULT_INLINE_MAX_SHARD_BYTES } from '../src/storage-node/index.js';
import { startCluster, TEST_CREDENTIALS } from '../test/helpers/cluster.js';
import { formatSize, parseSize } from './lib/bench-args.js';
import { ClusterNodes, type RepairFigures } from './lib/repair-cluster.js';
import { runCase, runMain } from './lib/run-case.js';
import { S3BenchClient } from './lib/s3-bench-client.js';

const MiB = 1024 * 1024;
const BUCKET = 'repair-bench';
const DATA_SHARDS = 4;
const PARITY_SHARDS = 2;
const VICTIM = 1;

const SCENARIOS = ['files', 'wipe'] as const;
type Scenario = (typeof SCENARIOS)[number];

const USAGE = `usage: npm run bench:repair -- [--sizes=64KiB,256KiB,1MiB,8MiB] [--scenarios=wipe,files] [--objects=N] [--scale=X] [--timeout-s=180]
  --sizes=LIST      object sizes (B/KiB/MiB suffix)
  --scenarios=LIST  files (shard files deleted; the node's repair rebuilds them) and/or wipe (node restarts empty; audits rebuild onto it)
  --objects=N       objects written per case (default: enough for ~128 MiB of objects, at least 24, at most 768)
  --scale=X         multiply the default object counts by X
  --timeout-s=S     give up on a case after S seconds of repair`;

interface Args {
  sizesBytes: number[];
  scenarios: Scenario[];
  objects: number | undefined;
  scale: number;
  timeoutMs: number;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { sizesBytes: [64 * 1024, 256 * 1024, MiB, 8 * MiB], scenarios: [...SCENARIOS], objects: undefined, scale: 1, timeoutMs: 180_000, help: false };
  for (const arg of argv) {
    const at = arg.indexOf('=');
    const [name, value] = at < 0 ? [arg, ''] : [arg.slice(0, at), arg.slice(at + 1)];
    if (name === '--help' || name === '-h') args.help = true;
    else if (name === '--sizes') args.sizesBytes = value.split(',').map(parseSize);
    else if (name === '--scenarios') {
      args.scenarios = value.split(',').map((s) => {
        if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${JSON.stringify(s)}\n${USAGE}`);
        return s as Scenario;
      });
    } else if (name === '--objects' && Number.isInteger(Number(value)) && Number(value) > 0) args.objects = Number(value);
    else if (name === '--scale' && Number(value) > 0) args.scale = Number(value);
    else if (name === '--timeout-s' && Number(value) > 0) args.timeoutMs = Number(value) * 1000;
    else throw new Error(`unknown or bad argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return args;
}

function objectsFor(args: Args, sizeBytes: number): number {
  if (args.objects !== undefined) return args.objects;
  return Math.max(4, Math.round(Math.min(768, Math.max(24, Math.ceil((128 * MiB) / sizeBytes))) * args.scale));
}

/** What one case measured. */
interface CaseResult {
  name: string;
  objects: number;
  shardsRebuilt: number;
  bytesRebuilt: number;
  wallMs: number;
  /** When the audit passes that find a wipe's losses had ended (NaN for deleted files: the restart finds them). */
  foundMs: number;
  /** CPU time this process (gateway and every node) used meanwhile. */
  cpuMs: number;
  rebuildingNodes: number;
  failedAttempts: number;
  problems: string[];
}

function sum(figures: readonly RepairFigures[], pick: (f: RepairFigures) => number): number {
  return figures.reduce((total, f) => total + pick(f), 0);
}

async function runRepairCase(scenario: Scenario, sizeBytes: number, objects: number, timeoutMs: number): Promise<CaseResult | null> {
  const name = `repair-${scenario}-${formatSize(sizeBytes)}`;
  const shardBytes = Math.ceil(sizeBytes / DATA_SHARDS);
  if (scenario === 'files' && shardBytes <= DEFAULT_INLINE_MAX_SHARD_BYTES) return null;
  const cluster = await startCluster({
    dataShards: DATA_SHARDS,
    parityShards: PARITY_SHARDS,
    gatewayOverrides: { metadataTimeoutMs: DEFAULTS.metadataTimeoutMs, stallTimeoutMs: DEFAULTS.stallTimeoutMs },
  });
  const nodes = new ClusterNodes(cluster);
  const s3 = new S3BenchClient({ endpoint: cluster.endpoint, ...TEST_CREDENTIALS, connections: 4, timeoutMs: 120_000 });
  try {
    const { ring, doc } = await nodes.ring();
    await s3.createBucket(BUCKET);
    const payload = randomFillSync(new Uint8Array(sizeBytes));
    const keys = Array.from({ length: objects }, (_, i) => `${formatSize(sizeBytes)}/${i}`);
    const written = await runCase({ ops: objects, concurrency: 4, sizeBytes, op: (i) => s3.put(BUCKET, keys[i] as string, payload) });
    if (written.errors > 0) throw new Error(`${name}: ${written.errors} PUTs failed; first: ${written.firstError ?? '?'}`);

    // The restarted node's figures start from zero; the others' from what they are before it restarts.
    const before = await nodes.repairFigures();
    const startedMs = performance.now();
    const cpuBefore = process.cpuUsage();
    let expected: number;
    let scrubbed: number[];
    if (scenario === 'wipe') {
      await nodes.restart(VICTIM, { wipe: true, ring: doc });
      // Every object has one shard on every node (6 nodes, 4+2): the wiped node lost one of each.
      expected = objects;
      scrubbed = Array.from({ length: nodes.count }, (_, i) => i);
      await nodes.startScrub(scrubbed);
    } else {
      // Its start-up recovery quarantines every committed shard whose file is gone: repair starts at once.
      expected = await nodes.restart(VICTIM, { deleteFiles: true });
      scrubbed = [];
    }
    before[VICTIM] = { done: 0, failed: 0, pending: 0, shardsRebuilt: 0, bytesRebuilt: 0, quarantinedShards: 0, auditPasses: 0, scrubPasses: 0 };
    let after = before;
    let foundMs = Number.NaN;
    const passes = (f: RepairFigures | undefined): number => f?.auditPasses ?? 0;
    for (;;) {
      after = await nodes.repairFigures();
      if (Number.isNaN(foundMs) && scrubbed.length > 0 && scrubbed.every((i) => passes(after[i]) > passes(before[i]))) foundMs = performance.now() - startedMs;
      const rebuilt = sum(after, (f) => f.shardsRebuilt) - sum(before, (f) => f.shardsRebuilt);
      const pending = sum(after, (f) => f.pending + f.quarantinedShards);
      if (rebuilt >= expected && pending === 0) break;
      if (performance.now() - startedMs > timeoutMs) throw new Error(`${name}: ${rebuilt}/${expected} shards rebuilt after ${timeoutMs} ms, ${pending} pending`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const wallMs = performance.now() - startedMs;
    const cpu = process.cpuUsage(cpuBefore);
    const rebuildingNodes = after.filter((f, i) => f.shardsRebuilt > (before[i]?.shardsRebuilt ?? 0)).length;
    return {
      name,
      objects,
      shardsRebuilt: sum(after, (f) => f.shardsRebuilt) - sum(before, (f) => f.shardsRebuilt),
      bytesRebuilt: sum(after, (f) => f.bytesRebuilt) - sum(before, (f) => f.bytesRebuilt),
      wallMs,
      foundMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rebuildingNodes,
      failedAttempts: sum(after, (f) => f.failed) - sum(before, (f) => f.failed),
      problems: await nodes.shardProblems(ring, VICTIM, BUCKET, keys),
    };
  } finally {
    await s3.close().catch(() => undefined);
    await nodes.close().catch(() => undefined);
    await cluster.close();
  }
}

function row(result: CaseResult): string {
  const seconds = result.wallMs / 1000;
  const mb = result.bytesRebuilt / 1e6;
  const cells = [
    result.name.padEnd(20),
    String(result.objects).padStart(7),
    String(result.shardsRebuilt).padStart(7),
    mb.toFixed(1).padStart(8),
    seconds.toFixed(2).padStart(7),
    (result.foundMs / 1000).toFixed(2).padStart(7),
    `${Math.round((100 * result.cpuMs) / result.wallMs)}%`.padStart(5),
    (mb / seconds).toFixed(2).padStart(9),
    String(result.rebuildingNodes).padStart(6),
    (mb / seconds / Math.max(1, result.rebuildingNodes)).toFixed(2).padStart(9),
    (result.shardsRebuilt / seconds).toFixed(1).padStart(9),
    String(result.failedAttempts).padStart(7),
  ];
  const flag = result.problems.length === 0 ? '' : `  ${result.problems.length} SHARDS BAD, first: ${result.problems[0] ?? ''}`;
  return cells.join(' ') + flag;
}

function loadLine(): string {
  const [one = 0] = loadavg();
  return `load average ${one.toFixed(2)}${one > cpus().length / 2 ? ' (machine busy: figures are noisy)' : ''}`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const cpu = cpus();
  console.log('tessera repair bench');
  console.log(`node ${process.version} on ${process.platform}/${process.arch}`);
  console.log(`cpu: ${cpu[0]?.model ?? 'unknown'} x ${cpu.length}, memory ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, ${loadLine()}`);
  console.log(`cluster: 1 gateway + 6 storage nodes in-process, erasure ${DATA_SHARDS}+${PARITY_SHARDS}, block ${formatSize(DEFAULTS.blockSizeBytes)}, kernel ${bestKernel()}, repair unthrottled`);
  console.log('MB = 10^6 bytes of rebuilt shards; time = fast scrub/audit started .. every lost shard rebuilt; objects/s = shards rebuilt per second;');
  console.log('audit s = when every audit pass had ended: a wipe is found by audits, so its repair cannot end sooner;');
  console.log('cpu = CPU time of this process (gateway and all nodes) over the repair time: near 100% means one core is the limit\n');
  console.log(
    ['case'.padEnd(20), 'objects', ' shards', 'MB built', 'time s', 'audit s', '  cpu', 'MB/s all', ' nodes', 'MB/s/node', 'objects/s', ' failed'].join(' '),
  );
  const startedMs = performance.now();
  let bad = 0;
  for (const scenario of args.scenarios) {
    for (const sizeBytes of args.sizesBytes) {
      const result = await runRepairCase(scenario, sizeBytes, objectsFor(args, sizeBytes), args.timeoutMs);
      if (result === null) {
        console.log(`${`repair-${scenario}-${formatSize(sizeBytes)}`.padEnd(20)} skipped: shards of ${formatSize(sizeBytes)} objects are inline`);
        continue;
      }
      if (result.problems.length > 0) bad += 1;
      console.log(row(result));
    }
  }
  console.log(`\ntotal ${((performance.now() - startedMs) / 1000).toFixed(0)} s, ${loadLine()}`);
  return bad === 0 ? 0 : 1;
}

runMain(main);

/**
 * Erasure micro-benchmark: codec throughput per kernel against memcpy, hashes and @ronomon/reed-solomon.
 * Run with `npm run bench:erasure [-- --only=TEXT]` (`--help` lists the flags). Throughput counts data bytes
 * (k × shard size) per second; the size in a case name is the size of one shard, so `-1MiB` cases move 8 MiB of data
 * per call at k = 8. Contenders of one case run in interleaved rounds (ours, peer, ours, peer, ...), so a noisy
 * neighbour hits both sides of a ratio alike; each figure is the median over ROUNDS rounds of ~ROUND_MS. Not part of
 * `npm test`. Cases that allocate (reconstruct into new arrays) also measure the C allocator, whose state depends on
 * what ran before in the process: compare figures taken with the same command.
 *
 * Clock: process CPU time by default (all threads, so the peer's work on the libuv pool counts too), which gives
 * per-core throughput that a busy shared machine barely disturbs; ERASURE_BENCH_CLOCK=wall times wall-clock instead.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import xxhash from 'xxhash-wasm';
import { createCodec, detectKernelSupport, type Codec } from '../src/erasure/index.js';
import { createWasmSimdKernel } from '../src/erasure/kernels/wasm-simd.js';
import { builtKernelModule } from '../src/erasure/kernels/wasm/kernel-modules.js';
import { systematicEncodeMatrix } from '../src/erasure/matrix.js';

const USAGE = `usage: npm run bench:erasure -- [--only=TEXT]
  --only=TEXT  run only the cases whose name contains TEXT (e.g. --only=reconstruct-8x4-1MiB-2lost); baselines always run
  ERASURE_BENCH_CLOCK=wall  time wall-clock instead of process CPU time`;

/** Parses the command line: --help, or --only=TEXT to run a subset of cases. */
function parseArgs(argv: readonly string[]): { help: boolean; only: string } {
  let help = false;
  let only = '';
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') help = true;
    else if (arg.startsWith('--only=')) only = arg.slice('--only='.length);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return { help, only };
}

const ROUNDS = 11;
const ROUND_MS = 50;
const KiB = 1024;
const MiB = 1024 * KiB;

// Node 20 ships relaxed SIMD behind a flag (Node 22+ has it on). Turning it on here lets one run measure both
// flavours; the library itself never touches engine flags.
const supportBefore = detectKernelSupport();
if (!supportBefore.relaxedSimd) {
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // Unknown flag on this engine: the relaxed rows are simply skipped.
  }
}
const support = detectKernelSupport();

interface RonomonBinding {
  create(k: number, m: number): unknown;
  encode(context: unknown, sources: number, targets: number, buffer: Buffer, bufferOffset: number, bufferSize: number,
    parity: Buffer, parityOffset: number, paritySize: number, callback: (error?: Error) => void): void;
}

function loadRonomon(): { binding?: RonomonBinding; error?: string } {
  try {
    return { binding: createRequire(import.meta.url)('@ronomon/reed-solomon') as RonomonBinding };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] ?? 'unknown error' };
  }
}

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** One thing to time: `run` processes `bytes` per call; async contenders return a promise. */
interface Contender {
  readonly label: string;
  readonly bytes: number;
  readonly run: () => void | Promise<void>;
}

const WALL_CLOCK = process.env['ERASURE_BENCH_CLOCK'] === 'wall';

/** Milliseconds of the chosen clock: wall time, or CPU time (user + system) of every thread of the process. */
function clockMs(): number {
  if (WALL_CLOCK) return performance.now();
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function timeIterations(contender: Contender, iterations: number): Promise<number> {
  const start = clockMs();
  for (let i = 0; i < iterations; i++) {
    const pending = contender.run();
    if (pending !== undefined) await pending;
  }
  return clockMs() - start;
}

/** Median bytes/second of each contender, rounds interleaved across contenders. */
async function measureTogether(contenders: readonly Contender[]): Promise<Map<string, number>> {
  const iterations: number[] = [];
  for (const contender of contenders) {
    let n = 1;
    for (;;) {
      const elapsed = await timeIterations(contender, n);
      if (elapsed >= ROUND_MS / 4) break;
      n *= 2;
    }
    const elapsed = await timeIterations(contender, n);
    iterations.push(Math.max(1, Math.round((n * ROUND_MS) / Math.max(elapsed, 0.001))));
  }
  const rates = contenders.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (let c = 0; c < contenders.length; c++) {
      const n = iterations[c] as number;
      const elapsed = await timeIterations(contenders[c] as Contender, n);
      rates[c]?.push(((contenders[c] as Contender).bytes * n) / (elapsed / 1000));
    }
  }
  return new Map(contenders.map((c, i) => [c.label, median(rates[i] as number[])]));
}

const gbps = (bytesPerSecond: number): string => (bytesPerSecond / 1e9).toFixed(2).padStart(7);
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? '      -' : `${(a / b).toFixed(2)}x`.padStart(7);
const sizeName = (bytes: number): string => (bytes >= MiB ? `${bytes / MiB}MiB` : `${bytes / KiB}KiB`);

interface Flavour {
  readonly label: string;
  readonly codec: (k: number, m: number) => Codec;
}

const flavours: Flavour[] = [
  { label: 'portable', codec: (k, m) => createCodec({ dataShards: k, parityShards: m, kernel: 'portable' }) },
];
if (support.simd) {
  flavours.push({
    label: 'wasm-simd',
    codec: (k, m) => createCodec({ dataShards: k, parityShards: m, kernel: 'wasm-simd', relaxedSimd: false }),
  });
}
if (support.relaxedSimd) {
  flavours.push({
    label: 'wasm-simd-relaxed',
    codec: (k, m) => createCodec({ dataShards: k, parityShards: m, kernel: 'wasm-simd', relaxedSimd: true }),
  });
}

function stripe(k: number, m: number, shardBytes: number): Uint8Array[] {
  const shards: Uint8Array[] = [];
  for (let i = 0; i < k; i++) shards.push(randomBytes(shardBytes, i + 1));
  for (let i = 0; i < m; i++) shards.push(new Uint8Array(shardBytes));
  return shards;
}

function ronomonMask(from: number, to: number, except: readonly number[] = []): number {
  let mask = 0;
  for (let i = from; i < to; i++) if (!except.includes(i)) mask |= 1 << i;
  return mask;
}

const PEER = '@ronomon (native)';

function ronomonEncode(binding: RonomonBinding, context: unknown, sources: number, targets: number, data: Buffer,
  parity: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => binding.encode(context, sources, targets, data, 0, data.length,
    parity, 0, parity.length, (error) => (error ? reject(error) : resolve())));
}

async function ronomonContender(binding: RonomonBinding, k: number, m: number, shardBytes: number,
  lost: readonly number[]): Promise<Contender> {
  const context = binding.create(k, m);
  const data = Buffer.concat(stripe(k, 0, shardBytes));
  const parity = Buffer.alloc(m * shardBytes);
  // Encoding: data shards are the sources, parity the targets. Repair: the first k survivors are the sources
  // (like ours), the lost data shards the targets. Parity is encoded first so that repair reads real bytes: pages
  // never written all map the kernel's shared zero page, which stays in cache and would flatter the peer.
  if (lost.length > 0) await ronomonEncode(binding, context, ronomonMask(0, k), ronomonMask(k, k + m), data, parity);
  const sources = lost.length === 0 ? ronomonMask(0, k) : ronomonMask(0, k + lost.length, lost);
  const targets = lost.length === 0 ? ronomonMask(k, k + m) : lost.reduce((mask, i) => mask | (1 << i), 0);
  return {
    label: PEER,
    bytes: k * shardBytes,
    run: () => ronomonEncode(binding, context, sources, targets, data, parity),
  };
}

/**
 * The SIMD kernel alone, on shards already in its WebAssembly memory (no copies, no slicing, no codec checks): the
 * ceiling the codec's copy-in / copy-out loop approaches. Uses the kernel module directly; the codec API hides it.
 */
function kernelOnly(relaxed: boolean, k: number, m: number, shardBytes: number): Contender {
  const kernel = createWasmSimdKernel(builtKernelModule(relaxed));
  const shards = (kernel.allocate as NonNullable<typeof kernel.allocate>)(k + m, shardBytes, k, m);
  shards.slice(0, k).forEach((shard, i) => shard.set(randomBytes(shardBytes, i + 5)));
  const rows = systematicEncodeMatrix(k, k + m).data.slice(k * k);
  const [inputs, outputs] = [shards.slice(0, k), shards.slice(k)];
  return {
    label: relaxed ? 'wasm-simd-relaxed' : 'wasm-simd',
    bytes: k * shardBytes,
    run: () => kernel.multiply(rows, inputs, outputs),
  };
}

const mbps = (bytesPerSecond: number): string => (bytesPerSecond / 1e6).toFixed(0).padStart(14);

/**
 * What the gateway's degraded read pays (src/gateway/data-path/stripe-reader.ts): it reads k shards, here data 2..7 and parity
 * 8 and 9, leaves the other slots null and calls reconstruct(shards, { dataOnly: true }) on ordinary arrays, which
 * returns new arrays for data shards 0 and 1. Each kernel is measured together with the peer rebuilding the same two
 * shards from the same survivors; the ratio is ours over the peer's.
 */
async function gatewayReconstructCase(ronomon: RonomonBinding | undefined, name: string, shardBytes: number): Promise<void> {
  const [k, m, lost] = [8, 4, [0, 1]] as const;
  const contenders: Contender[] = flavours.map((flavour) => {
    const codec = flavour.codec(k, m);
    const shards = stripe(k, m, shardBytes);
    codec.encode(shards);
    const read = shards.map((shard, i) => (lost.includes(i as 0 | 1) || i >= k + lost.length ? null : shard));
    return { label: flavour.label, bytes: k * shardBytes, run: () => void codec.reconstruct([...read], { dataOnly: true }) };
  });
  if (ronomon) contenders.push(await ronomonContender(ronomon, k, m, shardBytes, lost));
  const rates = await measureTogether(contenders);
  const peer = rates.get(PEER);
  console.log(`${'case'.padEnd(30)}${'kernel'.padEnd(34)}  tessera MB/s  ronomon MB/s   ratio`);
  for (const flavour of flavours) {
    const rate = rates.get(flavour.label) as number;
    console.log(`${name.padEnd(30)}${flavour.label.padEnd(34)}${mbps(rate)}${peer === undefined ? '             -' : mbps(peer)}` +
      `${ratio(rate, peer)}`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const selected = (name: string): boolean => name.includes(args.only);
  const ronomon = loadRonomon();
  const cpu = cpus();
  console.log(`node ${process.version}  v8 ${process.versions.v8}  ${process.arch}  cpu ${cpu[0]?.model ?? '?'} x${cpu.length}`);
  console.log(`wasm simd: ${support.simd}  relaxed simd: ${support.relaxedSimd}` +
    (support.relaxedSimd && !supportBefore.relaxedSimd ? ' (enabled for this run with --experimental-wasm-relaxed-simd)' : ''));
  console.log(`kernel 'auto' picks here without flags: ${supportBefore.relaxedSimd ? 'wasm-simd-relaxed' : supportBefore.simd ? 'wasm-simd' : 'portable'}` +
    '; on Node 22+ (relaxed SIMD on by default) it picks wasm-simd-relaxed');
  console.log(`peer: @ronomon/reed-solomon ${ronomon.binding ? 'loaded (async API, one call in flight)' : `NOT AVAILABLE (${ronomon.error}); peer columns are blank`}`);
  console.log(`medians of ${ROUNDS} interleaved rounds x ~${ROUND_MS} ms of ${WALL_CLOCK ? 'wall-clock' : 'process CPU'} time; ` +
    `GB/s = 1e9 data bytes per second${WALL_CLOCK ? '' : ' of CPU time (per core)'}\n`);

  // Ceilings: the memory system and the hashes every PUT also pays for.
  const block = randomBytes(MiB, 99);
  const target = Buffer.alloc(MiB);
  const source = Buffer.from(block);
  const { h64Raw } = await xxhash();
  const baselines = await measureTogether([
    { label: 'memcpy-1MiB (Buffer.copy)', bytes: MiB, run: () => void source.copy(target) },
    { label: 'xxhash64-1MiB (xxhash-wasm)', bytes: MiB, run: () => void h64Raw(block) },
    { label: 'md5-1MiB (node:crypto)', bytes: MiB, run: () => void createHash('md5').update(block).digest() },
    { label: 'sha256-1MiB (node:crypto)', bytes: MiB, run: () => void createHash('sha256').update(block).digest() },
  ]);
  const memcpy = baselines.get('memcpy-1MiB (Buffer.copy)') as number;
  console.log(`${'baseline'.padEnd(64)}   GB/s  /memcpy`);
  for (const [label, rate] of baselines) console.log(`${label.padEnd(64)}${gbps(rate)}${ratio(rate, memcpy)}`);
  console.log('');

  const header = `${'case'.padEnd(30)}${'kernel'.padEnd(34)}   GB/s  /peer  /memcpy`;
  const report = (name: string, rates: Map<string, number>): void => {
    const peer = rates.get(PEER);
    for (const [label, rate] of rates) {
      console.log(`${name.padEnd(30)}${label.padEnd(34)}${gbps(rate)}${ratio(rate, peer)}${ratio(rate, memcpy)}`);
    }
  };

  const encodeCases = ([[4, 2], [8, 4], [10, 4]] as const).flatMap(([k, m]) =>
    [64 * KiB, MiB].map((shardBytes) => ({ k, m, shardBytes, name: `encode-${k}x${m}-${sizeName(shardBytes)}` })))
    .filter((c) => selected(c.name));
  if (encodeCases.length > 0) console.log(header);
  for (const { k, m, shardBytes, name } of encodeCases) {
    const contenders: Contender[] = flavours.flatMap((flavour) => {
      const codec = flavour.codec(k, m);
      const shards = stripe(k, m, shardBytes);
      const own: Contender[] = [{ label: flavour.label, bytes: k * shardBytes, run: () => codec.encode(shards) }];
      if (flavour.label !== 'portable') {
        // The same codec on shards from allocateShards(): already in WebAssembly memory, so no copies.
        const inMemory = flavour.codec(k, m);
        const placed = inMemory.allocateShards(shardBytes);
        placed.forEach((shard, i) => shard.set(shards[i] as Uint8Array));
        own.push({ label: `${flavour.label}, allocateShards`, bytes: k * shardBytes, run: () => inMemory.encode(placed) });
      }
      return own;
    });
    if (ronomon.binding) contenders.push(await ronomonContender(ronomon.binding, k, m, shardBytes, []));
    report(name, await measureTogether(contenders));
  }

  const reconstructSizes = [64 * KiB, MiB].filter((shardBytes) => selected(`reconstruct-8x4-2data-${sizeName(shardBytes)}`));
  if (reconstructSizes.length > 0) console.log(`\n${header}`);
  for (const shardBytes of reconstructSizes) {
    const [k, m, lost] = [8, 4, [0, 1]] as const;
    // Like the peer, rebuild into existing arrays (rebuildInPlace); the last row shows the default call, which
    // allocates the rebuilt shards and so also pays for fresh pages and GC.
    const contenders: Contender[] = flavours.map((flavour) => {
      const codec = flavour.codec(k, m);
      const shards = stripe(k, m, shardBytes);
      codec.encode(shards);
      return {
        label: flavour.label,
        bytes: k * shardBytes,
        run: () => void codec.reconstruct([...shards], { dataOnly: true, rebuildInPlace: lost }),
      };
    });
    const best = (flavours[flavours.length - 1] as Flavour);
    const allocating = best.codec(k, m);
    const shards = stripe(k, m, shardBytes);
    allocating.encode(shards);
    const survivors = shards.map((s, i) => (lost.includes(i as 0 | 1) ? null : s));
    contenders.push({
      label: `${best.label}, new arrays`,
      bytes: k * shardBytes,
      run: () => void allocating.reconstruct([...survivors], { dataOnly: true }),
    });
    if (ronomon.binding) contenders.push(await ronomonContender(ronomon.binding, k, m, shardBytes, lost));
    report(`reconstruct-8x4-2data-${sizeName(shardBytes)}`, await measureTogether(contenders));
  }

  // 256 KiB is the gateway's default block size (erasure.blockSizeBytes); 1 MiB matches the other cases.
  for (const shardBytes of [256 * KiB, MiB]) {
    const name = `reconstruct-8x4-${sizeName(shardBytes)}-2lost`;
    if (!selected(name)) continue;
    console.log('');
    await gatewayReconstructCase(ronomon.binding, name, shardBytes);
  }

  if (support.simd && selected('kernel-alone-encode-8x4-1MiB')) {
    console.log('');
    console.log(`${'kernel alone (in WASM memory)'.padEnd(30)}${'kernel'.padEnd(34)}   GB/s  /peer  /memcpy`);
    const contenders = (support.relaxedSimd ? [false, true] : [false]).map((relaxed) => kernelOnly(relaxed, 8, 4, MiB));
    if (ronomon.binding) contenders.push(await ronomonContender(ronomon.binding, 8, 4, MiB, []));
    report('encode-8x4-1MiB', await measureTogether(contenders));
  }
}

await main();

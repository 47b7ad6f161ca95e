/**
 * Erasure micro-benchmark: codec throughput per kernel against memcpy, hashes and @ronomon/reed-solomon.
 * Run with `npm run bench:erasure`. Throughput counts data bytes (k × shard size) per second; figures are medians
 * over ROUNDS rounds of ~ROUND_MS each. Not part of `npm test`.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import xxhash from 'xxhash-wasm';
import { createCodec, detectKernelSupport, type Codec } from '../src/erasure/index.js';

const ROUNDS = 9;
const ROUND_MS = 60;
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

/** Median bytes per second of a synchronous operation processing `bytes` per call. */
function measure(bytes: number, op: () => void): number {
  let iterations = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) op();
    const elapsed = performance.now() - start;
    if (elapsed >= ROUND_MS / 4) {
      iterations = Math.max(1, Math.round((iterations * ROUND_MS) / elapsed));
      break;
    }
    iterations *= 2;
  }
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) op();
    rates.push((bytes * iterations) / ((performance.now() - start) / 1000));
  }
  return median(rates);
}

/** Same as measure, for an operation that completes through a callback (one call in flight). */
async function measureAsync(bytes: number, op: (done: (error?: Error) => void) => void): Promise<number> {
  const once = (): Promise<void> => new Promise((resolve, reject) => op((error) => (error ? reject(error) : resolve())));
  let iterations = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await once();
    const elapsed = performance.now() - start;
    if (elapsed >= ROUND_MS / 4) {
      iterations = Math.max(1, Math.round((iterations * ROUND_MS) / elapsed));
      break;
    }
    iterations *= 2;
  }
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await once();
    rates.push((bytes * iterations) / ((performance.now() - start) / 1000));
  }
  return median(rates);
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

async function main(): Promise<void> {
  const ronomon = loadRonomon();
  const cpu = cpus();
  console.log(`node ${process.version}  v8 ${process.versions.v8}  ${process.arch}  cpu ${cpu[0]?.model ?? '?'} x${cpu.length}`);
  console.log(`wasm simd: ${support.simd}  relaxed simd: ${support.relaxedSimd}` +
    (support.relaxedSimd && !supportBefore.relaxedSimd ? ' (enabled for this run with --experimental-wasm-relaxed-simd)' : ''));
  console.log(`peer: @ronomon/reed-solomon ${ronomon.binding ? 'loaded' : `NOT AVAILABLE (${ronomon.error}); peer columns are blank`}`);
  console.log(`medians of ${ROUNDS} rounds x ~${ROUND_MS} ms; GB/s = 1e9 bytes of data per second\n`);

  // Ceilings: the memory system and the hashes every PUT also pays for.
  const block = randomBytes(MiB, 99);
  const target = Buffer.alloc(MiB);
  const source = Buffer.from(block);
  const memcpy = measure(MiB, () => source.copy(target));
  const { h64Raw } = await xxhash();
  const xx = measure(MiB, () => h64Raw(block));
  const md5 = measure(MiB, () => createHash('md5').update(block).digest());
  const sha256 = measure(MiB, () => createHash('sha256').update(block).digest());
  console.log('baseline                 GB/s');
  console.log(`memcpy-1MiB (Buffer.copy) ${gbps(memcpy)}`);
  console.log(`xxhash64-1MiB (wasm)      ${gbps(xx)}`);
  console.log(`md5-1MiB                  ${gbps(md5)}`);
  console.log(`sha256-1MiB               ${gbps(sha256)}\n`);

  const header = `${'case'.padEnd(26)}${'kernel'.padEnd(19)}   GB/s  /peer  /memcpy`;
  const row = (name: string, kernel: string, rate: number, peer: number | undefined): void =>
    console.log(`${name.padEnd(26)}${kernel.padEnd(19)}${gbps(rate)}${ratio(rate, peer)}${ratio(rate, memcpy)}`);

  console.log(header);
  for (const [k, m] of [[4, 2], [8, 4], [10, 4]] as const) {
    for (const shardBytes of [64 * KiB, MiB]) {
      const name = `encode-${k}x${m}-${sizeName(shardBytes)}`;
      const dataBytes = k * shardBytes;
      let peer: number | undefined;
      if (ronomon.binding) {
        const binding = ronomon.binding;
        const context = binding.create(k, m);
        const data = Buffer.concat(stripe(k, 0, shardBytes));
        const parity = Buffer.alloc(m * shardBytes);
        peer = await measureAsync(dataBytes, (done) =>
          binding.encode(context, ronomonMask(0, k), ronomonMask(k, k + m), data, 0, data.length, parity, 0, parity.length, done));
      }
      for (const flavour of flavours) {
        const codec = flavour.codec(k, m);
        const shards = stripe(k, m, shardBytes);
        row(name, flavour.label, measure(dataBytes, () => codec.encode(shards)), peer);
      }
      if (peer !== undefined) row(name, '@ronomon (native)', peer, peer);
    }
  }

  console.log('');
  console.log(header);
  for (const shardBytes of [64 * KiB, MiB]) {
    const k = 8;
    const m = 4;
    const lost = [0, 1];
    const name = `reconstruct-8x4-2data-${sizeName(shardBytes)}`;
    const dataBytes = k * shardBytes;
    let peer: number | undefined;
    if (ronomon.binding) {
      const binding = ronomon.binding;
      const context = binding.create(k, m);
      const data = Buffer.concat(stripe(k, 0, shardBytes));
      const parity = Buffer.alloc(m * shardBytes);
      await new Promise<void>((resolve, reject) => binding.encode(context, ronomonMask(0, k), ronomonMask(k, k + m), data, 0,
        data.length, parity, 0, parity.length, (error) => (error ? reject(error) : resolve())));
      // Sources: the k surviving shards (6 data + 2 parity); targets: the 2 lost data shards.
      const sources = ronomonMask(0, k + 2, lost);
      const targets = ronomonMask(0, k) & ~ronomonMask(0, k, lost);
      peer = await measureAsync(dataBytes, (done) =>
        binding.encode(context, sources, targets, data, 0, data.length, parity, 0, parity.length, done));
    }
    for (const flavour of flavours) {
      const codec = flavour.codec(k, m);
      const shards = stripe(k, m, shardBytes);
      codec.encode(shards);
      const survivors: (Uint8Array | null)[] = shards.map((s, i) => (lost.includes(i) ? null : s));
      row(name, flavour.label, measure(dataBytes, () => {
        const attempt = [...survivors];
        codec.reconstruct(attempt, { dataOnly: true });
      }), peer);
    }
    if (peer !== undefined) row(name, '@ronomon (native)', peer, peer);
  }
}

await main();

/**
 * Checksum micro-benchmark: the flexible checksums (x-amz-checksum-crc32, -crc32c, -crc64nvme) as the gateway
 * computes them, against the portable JavaScript twins and other implementations. Run with
 * `npm run bench:checksum [-- --only=TEXT]`. Not part of `npm test`.
 *
 * Contenders of one case run in interleaved rounds, so a noisy neighbour hits every contender alike; each figure is
 * the median over ROUNDS rounds of ~ROUND_MS of process CPU time (per-core throughput, which a busy shared machine
 * barely disturbs). Other implementations are loaded when installed and shown as not available otherwise: hash-wasm
 * and aws-crt are not dependencies, so a later look at them needs only `npm install --no-save`.
 */
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import * as zlib from 'node:zlib';
import { Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import { CRC32C_POLYNOMIAL, CRC32_POLYNOMIAL, CRC64_NVME_POLYNOMIAL, Crc64Nvme, crc32, crc32c } from '../src/gateway/s3/checksums/index.js';
import { createCrc32Function } from '../src/gateway/s3/checksums/crc32-portable.js';
import { basePayload } from './lib/payload.js';

const USAGE = `usage: npm run bench:checksum -- [--only=TEXT]
  --only=TEXT  run only the cases whose name contains TEXT (e.g. --only=crc32c-1MiB)`;

const ROUNDS = 11;
const ROUND_MS = 50;
const KiB = 1024;
const MiB = 1024 * KiB;

/** One thing to time: `run` digests `bytes` per call. */
interface Contender {
  readonly label: string;
  readonly bytes: number;
  readonly run: () => unknown;
}

/** Milliseconds of CPU time (user + system) of every thread of the process. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function timeIterations(contender: Contender, iterations: number): number {
  const start = cpuMs();
  for (let i = 0; i < iterations; i++) contender.run();
  return cpuMs() - start;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median bytes/second of each contender, rounds interleaved across contenders. */
function measureTogether(contenders: readonly Contender[]): Map<string, number> {
  const iterations = contenders.map((contender) => {
    let n = 1;
    while (timeIterations(contender, n) < ROUND_MS / 4) n *= 2;
    return Math.max(1, Math.round((n * ROUND_MS) / Math.max(timeIterations(contender, n), 0.001)));
  });
  const rates = contenders.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    contenders.forEach((contender, c) => {
      const n = iterations[c] as number;
      rates[c]?.push((contender.bytes * n) / (timeIterations(contender, n) / 1000));
    });
  }
  return new Map(contenders.map((c, i) => [c.label, median(rates[i] as number[])]));
}

interface HashWasmHasher {
  init(): unknown;
  update(data: Uint8Array): unknown;
}
interface HashWasm {
  createCRC32(polynomial?: number): Promise<HashWasmHasher>;
  createCRC64(polynomial?: string): Promise<HashWasmHasher>;
}
interface NodeRsCrc32 {
  crc32(data: Uint8Array, previous?: number): number;
  crc32c(data: Uint8Array, previous?: number): number;
}
interface AwsCrtChecksums {
  crc32c(data: Uint8Array, previous?: number): number;
  crc64nvme(data: Uint8Array, previous?: DataView): DataView;
}

/** An optional package, or the first line of why it did not load. */
function optional<T>(name: string): { module?: T; error?: string } {
  try {
    return { module: createRequire(import.meta.url)(name) as T };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] ?? 'unknown error' };
  }
}

const gibps = (bytesPerSecond: number): string => (bytesPerSecond / 2 ** 30).toFixed(2).padStart(7);
const sizeName = (bytes: number): string => (bytes >= MiB ? `${bytes / MiB}MiB` : `${bytes / KiB}KiB`);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const unknown = args.find((arg) => !arg.startsWith('--only='));
  if (unknown !== undefined) throw new Error(`unknown argument ${JSON.stringify(unknown)}\n${USAGE}`);
  const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length) ?? '';

  const nodeRs = optional<NodeRsCrc32>('@node-rs/crc32');
  const hashWasm = optional<HashWasm>('hash-wasm');
  const awsCrt = optional<{ checksums: AwsCrtChecksums }>('aws-crt');
  const cpu = cpus();
  console.log(`node ${process.version}  v8 ${process.versions.v8}  ${process.arch}  cpu ${cpu[0]?.model ?? '?'} x${cpu.length}`);
  console.log(`optional: @node-rs/crc32 ${nodeRs.module ? 'loaded' : `NOT AVAILABLE (${nodeRs.error})`}; hash-wasm ${hashWasm.module ? 'loaded' : `NOT AVAILABLE (${hashWasm.error})`}; aws-crt ${awsCrt.module ? 'loaded' : `NOT AVAILABLE (${awsCrt.error})`}`);
  console.log(`medians of ${ROUNDS} interleaved rounds x ~${ROUND_MS} ms of process CPU time; GiB/s = 2^30 bytes per CPU second\n`);

  const portableCrc32 = createCrc32Function(CRC32_POLYNOMIAL);
  const portableCrc32c = createCrc32Function(CRC32C_POLYNOMIAL);
  const nativeZlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  const wasmCrc32c = hashWasm.module ? await hashWasm.module.createCRC32(CRC32C_POLYNOMIAL) : undefined;
  const wasmCrc64 = hashWasm.module ? await hashWasm.module.createCRC64(CRC64_NVME_POLYNOMIAL.toString(16)) : undefined;
  wasmCrc32c?.init();
  wasmCrc64?.init();

  console.log(`${'case'.padEnd(20)}${'implementation'.padEnd(48)}  GiB/s  /portable`);
  for (const size of [MiB, 64 * KiB, 4 * KiB]) {
    const data = basePayload(size);
    const cases: [string, Contender[]][] = [
      [`crc32c-${sizeName(size)}`, [
        { label: 'portable (JS slice-by-16)', bytes: size, run: () => portableCrc32c(data) },
        { label: 'crc32c in use (checksums/crc32.ts)', bytes: size, run: () => crc32c(data) },
        ...(nodeRs.module ? [{ label: '@node-rs/crc32 crc32c (native)', bytes: size, run: () => nodeRs.module?.crc32c(data) }] : []),
        { label: '@aws-sdk/checksums Crc32cJs', bytes: size, run: () => new Crc32cJs().update(data) },
        ...(wasmCrc32c ? [{ label: 'hash-wasm createCRC32 (WASM)', bytes: size, run: () => wasmCrc32c.update(data) }] : []),
        ...(awsCrt.module ? [{ label: 'aws-crt checksums.crc32c (native)', bytes: size, run: () => awsCrt.module?.checksums.crc32c(data) }] : []),
      ]],
      [`crc32-${sizeName(size)}`, [
        { label: 'portable (JS slice-by-16)', bytes: size, run: () => portableCrc32(data) },
        { label: 'crc32 in use (checksums/crc32.ts)', bytes: size, run: () => crc32(data) },
        ...(nodeRs.module ? [{ label: '@node-rs/crc32 crc32 (native)', bytes: size, run: () => nodeRs.module?.crc32(data) }] : []),
        ...(nativeZlibCrc32 ? [{ label: 'node:zlib crc32 (native)', bytes: size, run: () => nativeZlibCrc32(data) }] : []),
      ]],
      [`crc64nvme-${sizeName(size)}`, [
        { label: 'portable = in use (checksums/crc64-nvme.ts)', bytes: size, run: () => new Crc64Nvme().update(data) },
        { label: '@aws-sdk/checksums Crc64NvmeJs', bytes: size, run: () => new Crc64NvmeJs().update(data) },
        ...(wasmCrc64 ? [{ label: 'hash-wasm createCRC64 (WASM)', bytes: size, run: () => wasmCrc64.update(data) }] : []),
        ...(awsCrt.module ? [{ label: 'aws-crt checksums.crc64nvme (native)', bytes: size, run: () => awsCrt.module?.checksums.crc64nvme(data) }] : []),
      ]],
    ];
    for (const [name, contenders] of cases) {
      if (!name.includes(only)) continue;
      const rates = measureTogether(contenders);
      const portable = rates.get(contenders[0]?.label ?? '') ?? 1;
      for (const [label, rate] of rates) console.log(`${name.padEnd(20)}${label.padEnd(48)}${gibps(rate)}  ${(rate / portable).toFixed(2).padStart(8)}x`);
    }
  }
}

await main();

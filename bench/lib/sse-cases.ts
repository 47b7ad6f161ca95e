import { createHash } from 'node:crypto';
import { formatSize } from './bench-args.js';
import { figure, type Measured } from './result-table.js';
import type { CaseResult } from './run-case.js';

/** How an object is written and read: no encryption, SSE-S3, or SSE-C with one fixed customer key. */
export const SSE_MODES = ['plain', 'SSE-S3', 'SSE-C'] as const;
/** One of SSE_MODES. */
export type SseMode = (typeof SSE_MODES)[number];

/** The objects of the encryption table: `objects` of `sizeBytes` by `clients` concurrent clients, in each mode. */
export interface SseWorkload {
  sizeBytes: number;
  objects: number;
  clients: number;
}

const MiB = 1024 * 1024;

/**
 * The sizes (1 MiB and 64 MiB) with the objects and concurrency of the matrix's lines of the same
 * size: with 64 and 4 objects a timed window lasted a quarter of a second, and the ratios of one run moved
 * by a tenth between runs.
 */
export const SSE_WORKLOADS: readonly SseWorkload[] = [
  { sizeBytes: MiB, objects: 200, clients: 8 },
  { sizeBytes: 64 * MiB, objects: 8, clients: 2 },
];

/** Rounds of plain, SSE-S3, SSE-C in turn: a machine that slows part-way hurts every mode alike; each mode keeps its best. */
export const SSE_ROUNDS = 3;

/** Encrypted throughput as a share of plain that the issue asks for. */
export const SSE_TARGET_RATIO = 0.8;

/** The SSE-C key of every SSE-C request of a run (fixed: the bench compares costs, not keys). */
const CUSTOMER_KEY = Buffer.alloc(32, 0x5a);

/** Headers of a PUT and of a GET in `mode`; an SSE-S3 read asks for nothing, as with S3. */
export function sseHeaders(mode: SseMode): { put: Record<string, string>; get: Record<string, string> } {
  if (mode === 'plain') return { put: {}, get: {} };
  if (mode === 'SSE-S3') return { put: { 'x-amz-server-side-encryption': 'AES256' }, get: {} };
  const customer = {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': CUSTOMER_KEY.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(CUSTOMER_KEY).digest('base64'),
  };
  return { put: customer, get: customer };
}

/** The best of a mode's rounds: throughput from the fastest window, CPU per MiB from the cheapest. */
export interface SseFigures {
  mibPerSec: number;
  /** CPU of the server's process tree per MiB moved, in ms. */
  serverCpuMsPerMiB: number;
  errors: number;
  firstError: string | undefined;
  /** A window ran twice because of other load. */
  repeated: boolean;
}

/** Folds one timed window of `sizeBytes` objects into the figures kept so far. */
export function foldSseWindow(sofar: SseFigures | undefined, measured: Measured<CaseResult>, sizeBytes: number): SseFigures {
  const result = measured.value;
  const mib = (result.okOps * sizeBytes) / MiB;
  const cpuMs = measured.cpu.targetCores * result.wallMs;
  const cpuPerMiB = mib > 0 ? cpuMs / mib : Number.NaN;
  return {
    mibPerSec: Math.max(sofar?.mibPerSec ?? 0, result.mibPerSec),
    serverCpuMsPerMiB: Math.min(sofar?.serverCpuMsPerMiB ?? Number.POSITIVE_INFINITY, cpuPerMiB),
    errors: (sofar?.errors ?? 0) + result.errors,
    firstError: sofar?.firstError ?? result.firstError,
    repeated: (sofar?.repeated ?? false) || measured.firstTry !== undefined,
  };
}

/** One line of the encryption table: a workload in one mode, PUT and GET. */
export interface SseRow {
  workload: SseWorkload;
  objects: number;
  mode: SseMode;
  put: SseFigures;
  get: SseFigures;
}

/** The table's header lines. */
export function sseHeaderLines(): string[] {
  return [
    `${'case'.padEnd(16)}${'mode'.padEnd(8)}|${' PUT MiB/s  /plain  ms CPU/MiB'.padEnd(32)}|${' GET MiB/s  /plain  ms CPU/MiB'.padEnd(32)}| target: encrypted >= ${SSE_TARGET_RATIO * 100}% of plain`,
  ];
}

/** A row's line; `plain` is the same workload's plain row (the ratios' denominator). */
export function sseLine(row: SseRow, plain: SseRow): string {
  const side = (figures: SseFigures, base: SseFigures): string => {
    const rate = figure(figures.mibPerSec) + (figures.repeated ? '*' : ' ');
    return `${rate.padStart(11)}${figure(figures.mibPerSec / base.mibPerSec).padStart(8)}${figure(figures.serverCpuMsPerMiB).padStart(12)} `;
  };
  const name = `${formatSize(row.workload.sizeBytes)} x${row.objects} c${row.workload.clients}`;
  const failed = row.put.errors + row.get.errors;
  return [
    `${name.padEnd(16)}${row.mode.padEnd(8)}|${side(row.put, plain.put)}|${side(row.get, plain.get)}| `,
    row.mode === 'plain' ? '' : sseVerdicts(row, plain).map(({ op, pass }) => `${op} ${pass ? 'PASS' : 'MISS'}`).join(', '),
    failed > 0 ? `  ${failed} requests FAILED (${row.put.firstError ?? row.get.firstError ?? '?'})` : '',
  ].join('');
}

/** Whether an encrypted row's PUT and GET reach the target share of plain. */
export function sseVerdicts(row: SseRow, plain: SseRow): { op: 'PUT' | 'GET'; pass: boolean }[] {
  return [
    { op: 'PUT', pass: row.put.mibPerSec >= SSE_TARGET_RATIO * plain.put.mibPerSec },
    { op: 'GET', pass: row.get.mibPerSec >= SSE_TARGET_RATIO * plain.get.mibPerSec },
  ];
}

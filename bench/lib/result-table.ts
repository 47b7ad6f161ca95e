import type { CaseResult } from './run-case.js';

/** One row: a case measured on both targets. */
export interface CaseRow {
  name: string;
  tessera: CaseResult;
  baseline: CaseResult;
}

const FIGURES = ['MB/s', 'ops/s', 'p50 ms', 'p99 ms'] as const;
const NAME_WIDTH = 16;
const OPS_WIDTH = 5;
const FIGURE_WIDTH = 8;

function figure(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

function figures(result: CaseResult): string {
  return [result.mbPerSec, result.opsPerSec, result.p50Ms, result.p99Ms].map((v) => figure(v).padStart(FIGURE_WIDTH)).join('');
}

/** Tessera throughput over baseline throughput: the figure to watch (1.00 = storage costs nothing over HTTP). */
export function throughputRatio(row: CaseRow): number {
  return row.tessera.mbPerSec / row.baseline.mbPerSec;
}

/** The two header lines of the table. */
export function tableHeader(): string {
  const group = (title: string): string => title.padEnd(FIGURE_WIDTH * FIGURES.length);
  const columns = FIGURES.map((f) => f.padStart(FIGURE_WIDTH)).join('');
  return [
    `${''.padEnd(NAME_WIDTH + OPS_WIDTH)} | ${group('tessera (gateway + 6 nodes, 4+2)')} | ${group('baseline (bare fastify)')} |`,
    `${'case'.padEnd(NAME_WIDTH)}${'ops'.padStart(OPS_WIDTH)} | ${columns} | ${columns} | ${'ratio'.padStart(6)}`,
  ].join('\n');
}

/** One table line; failed operations are flagged after the ratio. */
export function tableRow(row: CaseRow): string {
  const errors = row.tessera.errors + row.baseline.errors;
  const flag = errors === 0 ? '' : `  ${row.tessera.errors}+${row.baseline.errors} FAILED`;
  return `${row.name.padEnd(NAME_WIDTH)}${String(row.tessera.ops).padStart(OPS_WIDTH)} | ${figures(row.tessera)} | ${figures(row.baseline)} | ${figure(throughputRatio(row)).padStart(6)}${flag}`;
}

/** Lines describing the first failure of each target in each case that had any. */
export function failureLines(rows: readonly CaseRow[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    for (const [target, result] of [['tessera', row.tessera], ['baseline', row.baseline]] as const) {
      if (result.errors > 0) lines.push(`${row.name} ${target}: ${result.errors}/${result.ops} failed; first: ${result.firstError ?? '?'}`);
    }
  }
  return lines;
}

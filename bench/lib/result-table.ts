import { formatSize, type Goal, type Workload } from './bench-args.js';
import type { CpuFigures } from './cpu-meter.js';
import type { CaseResult } from './run-case.js';
import type { LoaderResult } from './torch-loader.js';
import type { TargetName } from './targets.js';

/** Targets in the order of the table's column groups. */
export const TARGET_ORDER: readonly TargetName[] = ['tessera', 'null', 's3rver', 'rgw'];

/** Column titles of the targets. */
export const TARGET_TITLES: Readonly<Record<TargetName, string>> = { tessera: 'tessera dev', null: 'null server', s3rver: 's3rver', rgw: 'Ceph RGW' };

/** The peers tessera's rate is divided by, in the order of the ratio columns after /null and /disk. */
const PEERS = ['s3rver', 'rgw'] as const satisfies readonly TargetName[];

/** Why a target has no figures in this run (e.g. rgw: "not installed"), by target; shown in its column. */
export type Absent = Partial<Record<TargetName, string>>;

/** One timed window: what the client measured and the CPU each side used; `firstTry` is set when it was repeated. */
export interface Measured<T> {
  value: T;
  cpu: CpuFigures;
  /** The CPU figures of a first attempt that had other load on the machine and was therefore run again. */
  firstTry: CpuFigures | undefined;
}

/** One line of the matrix: PUT or GET of one workload, on every target. */
export interface MatrixRow {
  op: 'put' | 'get';
  workload: Workload;
  objects: number;
  /** The window shown for each target: its median round by rate (the lower of the middle two for an even count). */
  byTarget: Partial<Record<TargetName, Measured<CaseResult>>>;
  /** Every round's window, in the order they ran (one unless `--rounds`). */
  rounds: Partial<Record<TargetName, Measured<CaseResult>[]>>;
}

/**
 * A row from each target's rounds: the median round of each is the one the table shows, and the ratios are the
 * medians of the round-by-round ratios (the lower middle for an even count, as for the rounds).
 */
export function matrixRow(op: MatrixRow['op'], workload: Workload, objects: number, rounds: MatrixRow['rounds']): MatrixRow {
  const unit = workload.goals[op].unit;
  const byTarget: MatrixRow['byTarget'] = {};
  for (const name of TARGET_ORDER) {
    const sorted = [...(rounds[name] ?? [])].sort((a, b) => rateIn(unit, a.value) - rateIn(unit, b.value));
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    if (median !== undefined) byTarget[name] = median;
  }
  return { op, workload, objects, byTarget, rounds };
}

/** The lower middle of `values` (the median of an odd count); NaN when empty. */
function lowerMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** Tessera's rate over `name`'s, round by round (the two measured next to each other). */
function roundRatios(row: MatrixRow, name: TargetName): number[] {
  const unit = row.workload.goals[row.op].unit;
  const theirs = row.rounds[name] ?? [];
  return (row.rounds.tessera ?? []).map((window, i) => {
    const other = theirs[i];
    return other === undefined ? Number.NaN : rateIn(unit, window.value) / rateIn(unit, other.value);
  });
}

/** The median of tessera's round-by-round ratios to `name` (with one round, simply its ratio). */
export function roundRatio(row: MatrixRow, name: TargetName): number {
  return lowerMedian(roundRatios(row, name));
}

/**
 * With more than one round: each target's rate in every round, and tessera's ratio to each peer round by round (the
 * two measured next to each other, so a drift of the machine's speed moves both).
 */
export function roundsLine(row: MatrixRow): string | undefined {
  const unit = row.workload.goals[row.op].unit;
  const rates = (name: TargetName): number[] => (row.rounds[name] ?? []).map((window) => rateIn(unit, window.value));
  const tessera = rates('tessera');
  if (tessera.length < 2) return undefined;
  const measured = TARGET_ORDER.filter((name) => rates(name).length > 0);
  const list = (name: TargetName): string => `${name} ${rates(name).map(figure).join(' ')}`;
  const ratios = PEERS.filter((peer) => measured.includes(peer)).map((peer) => `tessera/${peer} ${roundRatios(row, peer).map(figure).join(' ')}`);
  return `${''.padEnd(CASE_WIDTH)}  rounds: ${measured.map(list).join(', ')}; ${ratios.join('; ')}`;
}

/** One line of the DataLoader table. */
export interface LoaderRow {
  target: TargetName;
  measured: Measured<LoaderResult>;
  /** Failures while writing the objects before the timed pass. */
  prefillErrors: number;
  prefillFirstError: string | undefined;
}

const MiB = 1024 * 1024;
const CASE_WIDTH = 20;
const UNIT_WIDTH = 6;
const GROUP = [
  ['rate', 7],
  ['p50', 6],
  ['p99', 7],
  ['cores', 6],
  ['ms cpu', 7],
] as const;
const GROUP_WIDTH = GROUP.reduce((sum, [, width]) => sum + width, 0) + 1;
const RATIO_WIDTH = 8;

/** A figure with two to three significant digits; '-' when missing. */
export function figure(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

/** Milliseconds of the server's CPU per successful request in one window (cores × wall time / requests); NaN without /proc. */
export function cpuMsPerRequest(measured: Measured<CaseResult>): number {
  return measured.value.okOps === 0 ? Number.NaN : (measured.cpu.targetCores * measured.value.wallMs) / measured.value.okOps;
}

/** The figure a goal is stated in, from one result. */
export function rateIn(unit: Goal['unit'], result: CaseResult): number {
  return unit === 'ops/s' ? result.opsPerSec : result.mibPerSec;
}

function caseName(row: MatrixRow): string {
  return `${row.op} ${formatSize(row.workload.sizeBytes)} x${row.objects} c${row.workload.clients}`;
}

/** The two header lines of the matrix table; an absent target's column says why it is empty. */
export function matrixHeader(absent: Absent = {}): string {
  const groupTitle = (name: TargetName): string => {
    const why = absent[name];
    return centre(why === undefined ? TARGET_TITLES[name] : `${TARGET_TITLES[name]}: ${why}`.slice(0, GROUP_WIDTH), GROUP_WIDTH);
  };
  const groupColumns = GROUP.map(([title, width]) => title.padStart(width)).join('') + ' ';
  const ratioTitles = ['/null', '/disk', ...PEERS.map((peer) => `/${peer}`)];
  const ratios = ratioTitles.map((title) => title.padStart(RATIO_WIDTH)).join('');
  return [
    `${''.padEnd(CASE_WIDTH + UNIT_WIDTH)} |${TARGET_ORDER.map(groupTitle).join('|')}| ${centre('tessera ratios', RATIO_WIDTH * ratioTitles.length)} | issue target`,
    `${'case'.padEnd(CASE_WIDTH)}${'unit'.padStart(UNIT_WIDTH)} |${TARGET_ORDER.map(() => groupColumns).join('|')}| ${ratios} |`,
  ].join('\n');
}

/**
 * One line of the matrix table. `diskCeilingMiBps` (what the disk allows a 4+2 PUT) gives the /disk ratio of PUTs of
 * 1 MiB and more; a target's rate carries '*' when it was measured twice because of other load.
 */
export function matrixLine(row: MatrixRow, diskCeilingMiBps: number): string {
  const goal = row.workload.goals[row.op];
  const groups = TARGET_ORDER.map((name) => {
    const measured = row.byTarget[name];
    if (measured === undefined) return ''.padEnd(GROUP_WIDTH);
    const rate = figure(rateIn(goal.unit, measured.value)) + (measured.firstTry === undefined ? ' ' : '*');
    const cells = [rate, figure(measured.value.p50Ms), figure(measured.value.p99Ms), figure(measured.cpu.targetCores), figure(cpuMsPerRequest(measured))];
    return cells.map((cell, i) => cell.padStart((GROUP[i] as (typeof GROUP)[number])[1])).join('') + ' ';
  });
  const tessera = row.byTarget.tessera?.value;
  const rateOf = (name: TargetName): number => {
    const result = row.byTarget[name]?.value;
    return result === undefined ? Number.NaN : rateIn(goal.unit, result);
  };
  const tesseraRate = rateOf('tessera');
  const diskRatio = row.op === 'put' && row.workload.sizeBytes >= MiB && tessera !== undefined ? tessera.mibPerSec / diskCeilingMiBps : Number.NaN;
  const ratios = [roundRatio(row, 'null'), diskRatio, ...PEERS.map((peer) => roundRatio(row, peer))].map((r) => figure(r).padStart(RATIO_WIDTH)).join('');
  const verdict = Number.isFinite(tesseraRate) ? (tesseraRate >= goal.value ? 'PASS' : 'MISS') : '-';
  const failed = TARGET_ORDER.reduce((sum, name) => sum + (row.rounds[name] ?? []).reduce((errors, window) => errors + window.value.errors, 0), 0);
  return [
    `${caseName(row).padEnd(CASE_WIDTH)}${goal.unit.padStart(UNIT_WIDTH)} |${groups.join('|')}| ${ratios} | `,
    `>= ${goal.value} ${verdict} (${figure(tesseraRate / goal.value)}x)`,
    failed > 0 ? `  ${failed} requests FAILED` : '',
  ].join('');
}

/** Targets and cases that missed their goal, and those that passed, for the summary. */
export function goalCounts(rows: readonly MatrixRow[]): { pass: number; miss: number } {
  let pass = 0;
  let miss = 0;
  for (const row of rows) {
    const tessera = row.byTarget.tessera?.value;
    if (tessera === undefined) continue;
    const goal = row.workload.goals[row.op];
    if (rateIn(goal.unit, tessera) >= goal.value) pass += 1;
    else miss += 1;
  }
  return { pass, miss };
}

/** The CPU table: for each case and target, cores used by the server, the client and everything else. */
export function cpuTableLines(rows: readonly MatrixRow[], loaderRows: readonly LoaderRow[]): string[] {
  const width = 7;
  const cell = (cpu: CpuFigures | undefined): string =>
    cpu === undefined ? ''.padEnd(3 * width + 1) : [cpu.targetCores, cpu.clientCores, cpu.otherCores].map((v) => figure(v).padStart(width)).join('') + ' ';
  const lines = [
    `${''.padEnd(CASE_WIDTH)} |${TARGET_ORDER.map((name) => centre(name, 3 * width + 1)).join('|')}|`,
    `${'case'.padEnd(CASE_WIDTH)} |${TARGET_ORDER.map(() => `${['server', 'client', 'other'].map((title) => title.padStart(width)).join('')} `).join('|')}| repeated because of other load`,
  ];
  const line = (name: string, byTarget: Partial<Record<TargetName, { cpu: CpuFigures; firstTry: CpuFigures | undefined }>>): string => {
    const repeats = TARGET_ORDER.flatMap((target) => {
      const firstTry = byTarget[target]?.firstTry;
      return firstTry === undefined ? [] : [`${target} (first try: other ${figure(firstTry.otherCores)})`];
    });
    return `${name.padEnd(CASE_WIDTH)} |${TARGET_ORDER.map((target) => cell(byTarget[target]?.cpu)).join('|')}| ${repeats.join(', ')}`.trimEnd();
  };
  for (const row of rows) lines.push(line(caseName(row), row.byTarget));
  if (loaderRows.length > 0) {
    const byTarget: Partial<Record<TargetName, Measured<LoaderResult>>> = {};
    for (const loaderRow of loaderRows) byTarget[loaderRow.target] = loaderRow.measured;
    lines.push(line('torch DataLoader', byTarget));
  }
  return lines;
}

/** The DataLoader table: samples/s and latency per target, the CPU of each side, and tessera's ratios. */
export function loaderTableLines(rows: readonly LoaderRow[], sizeBytes: number): string[] {
  const lines = [
    `${'target'.padEnd(9)}${'samples/s'.padStart(10)}${'MiB/s'.padStart(8)}${'wall s'.padStart(8)}${'1st batch s'.padStart(12)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'server'.padStart(8)}${'client'.padStart(8)}${'other'.padStart(7)}  failed`,
  ];
  const rate = (result: LoaderResult): number => result.samples / result.wallSeconds;
  for (const row of rows) {
    const result = row.measured.value;
    const { cpu } = row.measured;
    lines.push(
      [
        row.target.padEnd(9),
        (figure(rate(result)) + (row.measured.firstTry === undefined ? ' ' : '*')).padStart(10),
        figure((rate(result) * sizeBytes) / MiB).padStart(8),
        figure(result.wallSeconds).padStart(8),
        figure(result.firstBatchSeconds).padStart(12),
        figure(result.p50Ms).padStart(8),
        figure(result.p99Ms).padStart(8),
        figure(cpu.targetCores).padStart(8),
        figure(cpu.clientCores).padStart(8),
        figure(cpu.otherCores).padStart(7),
        `  ${result.errors + row.prefillErrors}`,
      ].join(''),
    );
  }
  const rateOf = (name: TargetName): number => {
    const row = rows.find((r) => r.target === name);
    return row === undefined ? Number.NaN : rate(row.measured.value);
  };
  const peers = PEERS.filter((peer) => rows.some((r) => r.target === peer)).map((peer) => `, over ${peer} (peer) ${figure(rateOf('tessera') / rateOf(peer))}`);
  lines.push(`tessera samples/s over null server (ceiling) ${figure(rateOf('tessera') / rateOf('null'))}${peers.join('')}`);
  return lines;
}

/** Lines describing the first failure of each target in each case that had any. */
export function failureLines(rows: readonly MatrixRow[], loaderRows: readonly LoaderRow[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    for (const name of TARGET_ORDER) {
      for (const [round, { value: result }] of (row.rounds[name] ?? []).entries()) {
        const which = (row.rounds[name]?.length ?? 0) > 1 ? ` round ${round + 1}` : '';
        if (result.errors > 0) lines.push(`${caseName(row)} ${name}${which}: ${result.errors}/${result.ops} failed; first: ${result.firstError ?? '?'}`);
      }
    }
  }
  for (const row of loaderRows) {
    if (row.prefillErrors > 0) lines.push(`torch prefill ${row.target}: ${row.prefillErrors} PUTs failed; first: ${row.prefillFirstError ?? '?'}`);
    const result = row.measured.value;
    if (result.errors > 0) lines.push(`torch DataLoader ${row.target}: ${result.errors}/${result.samples} samples failed; first: ${result.firstError ?? '?'}`);
  }
  return lines;
}

function centre(text: string, width: number): string {
  const left = Math.max(0, Math.floor((width - text.length) / 2));
  return `${' '.repeat(left)}${text}`.padEnd(width);
}

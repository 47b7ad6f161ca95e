import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatSize } from './bench-args.js';
import { cpuMsPerRequest, figure, rateIn, roundRatio, TARGET_ORDER, type Absent, type MatrixRow } from './result-table.js';
import type { TargetName } from './targets.js';

/** What a pasted table must carry to be read later: how it was made, when, on what. */
export interface RunFacts {
  /** The command line, e.g. `npm run bench -- --no-torch --rounds=3`. */
  command: string;
  /** When the run started, in UTC. */
  startedAt: Date;
  /** The checkout's commit (short hash), when git could tell. */
  commit: string | undefined;
  node: string;
  cpu: string;
}

const TITLES: Readonly<Record<TargetName, string>> = { tessera: 'Tessera', null: 'null server', s3rver: 's3rver', rgw: 'Ceph RGW' };
/** Peers with a ratio column and a CPU column, as the README's table shows them. */
const PEERS = ['s3rver', 'rgw'] as const satisfies readonly TargetName[];
const SHORT: Readonly<Record<TargetName, string>> = { tessera: 'Tessera', null: 'null', s3rver: 's3rver', rgw: 'RGW' };

/** "2026-11-27 21:04 UTC". */
export function utcMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The sentence above the README's tables: command, date, commit and machine. */
export function runFactsLine(facts: RunFacts): string {
  const commit = facts.commit === undefined ? '' : `, code of ${facts.commit}`;
  return `\`${facts.command}\`, ${utcMinute(facts.startedAt)}${commit}; Node ${facts.node}, ${facts.cpu}.`;
}

/** A rate as the README writes it: thousands separated, no decimals from 100 up. */
export function readmeNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : figure(value);
}

function workloadLabel(row: MatrixRow): string {
  const size = formatSize(row.workload.sizeBytes).replace(/(\d)(KiB|MiB)$/, '$1 $2');
  return `${row.op.toUpperCase()} ${size} × ${row.objects.toLocaleString('en-US')}, ${row.workload.clients} clients`;
}

/**
 * The README's performance table: each target's rate (median round), tessera's ratio to each peer (median of the
 * rounds' ratios), the server CPU per request of tessera and each peer, and the target. An absent target's cells say why.
 */
export function matrixMarkdown(rows: readonly MatrixRow[], absent: Absent): string[] {
  const header = [
    'workload',
    ...TARGET_ORDER.map((name) => TITLES[name]),
    ...PEERS.map((peer) => `Tessera / ${SHORT[peer]}`),
    ...(['tessera', ...PEERS] as const).map((name) => `CPU ms/req ${SHORT[name]}`),
    'target',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const goal = row.workload.goals[row.op];
    const rate = (name: TargetName): string => {
      const measured = row.byTarget[name];
      return measured === undefined ? (absent[name] ?? '-') : `${readmeNumber(rateIn(goal.unit, measured.value))} ${goal.unit}`;
    };
    const ratio = (peer: TargetName): string => (row.byTarget[peer] === undefined ? '-' : figure(roundRatio(row, peer)));
    const cpu = (name: TargetName): string => {
      const measured = row.byTarget[name];
      return measured === undefined ? '-' : figure(cpuMsPerRequest(measured));
    };
    const tessera = row.byTarget.tessera;
    const verdict = tessera === undefined ? '-' : rateIn(goal.unit, tessera.value) >= goal.value ? 'met' : 'missed';
    const cells = [
      workloadLabel(row),
      ...TARGET_ORDER.map(rate),
      ...PEERS.map(ratio),
      ...(['tessera', ...PEERS] as const).map(cpu),
      `≥ ${readmeNumber(goal.value)}: ${verdict}`,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines;
}

/** The checkout's commit, short, with "+changes" when the tree differs from it; undefined outside git. */
export function checkoutCommit(): string | undefined {
  try {
    const dir = fileURLToPath(new URL('../..', import.meta.url));
    const commit = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return `${commit}${dirty ? '+changes' : ''}`;
  } catch {
    return undefined;
  }
}

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** One process as /proc/<pid>/stat shows it. */
interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime: its own CPU and that of children it has reaped. */
  ticks: number;
}

/** Everything a window needs at one instant. */
interface Snapshot {
  wallMs: number;
  processes: Map<number, ProcStat>;
  /** Busy ticks of the whole machine, summed over CPUs (idle and iowait excluded). */
  machineBusyTicks: number;
}

/** CPU used during one timed window, in cores (1.0 = one CPU busy for the whole window), and the server's storage writes. */
export interface CpuFigures {
  /** The server under test: its processes and all their descendants (threads included, as /proc counts them). */
  targetCores: number;
  /** The load generator: this process, or the client's process tree. */
  clientCores: number;
  /** Busy CPU of the machine not accounted for by target, client or kernel threads: other load, including idle peers. */
  otherCores: number;
  machineCores: number;
  /**
   * Bytes the server's process tree caused to be written to storage (/proc/<pid>/io write_bytes, counted when a page
   * is dirtied, so buffered writes and LevelDB's compactions count in the window that made them); NaN where unreadable.
   */
  targetWriteBytes: number;
}

/** CPU of groups of processes over a window, read from /proc; `available` is false where there is no /proc. */
export class CpuMeter {
  readonly available: boolean;
  private readonly ticksPerSecond: number;

  constructor() {
    this.available = readable('/proc/stat') && readable(`/proc/${process.pid}/stat`);
    this.ticksPerSecond = this.available ? clockTicks() : 100;
  }

  /**
   * Runs `work` between two snapshots and reports the CPU of the process trees rooted at `targetPids` (one server may be
   * several daemons, as Ceph's are), of the client (this process alone, or the tree at `clientPid`), and the rest of the
   * machine. Without /proc the figures are NaN.
   */
  async measure<T>(targetPids: number | readonly number[], clientPid: number | 'self', work: () => Promise<T>): Promise<{ value: T; cpu: CpuFigures }> {
    const roots = typeof targetPids === 'number' ? [targetPids] : targetPids;
    if (!this.available) {
      const value = await work();
      return { value, cpu: { targetCores: Number.NaN, clientCores: Number.NaN, otherCores: Number.NaN, machineCores: Number.NaN, targetWriteBytes: Number.NaN } };
    }
    const before = snapshot();
    const writtenBefore = writeBytes(roots.flatMap((pid) => treePids(before, pid)));
    const value = await work();
    const after = snapshot();
    const written = writeBytes(roots.flatMap((pid) => treePids(after, pid))) - writtenBefore;
    const seconds = (after.wallMs - before.wallMs) / 1000;
    const cores = (ticks: number): number => Math.max(0, ticks) / this.ticksPerSecond / seconds;
    const client = clientPid === 'self' ? ownTicks(after) - ownTicks(before) : treeTicks(after, clientPid) - treeTicks(before, clientPid);
    const target = roots.reduce((sum, pid) => sum + treeTicks(after, pid) - treeTicks(before, pid), 0);
    const kernel = kernelThreadTicks(after) - kernelThreadTicks(before);
    const machine = after.machineBusyTicks - before.machineBusyTicks;
    return {
      value,
      cpu: {
        targetCores: cores(target),
        clientCores: cores(client),
        otherCores: cores(machine - target - client - kernel),
        machineCores: cores(machine),
        targetWriteBytes: written,
      },
    };
  }
}

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** USER_HZ, the unit of /proc CPU times (100 on nearly every Linux). */
function clockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

function snapshot(): Snapshot {
  const processes = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== undefined) processes.set(Number(name), stat);
  }
  return { wallMs: performance.now(), processes, machineBusyTicks: machineBusyTicks() };
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // It exited between readdir and read.
  }
  // The command name is in parentheses and may contain spaces; the fields after it are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const at = (index: number): number => Number(fields[index] ?? 0);
  return { ppid: at(1), ticks: at(11) + at(12) + at(13) + at(14) };
}

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const numbers = values.map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already inside user.
  const total = numbers.slice(0, 8).reduce((sum, n) => sum + n, 0);
  return total - (numbers[3] ?? 0) - (numbers[4] ?? 0);
}

function ownTicks(shot: Snapshot): number {
  const own = shot.processes.get(process.pid);
  return own === undefined ? 0 : own.ticks;
}

/** `rootPid` and every live descendant, as `shot` saw them. */
function treePids(shot: Snapshot, rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, stat] of shot.processes) {
    const siblings = children.get(stat.ppid);
    if (siblings === undefined) children.set(stat.ppid, [pid]);
    else siblings.push(pid);
  }
  const tree: number[] = [];
  const pending = [rootPid];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    if (!shot.processes.has(pid)) continue;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** CPU ticks of `rootPid` and every live descendant (each including the children it has reaped). */
function treeTicks(shot: Snapshot, rootPid: number): number {
  return treePids(shot, rootPid).reduce((sum, pid) => sum + (shot.processes.get(pid)?.ticks ?? 0), 0);
}

/** Storage bytes written by `pids` so far (threads count with their process); NaN if any cannot be read. */
function writeBytes(pids: readonly number[]): number {
  if (pids.length === 0) return Number.NaN;
  let sum = 0;
  for (const pid of pids) {
    let io: string;
    try {
      io = readFileSync(`/proc/${pid}/io`, 'utf8');
    } catch {
      return Number.NaN;
    }
    const bytes = /^write_bytes: (\d+)$/m.exec(io)?.[1];
    if (bytes === undefined) return Number.NaN;
    sum += Number(bytes);
  }
  return sum;
}

/** Ticks of kernel threads (children of kthreadd, PID 2): disk flushing and network softirqs our own load causes. */
function kernelThreadTicks(shot: Snapshot): number {
  let sum = 0;
  for (const [pid, stat] of shot.processes) if (pid === 2 || stat.ppid === 2) sum += stat.ticks;
  return sum;
}

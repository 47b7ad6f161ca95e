import { readdir, readFile } from 'node:fs/promises';

/**
 * Bytes the process tree rooted at `rootPid` has caused to be written to storage (/proc/<pid>/io's
 * write_bytes, counted when a page is dirtied, so a window's buffered writes count in it even before
 * they reach the disk), or NaN where /proc does not say. Threads are counted with their process.
 */
export async function treeWriteBytes(rootPid: number): Promise<number> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    // It may have exited between readdir and read. The command name is in parentheses and may hold spaces.
    if (stat !== undefined) parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  if (!parents.has(rootPid)) return Number.NaN;
  let total = 0;
  for (const pid of parents.keys()) {
    if (!descends(pid, rootPid, parents)) continue;
    const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => undefined);
    const bytes = io?.match(/^write_bytes: (\d+)$/m)?.[1];
    if (bytes === undefined) return Number.NaN;
    total += Number(bytes);
  }
  return total;
}

function descends(pid: number, rootPid: number, parents: ReadonlyMap<number, number>): boolean {
  for (let at: number | undefined = pid; at !== undefined && at > 1; at = parents.get(at)) if (at === rootPid) return true;
  return false;
}

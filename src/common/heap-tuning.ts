import { setFlagsFromString } from 'node:v8';

/** The growth last applied, so a second role in the same process (dev runs several) changes nothing twice. */
let applied: number | undefined;

/**
 * Lets the old generation grow `percent` past the live heap before V8 starts a full (mark-compact)
 * collection. V8 reads this flag each time it recomputes the heap's limits, so it applies to the
 * isolates already running (this thread and every worker thread) from their next collection on.
 * 0 leaves V8's own heuristic. A server's own command line (`node --heap-growing-percent=N`) wins.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent === applied || process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  applied = percent;
}

import { setFlagsFromString } from 'node:v8';

/** The growth last applied, so a second role in the same process (dev runs several) changes nothing twice. */
let applied: number | undefined;

/**
 * V8 13 (Node 24) and later start a full collection whenever memory held outside the heap (the
 * ArrayBuffers behind every Buffer a socket or file read allocates) has grown by a fixed step since the
 * last one, whatever the heap's own limit: under two clients streaming 64 MiB GETs that was a
 * mark-compact every 100-200 ms on each thread, and twice the CPU per MiB of Node 20 and 22. This V8
 * flag counts that memory against the heap's global limit instead, which `--heap-growing-percent`
 * sets. Older engines do not know the flag (and say so on stderr if given it).
 */
const EXTERNAL_MEMORY_FLAG = '--external-memory-accounted-in-global-limit';
const engineHasExternalMemoryFlag = Number(process.versions.v8.split('.')[0]) >= 13;

/**
 * Lets the old generation grow `percent` past the live heap before V8 starts a full (mark-compact)
 * collection, counting memory outside the heap within the same limit where the engine can. V8 reads
 * these flags each time it recomputes the heap's limits, so they apply to the isolates already running
 * (this thread and every worker thread) from their next collection on. 0 leaves V8's own heuristic.
 * A server's own command line (`node --heap-growing-percent=N`) wins.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent === applied || process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  if (engineHasExternalMemoryFlag && !process.execArgv.some((arg) => arg.endsWith('external-memory-accounted-in-global-limit'))) {
    setFlagsFromString(percent === 0 ? EXTERNAL_MEMORY_FLAG.replace('--', '--no-') : EXTERNAL_MEMORY_FLAG);
  }
  applied = percent;
}

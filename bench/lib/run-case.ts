/** What one case measured against one target. */
export interface CaseResult {
  ops: number;
  okOps: number;
  errors: number;
  firstError: string | undefined;
  wallMs: number;
  /** MiB (2^20 bytes) of successful operations per second. */
  mibPerSec: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `ops` calls of `op(index)` with `concurrency` of them in flight, timing each from just before the call
 * (so request signing counts) until its promise settles (for a GET: the last body byte read).
 */
export async function runCase(options: {
  ops: number;
  concurrency: number;
  sizeBytes: number;
  op: (index: number) => Promise<unknown>;
}): Promise<CaseResult> {
  const { ops, concurrency, sizeBytes, op } = options;
  const latenciesMs: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < ops; index = next++) {
      const startedMs = performance.now();
      try {
        await op(index);
        latenciesMs.push(performance.now() - startedMs);
      } catch (err) {
        errors += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  const startedMs = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, ops) }, worker));
  const wallMs = performance.now() - startedMs;
  const okOps = latenciesMs.length;
  latenciesMs.sort((a, b) => a - b);
  return {
    ops,
    okOps,
    errors,
    firstError,
    wallMs,
    mibPerSec: (okOps * sizeBytes) / 2 ** 20 / (wallMs / 1000),
    opsPerSec: okOps / (wallMs / 1000),
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
  };
}

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. With few samples p99 is the maximum. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Runs a benchmark's main and sets the exit code from it: its own code, or 1 when it throws. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

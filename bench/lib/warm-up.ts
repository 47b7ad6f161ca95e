import { formatSize } from './bench-args.js';
import { objectParts } from './payload.js';
import { runCase, type CaseResult } from './run-case.js';
import type { S3BenchClient } from './s3-bench-client.js';

/**
 * Warm-up, so JIT compilation and connection setup stay out of the timed windows: rounds of PUT then GET of the
 * workload's size at its concurrency, until a round is no more than WARMUP_SETTLED faster than the best round
 * before it (at least WARMUP_MIN_ROUNDS, at most WARMUP_MAX_ROUNDS). A server on V8 reaches its steady speed only after
 * thousands of requests: with a fixed 8 warm-up objects of 1 MiB, tessera's timed 1 MiB PUTs spent 18 ms of CPU
 * each (V8's compiler threads busy throughout), against 11.5 ms once warm, and measured the JIT, not the store.
 */
export const WARMUP_SETTLED = 0.05;
export const WARMUP_MIN_ROUNDS = 3;
export const WARMUP_MAX_ROUNDS = 12;

/** Objects of one warm-up round: about a second of work at each size. */
export function warmupRoundOps(sizeBytes: number): number {
  return sizeBytes >= 16 * 1024 * 1024 ? 4 : sizeBytes >= 256 * 1024 ? 100 : 1_000;
}

/** What a target's warm-up took: its rounds and the rate of its last, in operations (PUT and GET) a second. */
export interface WarmUp {
  target: string;
  rounds: number;
  opsPerSec: number;
}

/** Warms `client`'s server up with objects of `base`'s size in `bucket` (one round when `quick`). */
export async function warmUp(target: string, client: S3BenchClient, bucket: string, base: Uint8Array, clients: number, quick: boolean): Promise<WarmUp> {
  const ops = warmupRoundOps(base.byteLength);
  let best = 0;
  for (let rounds = 1; ; rounds += 1) {
    const key = (i: number): string => `warmup-${formatSize(base.byteLength)}/r${rounds}/${i}`;
    const put = await runAll(target, 'warm-up PUT', ops, clients, (i) => client.put(bucket, key(i), objectParts(key(i), base)));
    const get = await runAll(target, 'warm-up GET', ops, clients, (i) => client.get(bucket, key(i), objectParts(key(i), base), true));
    const rate = (2 * ops * 1000) / (put.wallMs + get.wallMs);
    const settled = rounds >= WARMUP_MIN_ROUNDS && rate <= best * (1 + WARMUP_SETTLED);
    best = Math.max(best, rate);
    if (quick || settled || rounds >= WARMUP_MAX_ROUNDS) return { target, rounds, opsPerSec: rate };
  }
}

/** Runs `ops` operations that must all succeed; throws with the first failure otherwise. */
async function runAll(target: string, what: string, ops: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<CaseResult> {
  const result = await runCase({ ops, concurrency, sizeBytes: 0, op });
  if (result.errors > 0) throw new Error(`${target} ${what}: ${result.errors}/${ops} failed; first: ${result.firstError ?? '?'}`);
  return result;
}

import { isSlowQuorumLoss } from '../s3/index.js';
import type { MetadataTimeout } from './path-deps.js';
import { withTimeout, type RequestScope } from './request-scope.js';

/**
 * How long a read keeps trying metadata rounds that failed only because nodes answered too slowly.
 * Well under the 60 s read timeout of boto3 and the AWS CLI, so a client that outlasts it hears a 503
 * it retries, not a dead socket.
 */
export const READ_DEADLINE_MS = 30_000;

/** First pause between attempts; it doubles each time up to READ_BACKOFF_CEILING_MS. */
const READ_BACKOFF_FIRST_MS = 10;
const READ_BACKOFF_CEILING_MS = 500;

/**
 * When a read must be answered by: `READ_DEADLINE_MS` after its request started (`startedMs`, a
 * performance.now() reading; now when the scope has none). Every retry of every round of one request
 * draws on the same deadline.
 */
export class ReadDeadline {
  private readonly endMs: number;

  constructor(startedMs: number = performance.now(), budgetMs: number = READ_DEADLINE_MS) {
    this.endMs = startedMs + budgetMs;
  }

  /** The deadline of a request scope's reads. */
  static of(scope: { startedMs?: number | undefined }): ReadDeadline {
    return new ReadDeadline(scope.startedMs ?? performance.now());
  }

  /** Milliseconds left, 0 once past. */
  remainingMs(): number {
    return Math.max(0, this.endMs - performance.now());
  }

  /**
   * Waits before attempt `attempt + 1` (a doubling backoff with jitter, so readers that failed together
   * do not return together). False, at once, when the pause would end past the deadline or `signal`
   * is aborted (also during the pause): the caller then gives up.
   */
  async pause(attempt: number, signal: AbortSignal): Promise<boolean> {
    const capMs = Math.min(READ_BACKOFF_CEILING_MS, READ_BACKOFF_FIRST_MS * 2 ** Math.min(attempt - 1, 16));
    const pauseMs = capMs / 2 + Math.random() * (capMs / 2);
    if (signal.aborted || pauseMs >= this.remainingMs()) return false;
    return new Promise((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, pauseMs);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * Runs one metadata round of a read (`read`, given a signal that carries the round's timeout) and runs
 * it again when it lost its quorum because nodes did not answer in time: a busy machine slows a read
 * down rather than fail it. Each attempt reads the timeout anew, and since a round that expired has
 * stretched the nodes' latency estimate (rpc/latency-estimator.ts), the next one waits longer. It
 * stops at the request's read deadline. A round lost to nodes that refused or failed is not retried:
 * those nodes are down, not slow, and the client hears so at once.
 */
export function retrySlowRead<T>(scope: RequestScope<MetadataTimeout>, read: (signal: AbortSignal) => Promise<T>, deadline: ReadDeadline = ReadDeadline.of(scope)): Promise<T> {
  return retrySlowRound(scope, read, deadline, scope.signal);
}

/**
 * retrySlowRead for an idempotent write round that is seen through once sent (a commit): its attempts
 * stop at their own timeouts and at READ_DEADLINE_MS after the round began, not when the client
 * leaves. The budget starts with the round, not the request: a large body's upload may have taken
 * longer than that before its commit. Nodes that applied an earlier attempt answer the repeat as done.
 */
export function retrySlowCommit<T>(scope: RequestScope<MetadataTimeout>, commit: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return retrySlowRound(scope, commit, new ReadDeadline(), undefined);
}

/** Never aborted: the pauses of a round that does not follow the client's request. */
const UNCANCELLED = new AbortController().signal;

async function retrySlowRound<T>(scope: RequestScope<MetadataTimeout>, round: (signal: AbortSignal) => Promise<T>, deadline: ReadDeadline, signal: AbortSignal | undefined): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const timeoutMs = Math.max(1, Math.min(scope.services.metadataTimeoutMs, deadline.remainingMs()));
    try {
      return await round(withTimeout(signal, timeoutMs));
    } catch (err) {
      if (!isSlowQuorumLoss(err) || !(await deadline.pause(attempt, signal ?? UNCANCELLED))) throw err;
    }
  }
}

/**
 * How busy a node is serving the cluster's clients, for its background work to give way to. The node
 * server counts each client-path request (shard reads and writes, commits, lookups, listings) from its
 * arrival until its response closes; background steps ask whether any was served while they ran.
 */
export class ForegroundActivity {
  private inFlight = 0;
  private lastEndMs = Number.NEGATIVE_INFINITY;
  private readonly clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.clock = clock;
  }

  /** The time on this tracker's clock, for `activeSince`. */
  now(): number {
    return this.clock();
  }

  /** A client request arrived; call `end` once when its response has closed. */
  begin(): () => void {
    this.inFlight += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight -= 1;
      this.lastEndMs = this.clock();
    };
  }

  /** Whether a client request is being served now, or was at any time since `sinceMs` (this tracker's clock). */
  activeSince(sinceMs: number): boolean {
    return this.inFlight > 0 || this.lastEndMs >= sinceMs;
  }
}

/**
 * How long a background step waits after it ran while clients were served: this many times its own
 * duration, so background work takes at most a fifth of the time it would on an idle node (the scheme
 * of MinIO's scanner and Ceph's recovery sleep) and still always progresses. A profile of 4 KiB PUTs on
 * the embedded default found the start-up audit's digest requests and worker steps at about a fifth
 * of each storage-node thread while clients waited.
 */
export const FOREGROUND_YIELD_FACTOR = 4;

/** Longest such wait, so a slow step does not stall its worker for long. */
export const MAX_FOREGROUND_YIELD_MS = 1_000;

import { MAX_SIGNATURE_SKEW_MS } from './signing.js';

/** Why a signed request was refused as a replay; `null` when it is admitted. */
export type ReplayProblem = 'replayed' | 'before-start' | 'too-many';

/**
 * Makes a signed request usable once. A streamed shard body is not covered by its signature
 * (hashing it first would cost a pass over every byte), so without this a captured shard PUT could
 * be sent again, within the signature window, with another body. Every signature a node accepts for
 * such a request is remembered until it is too old to pass the time check anyway, and seen again is
 * refused. Signatures from before the guard existed (the node's start) are refused too: a restart
 * forgets what was seen, and anything captured was signed before it.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private readonly notBeforeMs: number;
  private readonly maxEntries: number;

  /** `startMs` is the node's wall-clock start; at most `maxEntries` signatures are held (past that, new ones are refused). */
  constructor(options: { startMs: number; maxEntries?: number }) {
    this.notBeforeMs = options.startMs;
    this.maxEntries = options.maxEntries ?? 1_000_000;
  }

  /** Signatures remembered now. */
  get size(): number {
    return this.seen.size;
  }

  /** Admits a request (its signature and signed time) once; the signature must already have been verified. */
  admit(signature: string, signedMs: number, nowMs: number): ReplayProblem | null {
    this.forget(nowMs);
    if (signedMs < this.notBeforeMs) return 'before-start';
    if (this.seen.has(signature)) return 'replayed';
    if (this.seen.size >= this.maxEntries) return 'too-many';
    this.seen.set(signature, signedMs);
    return null;
  }

  /** Drops signatures the time check refuses by now; oldest first (insertion order is close to signed order). */
  private forget(nowMs: number): void {
    const oldestValidMs = nowMs - MAX_SIGNATURE_SKEW_MS;
    for (const [signature, signedMs] of this.seen) {
      if (signedMs >= oldestValidMs) return;
      this.seen.delete(signature);
    }
  }
}

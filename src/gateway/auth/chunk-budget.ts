/** What the body decoder needs of the gateway's byte budget (http/byte-budget.ts); structurally that class. */
export interface BodyBudget {
  /** No reservation larger than this is ever granted. */
  readonly capacity: number;
  /** Takes `bytes` if they fit now (and nobody waits ahead); false, taking nothing, otherwise. */
  tryTake(bytes: number): boolean;
  /** Takes `bytes`, waiting for room; rejects with SlowDown past the budget's wait deadline, or with the signal's reason. */
  reserve(bytes: number, signal: AbortSignal): Promise<void>;
  /** Gives back bytes taken earlier. */
  give(bytes: number): void;
}

/**
 * One decoder's share of the byte budget. A signed chunk's declared size is taken before any of its
 * bytes are kept (so a chunk never waits for room halfway, holding some while others hold the rest),
 * and given back as its verified bytes leave the decoder, or all at once when the decoder is destroyed.
 */
export class ChunkBudgetShare {
  readonly #budget: BodyBudget | undefined;
  readonly #stop = new AbortController();
  #heldBytes = 0;

  constructor(budget: BodyBudget | undefined) {
    this.#budget = budget;
  }

  /** The largest chunk the budget could ever hold. */
  get capacity(): number {
    return this.#budget?.capacity ?? Number.POSITIVE_INFINITY;
  }

  /** Bytes this share holds now. */
  get held(): number {
    return this.#heldBytes;
  }

  /** Takes `bytes` now if they fit; false when the caller must `wait` for them. Always true without a budget. */
  tryTake(bytes: number): boolean {
    if (this.#budget === undefined) return true;
    if (!this.#budget.tryTake(bytes)) return false;
    this.#heldBytes += bytes;
    return true;
  }

  /** Waits for `bytes`; rejects with SlowDown at the budget's deadline, or once the share is closed. */
  async wait(bytes: number): Promise<void> {
    if (this.#budget === undefined) return;
    await this.#budget.reserve(bytes, this.#stop.signal);
    if (this.#stop.signal.aborted) {
      // Granted just as the decoder went away: nobody will give these back but us.
      this.#budget.give(bytes);
      throw this.#stop.signal.reason;
    }
    this.#heldBytes += bytes;
  }

  /** Gives back whatever this share holds beyond `neededBytes` (what the decoder still keeps in memory). */
  settle(neededBytes: number): void {
    if (this.#budget === undefined || this.#heldBytes <= neededBytes) return;
    this.#budget.give(this.#heldBytes - neededBytes);
    this.#heldBytes = neededBytes;
  }

  /** Gives everything back and ends a wait in progress: the decoder is done or destroyed. */
  close(): void {
    this.#stop.abort(new Error('the request body is no longer read'));
    this.settle(0);
  }
}

/**
 * Reusable stripe buffers for large writes: one allocation holds a stripe's k data blocks and m parity
 * blocks. Without it every full stripe costs a fresh 1.5 MiB (at 4+2 with 256 KiB blocks) that only the
 * garbage collector gives back. Only `maxIdle` buffers are kept between requests; a buffer is handed back
 * only once no connection can still be sending from it (the writer decides that), so a buffer that is
 * never released is simply collected.
 */
export class StripePool {
  private readonly maxIdle: number;
  private readonly idle = new Map<number, Uint8Array[]>();
  private idleCount = 0;

  constructor(options: { maxIdle: number }) {
    this.maxIdle = options.maxIdle;
  }

  /** A buffer of exactly `sizeBytes`, with arbitrary contents. */
  acquire(sizeBytes: number): Uint8Array {
    const free = this.idle.get(sizeBytes)?.pop();
    if (free !== undefined) {
      this.idleCount -= 1;
      return free;
    }
    // Unpooled and not zeroed: the writer overwrites every byte it sends (padding included).
    return new Uint8Array(Buffer.allocUnsafeSlow(sizeBytes).buffer, 0, sizeBytes);
  }

  /** Gives a buffer back for reuse; dropped when the pool already holds its share. */
  release(buffer: Uint8Array): void {
    if (this.idleCount >= this.maxIdle) return;
    const list = this.idle.get(buffer.length);
    if (list === undefined) this.idle.set(buffer.length, [buffer]);
    else list.push(buffer);
    this.idleCount += 1;
  }

  /** Buffers held for reuse (for tests and metrics). */
  get idleBuffers(): number {
    return this.idleCount;
  }
}

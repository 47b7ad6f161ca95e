import { S3Error } from '../s3/index.js';

/**
 * A gateway-wide cap on request bytes held in memory at once (XML documents and other small bodies
 * read whole). A request whose body would take the total past it stops reading and is answered 503
 * SlowDown with Retry-After, which SDKs retry; what it held is given back when it is done.
 */
export class ByteBudget {
  private readonly capacityBytes: number;
  private usedBytes = 0;

  constructor(capacityBytes: number) {
    this.capacityBytes = capacityBytes;
  }

  /** Bytes held now. */
  get used(): number {
    return this.usedBytes;
  }

  /** Takes `bytes` or throws SlowDown when the budget cannot hold them. */
  take(bytes: number): void {
    if (this.usedBytes + bytes > this.capacityBytes) {
      throw new S3Error('SlowDown', {
        message: 'The gateway is holding as many request bodies as it can; please retry.',
        headers: { 'retry-after': '1' },
      });
    }
    this.usedBytes += bytes;
  }

  /** Gives back bytes taken earlier. */
  give(bytes: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - bytes);
  }
}

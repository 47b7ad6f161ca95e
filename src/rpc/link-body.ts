import { Readable } from 'node:stream';

/** A receiving stream buffers up to this before it stops granting its sender more. */
const HIGH_WATER_BYTES = 256 * 1024;

/** A stream's receiving end: chunks as its sender sends them; taking them grants the sender more. */
export class LinkBody extends Readable {
  private receivedBytes = 0;
  private creditedBytes = 0;
  private ended = false;
  private readonly grant: (bytes: number) => void;
  private readonly cancel: () => void;

  constructor(grant: (bytes: number) => void, cancel: () => void) {
    super({ highWaterMark: HIGH_WATER_BYTES });
    this.grant = grant;
    this.cancel = cancel;
  }

  override _read(): void {
    if (this.receivedBytes === this.creditedBytes) return;
    this.creditedBytes = this.receivedBytes;
    this.grant(this.receivedBytes);
  }

  deliver(chunk: ArrayBuffer): void {
    this.receivedBytes += chunk.byteLength;
    this.push(Buffer.from(chunk));
  }

  finish(): void {
    this.ended = true;
    this.push(null);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // A body given up before its end stops its sender.
    if (!this.ended) this.cancel();
    callback(err);
  }
}

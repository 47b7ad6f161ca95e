import type { Readable } from 'node:stream';

function ignore(): void {}

/**
 * Reads exact-size blocks from one shard's response stream. A read that fails, ends short, or waits
 * longer than `stallTimeoutMs` rejects; the object reader then treats the shard as missing.
 */
export class ShardCursor {
  readonly shardIndex: number;
  private readonly iterator: AsyncIterator<Buffer>;
  private readonly stream: Readable;
  private readonly stallTimeoutMs: number;
  private leftover: Buffer | undefined;

  constructor(shardIndex: number, stream: Readable, stallTimeoutMs: number) {
    this.shardIndex = shardIndex;
    this.stream = stream;
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.stallTimeoutMs = stallTimeoutMs;
  }

  /** The next `lengthBytes` bytes of the shard. */
  async read(lengthBytes: number): Promise<Uint8Array> {
    if (this.leftover !== undefined && this.leftover.length >= lengthBytes) {
      const block = this.leftover.subarray(0, lengthBytes);
      this.leftover = this.leftover.length === lengthBytes ? undefined : this.leftover.subarray(lengthBytes);
      return block;
    }
    const parts: Buffer[] = this.leftover === undefined ? [] : [this.leftover];
    let have = this.leftover?.length ?? 0;
    this.leftover = undefined;
    while (have < lengthBytes) {
      const next = await this.nextChunk();
      if (next === undefined) throw new Error(`shard ${this.shardIndex} ended ${lengthBytes - have} bytes short`);
      parts.push(next);
      have += next.length;
    }
    const joined = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, have);
    if (have > lengthBytes) this.leftover = joined.subarray(lengthBytes);
    return joined.subarray(0, lengthBytes);
  }

  /** Stops reading and releases the connection. */
  close(): void {
    // A response body destroyed before it ended emits an abort error; unheard, it would end the process.
    this.stream.on('error', ignore);
    this.stream.destroy();
  }

  private async nextChunk(): Promise<Buffer | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`shard ${this.shardIndex} stalled`)), this.stallTimeoutMs);
    });
    try {
      const result = await Promise.race([this.iterator.next(), stalled]);
      return result.done === true ? undefined : result.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

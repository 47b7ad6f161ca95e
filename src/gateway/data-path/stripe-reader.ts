import { TesseraError } from '../../common/index.js';
import {
  objectLayout,
  stripeBlockSizeBytes,
  stripeDataBytes,
  stripeShardOffsetBytes,
  stripesForRange,
  type Codec,
  type ObjectLayout,
} from '../../erasure/index.js';
import { shardRefOf, type NodeClient, type ObjectRecord } from '../../rpc/index.js';
import { quorumError } from '../s3/index.js';
import { ShardCursor } from './shard-cursor.js';
import type { ResolvedVersion } from './version-lookup.js';

/** Knobs and collaborators of one read. */
export interface ReadOptions {
  codec: Codec;
  signal: AbortSignal;
  stallTimeoutMs: number;
  logger: { warn: (fields: object, message: string) => void };
}

/**
 * Streams bytes [offset, offset + length) of a version. Reads the data shards (no decoding needed) and
 * yields their bytes in the pieces the nodes sent, never joined; while one stripe is being sent, the
 * next is read (one stripe ahead, no more). When a shard fails, stalls or fails its checksum, another
 * shard is opened at the same stripe and the stripe reconstructed. The first stripe is fetched before
 * this resolves, so the caller sends headers only once data is in hand; a failure later throws from
 * the iterator and the caller must cut the response.
 */
export async function openStripeStream(
  version: ResolvedVersion,
  offsetBytes: number,
  lengthBytes: number,
  options: ReadOptions,
): Promise<AsyncGenerator<Uint8Array>> {
  if (lengthBytes === 0) return (async function* empty() {})();
  const reader = new StripeReader(version, options);
  const generator = reader.stream(offsetBytes, lengthBytes);
  const first = await generator.next();
  return (async function* withFirst() {
    try {
      if (first.done !== true) yield first.value;
      yield* generator;
    } finally {
      reader.close();
    }
  })();
}

/** Thrown inside a reader that was closed (the client went away): not a shard failure. */
class ReaderClosed extends TesseraError<'ReaderClosed'> {
  constructor() {
    super('ReaderClosed', 'object read closed');
  }
}

class StripeReader {
  private readonly record: ObjectRecord;
  private readonly holders: Map<number, NodeClient>;
  private readonly unconfirmed: ReadonlySet<number>;
  private readonly inlineShards: ReadonlyMap<number, Uint8Array>;
  private readonly layout: ObjectLayout;
  private readonly options: ReadOptions;
  private readonly cursors = new Map<number, ShardCursor>();
  private readonly failed = new Set<number>();
  private shardEndBytes = 0;
  private closed = false;

  constructor(version: ResolvedVersion, options: ReadOptions) {
    this.record = version.record;
    this.holders = version.holders;
    this.unconfirmed = version.unconfirmed ?? new Set();
    this.inlineShards = version.inlineShards ?? new Map();
    this.options = options;
    this.layout = objectLayout(this.record.storedSizeBytes ?? this.record.sizeBytes, this.record.erasure.dataShards, this.record.erasure.blockSizeBytes);
  }

  async *stream(offsetBytes: number, lengthBytes: number): AsyncGenerator<Uint8Array> {
    const { firstStripe, lastStripe, firstStripeSkipBytes } = stripesForRange(this.layout, offsetBytes, lengthBytes);
    this.shardEndBytes = stripeShardOffsetBytes(this.layout, lastStripe) + stripeBlockSizeBytes(this.layout, lastStripe);
    let skip = firstStripeSkipBytes;
    let remaining = lengthBytes;
    let next: Promise<Uint8Array[]> | undefined = this.readAhead(firstStripe);
    try {
      for (let stripe = firstStripe; stripe <= lastStripe && remaining > 0; stripe += 1) {
        const pieces = await (next as Promise<Uint8Array[]>);
        // Read the next stripe while this one is sent.
        next = stripe < lastStripe ? this.readAhead(stripe + 1) : undefined;
        for (const piece of pieces) {
          if (skip >= piece.length) {
            skip -= piece.length;
            continue;
          }
          const part = skip === 0 && piece.length <= remaining ? piece : piece.subarray(skip, Math.min(piece.length, skip + remaining));
          skip = 0;
          remaining -= part.length;
          if (part.length > 0) yield part;
          if (remaining === 0) break;
        }
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    this.closed = true;
    for (const cursor of this.cursors.values()) cursor.close();
    this.cursors.clear();
  }

  /** Starts reading a stripe; its failure surfaces where it is awaited, not as an unhandled rejection. */
  private readAhead(stripe: number): Promise<Uint8Array[]> {
    const reading = this.readStripe(stripe);
    reading.catch(() => undefined);
    return reading;
  }

  /** The stripe's data bytes, trimmed to the object, as pieces in order. */
  private async readStripe(stripe: number): Promise<Uint8Array[]> {
    const { dataShards, parityShards } = this.record.erasure;
    const blockBytes = stripeBlockSizeBytes(this.layout, stripe);
    const shards: (Uint8Array[] | null)[] = new Array<Uint8Array[] | null>(dataShards + parityShards).fill(null);
    let have = 0;
    while (have < dataShards) {
      const wanted = this.pickShards(dataShards - have, shards);
      if (wanted.length < dataShards - have) {
        throw quorumError('shard read', [...this.failed].map((i) => ({ nodeId: this.holders.get(i)?.nodeId ?? `shard ${i}`, reason: 'unreadable' })));
      }
      const blocks = await Promise.all(wanted.map((index) => this.readBlock(index, stripe, blockBytes)));
      if (this.closed) throw new ReaderClosed();
      blocks.forEach((block, i) => {
        if (block !== null) {
          shards[wanted[i] as number] = block;
          have += 1;
        }
      });
    }
    const data = shards.slice(0, dataShards).some((block) => block === null) ? this.reconstruct(shards) : (shards.slice(0, dataShards) as Uint8Array[][]);
    let dataBytes = stripeDataBytes(this.layout, stripe);
    const out: Uint8Array[] = [];
    for (const block of data) {
      for (const piece of block) {
        if (dataBytes === 0) break;
        const part = piece.length > dataBytes ? piece.subarray(0, dataBytes) : piece;
        out.push(part);
        dataBytes -= part.length;
      }
    }
    return out;
  }

  /** Rebuilds missing data blocks; only this path joins a shard's pieces into one block. */
  private reconstruct(shards: (Uint8Array[] | null)[]): Uint8Array[][] {
    const joined = shards.map((pieces) => (pieces === null ? null : pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces)));
    const rebuilt = this.options.codec.reconstruct(joined, { dataOnly: true });
    return rebuilt.slice(0, this.record.erasure.dataShards).map((block) => [block as Uint8Array]);
  }

  /** Shard indices to read next: open cursors first, then confirmed data and parity shards, then unconfirmed ones. */
  private pickShards(count: number, shards: readonly (Uint8Array[] | null)[]): number[] {
    const picked: number[] = [];
    const candidates = [...this.cursors.keys()].sort((a, b) => a - b);
    for (let i = 0; i < shards.length; i += 1) if (!candidates.includes(i) && !this.unconfirmed.has(i)) candidates.push(i);
    for (let i = 0; i < shards.length; i += 1) if (!candidates.includes(i)) candidates.push(i);
    for (const index of candidates) {
      if (picked.length === count) break;
      if (shards[index] !== null || this.failed.has(index) || !this.holders.has(index)) continue;
      picked.push(index);
    }
    return picked;
  }

  private async readBlock(shardIndex: number, stripe: number, blockBytes: number): Promise<Uint8Array[] | null> {
    // A small object's whole shard may have come with the version lookup.
    const inline = this.inlineShards.get(shardIndex);
    const inlineOffset = stripeShardOffsetBytes(this.layout, stripe);
    if (inline !== undefined && inline.length >= inlineOffset + blockBytes) return [inline.subarray(inlineOffset, inlineOffset + blockBytes)];
    try {
      if (this.closed) throw new ReaderClosed();
      let cursor = this.cursors.get(shardIndex);
      if (cursor === undefined) {
        const node = this.holders.get(shardIndex) as NodeClient;
        const start = stripeShardOffsetBytes(this.layout, stripe);
        const stream = await node.readShard(
          shardRefOf(this.record, shardIndex),
          start,
          this.shardEndBytes - start,
          { signal: this.options.signal },
        );
        cursor = new ShardCursor(shardIndex, stream, this.options.stallTimeoutMs);
        if (this.closed) {
          cursor.close();
          throw new ReaderClosed();
        }
        this.cursors.set(shardIndex, cursor);
      }
      return await cursor.read(blockBytes);
    } catch (err) {
      if (this.closed) return null;
      this.failed.add(shardIndex);
      this.cursors.get(shardIndex)?.close();
      this.cursors.delete(shardIndex);
      this.options.logger.warn({ err, shardIndex, key: this.record.key }, 'shard unreadable, using another');
      return null;
    }
  }
}

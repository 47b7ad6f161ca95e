import { Readable } from 'node:stream';
import { createCodec, objectLayout, stripeBlockSizeBytes, type Codec } from '../../erasure/index.js';
import { shardRefOf, type ObjectRecord } from '../../rpc/index.js';
import { ShardStoreError } from '../shard-store-error.js';
import type { PeerClient } from './peer-clients.js';

function ignore(): void {}

/** Reads exact byte counts from a stream of chunks. */
class BlockReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);

  private readonly stream: Readable;

  constructor(stream: Readable) {
    this.stream = stream;
    this.iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async read(sizeBytes: number): Promise<Buffer> {
    const parts: Buffer[] = this.pending.length > 0 ? [this.pending] : [];
    let have = this.pending.length;
    while (have < sizeBytes) {
      const next = await this.iterator.next();
      if (next.done === true) throw new Error('shard ended early');
      parts.push(next.value);
      have += next.value.length;
    }
    const all = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, have);
    this.pending = all.subarray(sizeBytes);
    return all.subarray(0, sizeBytes);
  }

  async close(): Promise<void> {
    await this.iterator.return?.(undefined);
    // A response body destroyed before it ended emits an abort error; unheard, it would end the process.
    this.stream.on('error', ignore);
    if (!this.stream.destroyed) this.stream.destroy();
  }
}

/** Codecs by shape, shared by one worker (a codec is not safe across threads, and workers run on one). */
export class CodecCache {
  private readonly codecs = new Map<string, Codec>();

  /** The codec of a k+m shape. */
  get(dataShards: number, parityShards: number): Codec {
    const key = `${dataShards}+${parityShards}`;
    let codec = this.codecs.get(key);
    if (codec === undefined) {
      codec = createCodec({ dataShards, parityShards });
      this.codecs.set(key, codec);
    }
    return codec;
  }
}

/** A source failed to open or to deliver verified bytes: the caller excludes it and tries again. */
export class SourceFailure extends ShardStoreError<'SourceFailed'> {
  readonly shardIndex: number;
  constructor(shardIndex: number, cause: unknown) {
    super('SourceFailed', `source of shard ${shardIndex} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.shardIndex = shardIndex;
  }
}

/** Fewer than k sources could be opened: the caller may look for other holders, or retry later. */
export class NotEnoughSources extends ShardStoreError<'NotEnoughSources'> {
  constructor(open: number, needed: number) {
    super('NotEnoughSources', `only ${open} of ${needed} shards are readable`);
  }
}

/**
 * Opens `dataShards` of the given sources (shard index -> node holding it) and returns a stream of shard
 * `targetIndex` of the version, rebuilt stripe by stripe: the sources verify their chunk checksums as
 * they send, and only the missing index is produced. One stripe of sources is held at a time. The
 * sources are opened before this resolves, so a caller finds out that too few are readable
 * (NotEnoughSources) before it sends anything to the target. A source that cannot be opened (missing or
 * quarantined there, another version) is replaced by the next one; one that fails mid-stream is reported
 * to `onBadSource` and ends the stream with an error, so the caller retries without it. Every opened
 * response is consumed or destroyed, also when the stream is destroyed unread, so no pooled connection
 * is left hanging.
 */
export async function openShardRebuild(
  record: ObjectRecord,
  targetIndex: number,
  sources: ReadonlyMap<number, PeerClient>,
  codecs: CodecCache,
  signal: AbortSignal,
  onBadSource: (shardIndex: number) => void = () => undefined,
): Promise<Readable> {
  const { dataShards, parityShards, blockSizeBytes } = record.erasure;
  const layout = objectLayout(record.storedSizeBytes ?? record.sizeBytes, dataShards, blockSizeBytes);
  const candidates = [...sources.keys()].filter((index) => index !== targetIndex).sort((a, b) => a - b);
  if (candidates.length < dataShards) throw new NotEnoughSources(candidates.length, dataShards);
  const codec = codecs.get(dataShards, parityShards);
  const readers = layout.stripeCount === 0 ? [] : await openReaders();
  let closing: Promise<void> | undefined;
  const closeReaders = (): Promise<void> =>
    (closing ??= Promise.all(readers.map(({ reader }) => reader.close().catch(() => undefined))).then(() => undefined));

  async function openReaders(): Promise<{ index: number; reader: BlockReader }[]> {
    const open: { index: number; reader: BlockReader }[] = [];
    const queue = [...candidates];
    try {
      while (open.length < dataShards) {
        const batch = queue.splice(0, dataShards - open.length);
        if (batch.length === 0) throw new NotEnoughSources(open.length, dataShards);
        const answers = await Promise.allSettled(
          batch.map(async (index) => {
            const client = sources.get(index) as PeerClient;
            const ref = shardRefOf(record, index);
            return { index, reader: new BlockReader(await client.readShard(ref, 0, layout.shardSizeBytes, { signal })) };
          }),
        );
        answers.forEach((answer, i) => {
          if (answer.status === 'fulfilled') open.push(answer.value);
          else onBadSource(batch[i] as number);
        });
        signal.throwIfAborted();
      }
      return open;
    } catch (err) {
      await Promise.all(open.map(({ reader }) => reader.close().catch(() => undefined)));
      throw err;
    }
  }
  async function* stripes(): AsyncGenerator<Buffer> {
    try {
      for (let stripe = 0; stripe < layout.stripeCount; stripe += 1) {
        const blockBytes = stripeBlockSizeBytes(layout, stripe);
        const shards: (Uint8Array | null)[] = new Array<Uint8Array | null>(dataShards + parityShards).fill(null);
        const blocks = await Promise.all(
          readers.map(async ({ index, reader }) => {
            try {
              return await reader.read(blockBytes);
            } catch (err) {
              if (!signal.aborted) onBadSource(index);
              throw new SourceFailure(index, err);
            }
          }),
        );
        readers.forEach(({ index }, i) => {
          shards[index] = blocks[i] as Buffer;
        });
        if (shards[targetIndex] === null) codec.reconstruct(shards);
        const rebuilt = shards[targetIndex] as Uint8Array;
        // A copy: the codec may hand out views of its own memory, which the next stripe reuses.
        yield Buffer.from(rebuilt);
      }
    } finally {
      await closeReaders();
    }
  }
  const stream = Readable.from(stripes(), { objectMode: false });
  // A stream destroyed before its first read never enters the generator, whose finally would close the sources.
  stream.once('close', () => void closeReaders());
  return stream;
}

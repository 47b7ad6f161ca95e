import { Readable } from 'node:stream';
import { createCodec, objectLayout, stripeBlockSizeBytes, type Codec } from '../../erasure/index.js';
import type { ObjectRecord } from '../../rpc/index.js';
import type { PeerClient } from './peer-clients.js';

/** Reads exact byte counts from a stream of chunks. */
class BlockReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);

  constructor(stream: Readable) {
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

/**
 * Streams shard `targetIndex` of a version, rebuilt stripe by stripe from `dataShards` of the given
 * sources (shard index -> node holding it): the sources verify their chunk checksums as they send, and
 * only the missing index is produced. One stripe of sources is held at a time.
 */
export function rebuildShardStream(
  record: ObjectRecord,
  targetIndex: number,
  sources: ReadonlyMap<number, PeerClient>,
  codecs: CodecCache,
  signal: AbortSignal,
): Readable {
  const { dataShards, parityShards, blockSizeBytes } = record.erasure;
  const layout = objectLayout(record.sizeBytes, dataShards, blockSizeBytes);
  const chosen = [...sources.keys()].filter((index) => index !== targetIndex).sort((a, b) => a - b).slice(0, dataShards);
  if (chosen.length < dataShards) throw new Error(`only ${chosen.length} of ${dataShards} shards are readable`);
  const codec = codecs.get(dataShards, parityShards);
  async function* stripes(): AsyncGenerator<Buffer> {
    if (layout.stripeCount === 0) return;
    const readers = await Promise.all(
      chosen.map(async (index) => {
        const client = sources.get(index) as PeerClient;
        const ref = { bucket: record.bucket, key: record.key, versionId: record.versionId, shardIndex: index };
        return { index, reader: new BlockReader(await client.readShard(ref, 0, layout.shardSizeBytes, { signal })) };
      }),
    );
    try {
      for (let stripe = 0; stripe < layout.stripeCount; stripe += 1) {
        const blockBytes = stripeBlockSizeBytes(layout, stripe);
        const shards: (Uint8Array | null)[] = new Array<Uint8Array | null>(dataShards + parityShards).fill(null);
        const blocks = await Promise.all(readers.map(({ reader }) => reader.read(blockBytes)));
        readers.forEach(({ index }, i) => {
          shards[index] = blocks[i] as Buffer;
        });
        if (shards[targetIndex] === null) codec.reconstruct(shards);
        const rebuilt = shards[targetIndex] as Uint8Array;
        // A copy: the codec may hand out views of its own memory, which the next stripe reuses.
        yield Buffer.from(rebuilt);
      }
    } finally {
      await Promise.all(readers.map(({ reader }) => reader.close().catch(() => undefined)));
    }
  }
  return Readable.from(stripes(), { objectMode: false });
}

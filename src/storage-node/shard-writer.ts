import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { shardDataId, type ErasureParams, type ShardRef } from '../rpc/index.js';
import type { BlockHasher } from './checksum.js';
import type { MetadataStore } from './metadata-store.js';
import { WRITE_BEHIND_BYTES, encodeShardImage, writeShardFile, type ShardHeader } from './shard-file.js';
import { shardFileName, syncDirectory } from './shard-paths.js';
import type { SpaceClaim } from './space-ledger.js';

/** What the writer needs from its store. */
export interface ShardWriterOptions {
  metadata: MetadataStore;
  hash: BlockHasher;
  shardDir: string;
  tmpDir: string;
  inlineMaxShardBytes: number;
  fsync: boolean;
  clock: () => number;
  /** Whether the committed row already points at this very shard (a repeated prepare). */
  isCommitted(ref: ShardRef): Promise<boolean>;
}

type HeaderFields = Omit<ShardHeader, 'shardSizeBytes' | 'chunkBytes'>;

/** Options of one prepare. */
export interface PrepareOptions {
  /**
   * The writer took the shard's data id for this write, so no commit of it can be here yet: skip the
   * read that looks for one (a client write's shards; repairs and moves leave it unset).
   */
  fresh?: boolean;
}

/**
 * The prepare half of the write protocol. Reads ahead at most `inlineMaxShardBytes` plus one piece:
 * a body that ends by then becomes one synced LevelDB write (image and prepared row); a longer one
 * streams to tmp/, is fsynced, renamed into shards/, the directory fsynced, and then recorded.
 * Every byte is claimed as it arrives, so a capacity limit or the free-space reserve stops a write
 * mid-stream; whatever fails leaves no row and no temporary file (the caller settles the claim; a
 * repeated prepare of a committed shard stores nothing and returns its claim at once).
 */
export class ShardWriter {
  private readonly options: ShardWriterOptions;
  private readonly writing = new Set<string>();

  constructor(options: ShardWriterOptions) {
    this.options = options;
  }

  /** Stores a streamed shard (or one already in memory) durably but invisibly; returns its size. */
  async prepare(ref: ShardRef, erasure: ErasureParams, body: Readable | Buffer, space: SpaceClaim, signal?: AbortSignal, options: PrepareOptions = {}): Promise<number> {
    const { inlineMaxShardBytes } = this.options;
    const claim = (bytes: number): void => space.take(bytes);
    const pieces = Buffer.isBuffer(body) ? onePiece(body) : (body[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
    try {
      const head: Buffer[] = [];
      let headBytes = 0;
      // Read ahead until the body ends (inline) or outgrows the threshold (spill to a file).
      let spill = inlineMaxShardBytes <= 0;
      while (!spill) {
        const next = await pieces.next();
        if (next.done === true) break;
        claim(next.value.length);
        head.push(next.value);
        headBytes += next.value.length;
        spill = headBytes > inlineMaxShardBytes;
      }
      // The header names the id the data is written under, which a committed version keeps as its data id.
      const header = { shardIndex: ref.shardIndex, ...erasure, versionId: shardDataId(ref) };
      const fresh = options.fresh === true;
      if (!spill) return await this.prepareInline(ref, header, head, headBytes, space, signal, fresh);
      return await this.prepareFile(ref, header, resume(head, pieces, claim), space, signal, fresh);
    } catch (err) {
      // Ends the request body: a refused or failed shard is not read any further.
      await pieces.return?.().catch(() => undefined);
      throw err;
    }
  }

  private async prepareInline(ref: ShardRef, header: HeaderFields, pieces: Buffer[], sizeBytes: number, space: SpaceClaim, signal: AbortSignal | undefined, fresh: boolean): Promise<number> {
    const { metadata, hash, clock } = this.options;
    const image = encodeShardImage(pieces, header, hash);
    signal?.throwIfAborted();
    if (!fresh && (await this.options.isCommitted(ref))) {
      space.settle(false);
      return sizeBytes;
    }
    await metadata.putPrepared(ref, { file: null, inline: true, shardSizeBytes: sizeBytes, preparedMs: clock() }, image);
    return sizeBytes;
  }

  private async prepareFile(ref: ShardRef, header: HeaderFields, source: AsyncIterable<Buffer>, space: SpaceClaim, signal: AbortSignal | undefined, fresh: boolean): Promise<number> {
    const { metadata, hash, shardDir, tmpDir, fsync, clock } = this.options;
    const tmpPath = join(tmpDir, randomBytes(12).toString('hex'));
    const file = shardFileName(ref);
    const finalPath = join(shardDir, file);
    // Until its row is written, neither file may be taken for garbage, however long the write takes.
    this.writing.add(tmpPath).add(finalPath);
    let handle: FileHandle | undefined;
    try {
      handle = await open(tmpPath, 'wx');
      const sizeBytes = await writeShardFile(handle, source, header, hash, undefined, fsync ? { writeBehindBytes: WRITE_BEHIND_BYTES } : {});
      signal?.throwIfAborted();
      if (fsync) await handle.sync();
      await handle.close();
      handle = undefined;
      // A repeated prepare of a committed shard must not replace the file readers are using.
      if (!fresh && (await this.options.isCommitted(ref))) {
        await rm(tmpPath, { force: true });
        space.settle(false);
        return sizeBytes;
      }
      await rename(tmpPath, finalPath);
      if (fsync) await syncDirectory(join(shardDir, file.slice(0, 2)));
      await metadata.putPrepared(ref, { file, shardSizeBytes: sizeBytes, preparedMs: clock() });
      return sizeBytes;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await rm(tmpPath, { force: true }).catch(() => undefined);
      throw err;
    } finally {
      this.writing.delete(tmpPath);
      this.writing.delete(finalPath);
    }
  }

  /** Whether a write in progress owns this path (its temporary file, or its shard file before the row exists). */
  isWriting(path: string): boolean {
    return this.writing.has(path);
  }
}

/** A body held in memory as the iterator prepare reads (without the cost of a stream around it). */
function onePiece(piece: Buffer): AsyncIterator<Buffer> {
  let done = false;
  return {
    next: async () => {
      if (done) return { done: true, value: undefined };
      done = true;
      return { done: false, value: piece };
    },
    return: async () => {
      done = true;
      return { done: true, value: undefined };
    },
  };
}

/** Yields the pieces read ahead while deciding inline-or-file, then the rest of the body, claiming space for each. */
async function* resume(head: Buffer[], rest: AsyncIterator<Buffer>, claim: (bytes: number) => void): AsyncGenerator<Buffer> {
  yield* head;
  for (;;) {
    const next = await rest.next();
    if (next.done === true) return;
    claim(next.value.length);
    yield next.value;
  }
}

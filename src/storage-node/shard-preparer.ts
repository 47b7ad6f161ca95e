import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { shardDataId, type ErasureParams, type ShardRef } from '../rpc/index.js';
import type { BlockHasher } from './checksum.js';
import { CommittedShardGuard, type CommittedShardGuardOptions } from './committed-shard-guard.js';
import { DIRECT_CREATE_FLAGS, type DirectBuffers, type DirectStages } from './direct-io.js';
import type { MetadataStore } from './metadata-store.js';
import type { SegmentLog } from './segment-log.js';
import { WRITE_BEHIND_BYTES, encodeShardImage, shardImageParts, writeShardFile, type ShardHeader } from './shard-file.js';
import { segmentPlaceName, shardFileName, syncDirectory } from './shard-paths.js';
import type { SpaceClaim } from './space-ledger.js';

/** What the preparer needs from its store. */
export interface ShardPreparerOptions {
  metadata: MetadataStore;
  hash: BlockHasher;
  shardDir: string;
  tmpDir: string;
  inlineMaxShardBytes: number;
  /** Shards above the inline threshold and up to this size are appended to `segments`; 0 keeps them in files. */
  segmentMaxShardBytes: number;
  /** Memory all prepares together may hold past the inline threshold while they read ahead (DEFAULT_READ_AHEAD_BUDGET_BYTES). */
  readAheadBudgetBytes: number;
  segments: SegmentLog;
  /** Buffers for writing shard files past the page cache (direct-io.ts); without a free pair, through it. */
  direct: DirectBuffers;
  fsync: boolean;
  clock: () => number;
  /** What decides whether a prepare may store a shard a committed version already names (committed-shard-guard.ts). */
  committed: CommittedShardGuardOptions;
}

/** 64 MiB: 64 shards of the largest segment size read ahead at once on one node, then files. */
export const DEFAULT_READ_AHEAD_BUDGET_BYTES = 64 * 1024 * 1024;

type HeaderFields = Omit<ShardHeader, 'shardSizeBytes' | 'chunkBytes'>;

/** Options of one prepare. */
export interface PrepareOptions {
  /**
   * The writer took the shard's data id for this write, so no commit of it can be here yet (a client
   * write's shards; repairs and moves leave it unset). A file of it is written in place; a committed
   * shard it names after all is refused (committed-shard-guard.ts).
   */
  fresh?: boolean;
}

/**
 * The prepare half of the write protocol. Reads ahead at most the larger of `inlineMaxShardBytes` and
 * `segmentMaxShardBytes`, plus one piece: a body that ends within the inline threshold becomes one
 * LevelDB write (image and prepared row); one that ends within the segment threshold is appended to the
 * segment log, synced with the appends beside it, and then recorded (docs/shard-packing.md); a longer
 * one streams to a file, is fsynced, its directory fsynced, and then recorded. A client write's fresh
 * shard is written in place under its shards/ name; anything else streams to tmp/ and is renamed in.
 * Every byte is claimed as it arrives, so a capacity limit or the free-space reserve stops a write
 * mid-stream; whatever fails leaves no row and no temporary file (the caller settles the claim; a
 * repeated prepare of a committed shard stores nothing and returns its claim at once). No prepare
 * replaces a shard a committed version names but as CommittedShardGuard allows.
 */
export class ShardPreparer {
  private readonly options: ShardPreparerOptions;
  /** Paths prepares in progress own (a temporary file, a shard file before its row), with how many own each. */
  private readonly writing = new Map<string, number>();
  /** Prepares under way, of every kind: receiving, syncing or recording a shard. */
  private prepares = 0;
  /** Bytes prepares hold in memory past the inline threshold, deciding whether a shard fits a segment. */
  private readAheadHeld = 0;
  /** No prepare replaces a shard a committed version names but as this allows. */
  private readonly committed: CommittedShardGuard;

  constructor(options: ShardPreparerOptions) {
    this.options = options;
    this.committed = new CommittedShardGuard(options.committed);
  }

  /** Stores a streamed shard (or one already in memory) durably but invisibly; returns its size. */
  async prepare(ref: ShardRef, erasure: ErasureParams, body: Readable | Buffer, space: SpaceClaim, signal?: AbortSignal, options: PrepareOptions = {}): Promise<number> {
    const { inlineMaxShardBytes, segmentMaxShardBytes } = this.options;
    const readAheadBytes = Math.max(inlineMaxShardBytes, segmentMaxShardBytes);
    const claim = (bytes: number): void => space.take(bytes);
    const pieces = Buffer.isBuffer(body) ? onePiece(body) : (body[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
    let held = 0;
    this.prepares += 1;
    try {
      const head: Buffer[] = [];
      let headBytes = 0;
      // Read ahead until the body ends (inline or segment) or outgrows both thresholds (a file). Past the
      // inline threshold the bytes held count against the node's read-ahead budget: when every prepare
      // together holds that much, this one stops reading ahead and goes to a file, so memory stays bounded
      // however many shards arrive at once.
      let ended = false;
      while (readAheadBytes > 0 && headBytes <= readAheadBytes) {
        if (headBytes > inlineMaxShardBytes && this.readAheadHeld >= this.options.readAheadBudgetBytes) break;
        const next = await pieces.next();
        if (next.done === true) {
          ended = true;
          break;
        }
        claim(next.value.length);
        head.push(next.value);
        headBytes += next.value.length;
        if (headBytes > inlineMaxShardBytes) {
          const more = headBytes - held;
          held += more;
          this.readAheadHeld += more;
        }
      }
      // The header names the id the data is written under, which a committed version keeps as its data id.
      const header = { shardIndex: ref.shardIndex, ...erasure, versionId: shardDataId(ref) };
      const fresh = options.fresh === true;
      if (ended && headBytes <= inlineMaxShardBytes) return await this.prepareInline(ref, header, head, headBytes, space, signal, fresh);
      if (ended && headBytes <= segmentMaxShardBytes) return await this.prepareSegment(ref, header, head, headBytes, space, signal, fresh);
      return await this.prepareFile(ref, header, resume(head, pieces, claim), space, signal, fresh);
    } catch (err) {
      // Ends the request body: a refused or failed shard is not read any further.
      await pieces.return?.().catch(() => undefined);
      throw err;
    } finally {
      this.readAheadHeld -= held;
      this.prepares -= 1;
    }
  }

  private async prepareInline(ref: ShardRef, header: HeaderFields, pieces: Buffer[], sizeBytes: number, space: SpaceClaim, signal: AbortSignal | undefined, fresh: boolean): Promise<number> {
    const { metadata, hash, clock } = this.options;
    const image = encodeShardImage(pieces, header, hash);
    signal?.throwIfAborted();
    // The image row is the committed shard's own when one holds this ref: written only if the guard allows.
    const stored = await this.committed.install(ref, fresh, () => metadata.putPrepared(ref, { file: null, inline: true, shardSizeBytes: sizeBytes, preparedMs: clock() }, image));
    if (!stored) space.settle(false);
    return sizeBytes;
  }

  /**
   * A shard appended to the segment log: its image is durable when the append resolves, and then its
   * prepared row names its place. A repeated prepare gets a new place; the one its earlier prepared row
   * named leaves the registry in the same write, so the segment's live bytes stay true.
   */
  private async prepareSegment(ref: ShardRef, header: HeaderFields, pieces: Buffer[], sizeBytes: number, space: SpaceClaim, signal: AbortSignal | undefined, fresh: boolean): Promise<number> {
    const { metadata, hash, clock, segments } = this.options;
    // The pieces are written where they are, not copied into an image: they stay held until the append is durable.
    const parts = shardImageParts(pieces, header, hash);
    signal?.throwIfAborted();
    // A repeat spares its append; the decision is taken again, under the key's lock, before the row is written.
    if (!fresh && (await this.committed.decide(ref, false)) === 'keep') {
      space.settle(false);
      return sizeBytes;
    }
    // What the install below looks up (the key's row, an earlier prepared row) is read while the image
    // is written, in one trip; a failed read only leaves those lookups to read for themselves.
    const warmed = metadata.warmPrepared(ref).catch(() => undefined);
    const place = await segments.append(parts).finally(() => warmed);
    signal?.throwIfAborted();
    // A prepared row is what a commit of its version adopts, a committed one's included: guarded like a file's rename.
    const stored = await this.committed.install(ref, fresh, async () => {
      const earlier = await metadata.getPrepared(ref);
      const replaces = earlier?.file !== undefined && earlier.file !== null ? earlier.file : undefined;
      await metadata.putPrepared(ref, { file: segmentPlaceName(place), shardSizeBytes: sizeBytes, preparedMs: clock() }, undefined, replaces);
    });
    // Kept: no row names the appended image, and compaction reclaims its bytes.
    if (!stored) space.settle(false);
    return sizeBytes;
  }

  /**
   * A file shard. A fresh one (a client write's new data id) is written in place under its shards/
   * name: no row names that file until it is durable, so a write cut off by a crash leaves an orphan
   * that start-up recovery and the collector remove, never a visible shard, and the write skips the
   * rename and a second directory's metadata. Every other prepare (repairs, moves, retries, whose file
   * readers may be using), and a second prepare of a fresh shard whose name is taken, streams to tmp/
   * and is renamed in once complete.
   */
  private async prepareFile(ref: ShardRef, header: HeaderFields, source: AsyncIterable<Buffer>, space: SpaceClaim, signal: AbortSignal | undefined, fresh: boolean): Promise<number> {
    const { metadata, hash, shardDir, tmpDir, fsync, clock } = this.options;
    const tmpPath = join(tmpDir, randomBytes(12).toString('hex'));
    const file = shardFileName(ref);
    const finalPath = join(shardDir, file);
    // A second prepare of a shard already being written goes through tmp/, as does one whose file exists.
    const inPlace = fresh && !this.writing.has(finalPath);
    // Until its row is written, neither file may be taken for garbage, however long the write takes.
    this.own(tmpPath);
    this.own(finalPath);
    let handle: FileHandle | undefined;
    /** The file this prepare created and removes if it fails, until the file is in place. */
    let created: string | undefined;
    const staged = this.takeStages();
    const flags = staged === null ? 'wx' : DIRECT_CREATE_FLAGS;
    try {
      if (inPlace) {
        try {
          handle = await open(finalPath, flags);
          created = finalPath;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
      if (handle === undefined) {
        handle = await open(tmpPath, flags);
        created = tmpPath;
      }
      // A direct write reaches the disk as it goes: there is nothing for a write-behind sync to start early.
      const writeOptions = staged !== null ? { direct: staged.stages } : fsync ? { writeBehindBytes: WRITE_BEHIND_BYTES } : {};
      const sizeBytes = await writeShardFile(handle, source, header, hash, undefined, writeOptions);
      signal?.throwIfAborted();
      if (fsync) await handle.sync();
      await handle.close();
      handle = undefined;
      // The rename replaces the file a committed version's readers use when one names this ref, and one
      // written in place took the name of a committed file gone missing: either only as the guard allows.
      const stored = await this.committed.install(ref, fresh, async () => {
        if (created === tmpPath) await rename(tmpPath, finalPath);
        // From here a failure leaves the file to the collector, as a concurrent prepare of the shard may own it.
        created = undefined;
        if (fsync) await syncDirectory(join(shardDir, file.slice(0, 2)));
        await metadata.putPrepared(ref, { file, shardSizeBytes: sizeBytes, preparedMs: clock() });
      });
      if (!stored) {
        // Kept: the committed file stays and the temporary one goes (only a fresh prepare writes in place).
        await rm(tmpPath, { force: true });
        created = undefined;
        space.settle(false);
      }
      return sizeBytes;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      // A torn file written in place is left to a second prepare of the shard that is about to rename over it.
      if (created === tmpPath || (created === finalPath && this.writing.get(finalPath) === 1)) await rm(created, { force: true }).catch(() => undefined);
      throw err;
    } finally {
      staged?.release();
      this.disown(tmpPath);
      this.disown(finalPath);
    }
  }

  /** Two direct buffers for a file write, or null to write through the page cache (none free, or no direct I/O here). */
  private takeStages(): { stages: DirectStages; release: () => void } | null {
    const buffers = this.options.direct;
    const first = buffers.take();
    if (first === null) return null;
    const second = buffers.take();
    if (second === null) {
      buffers.release(first);
      return null;
    }
    return {
      stages: [first, second],
      release: () => {
        buffers.release(first);
        buffers.release(second);
      },
    };
  }

  private own(path: string): void {
    this.writing.set(path, (this.writing.get(path) ?? 0) + 1);
  }

  private disown(path: string): void {
    const left = (this.writing.get(path) ?? 1) - 1;
    if (left > 0) this.writing.set(path, left);
    else this.writing.delete(path);
  }

  /** Shards being prepared now (received, synced or recorded), inline, in segments or in files. */
  get writesInFlight(): number {
    return this.prepares;
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

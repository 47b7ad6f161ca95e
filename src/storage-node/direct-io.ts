import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Direct I/O for shard files: reads and writes between the disk and the node's own buffers, past the
 * page cache (O_DIRECT).
 *
 * Why: a buffered write or a cold buffered read takes a fresh page-cache page for every 4 KiB, and
 * on a virtual machine whose free memory goes back to the host (a balloon with free-page reporting)
 * each such page costs a fault in the host as well. On the benchmark machine, 3 GiB written with
 * `dd conv=fdatasync` took 7.5 s and 6.4 s of system CPU buffered, 1.6 s and 0.2 s with O_DIRECT; a
 * cold buffered read of 3 GiB took 5.8 s of system CPU, a direct one 0.25 s. A 64 MiB object's shards
 * are read at most a few times right after they are written, so the page cache buys little for them,
 * and the node's own buffers are reused, already in memory.
 *
 * O_DIRECT wants the memory, the file position and the length aligned to the device's block size;
 * DIRECT_IO_ALIGN_BYTES covers every common one. V8 gives WebAssembly memories page-aligned memory,
 * so the buffers are cut from one: no native code. A store checks once at start that
 * its file system takes such writes and reads (DirectBuffers.probe); where it does not (tmpfs before Linux 6.6, other
 * OSes), or when every buffer is in use, files are read and written through the page cache as before.
 */

/** Alignment of memory, file positions and lengths of direct transfers: 4 KiB covers 512-byte and 4 KiB devices. */
export const DIRECT_IO_ALIGN_BYTES = 4096;
/** A WebAssembly page: the unit a WebAssembly memory is made in. */
const WASM_PAGE_BYTES = 65536;
/** Size of one direct buffer: a 1 MiB transfer plus room to align a read's start and end (17 WebAssembly pages). */
export const DIRECT_BUFFER_BYTES = 17 * WASM_PAGE_BYTES;

/** O_DIRECT where the platform has it; undefined elsewhere (no direct I/O there). */
const O_DIRECT: number | undefined = (constants as Record<string, number | undefined>).O_DIRECT;

/** Rounds `value` down to the alignment. */
function alignDown(value: number): number {
  return value - (value % DIRECT_IO_ALIGN_BYTES);
}

/** Rounds `value` up to the alignment. */
export function alignUp(value: number): number {
  return alignDown(value + DIRECT_IO_ALIGN_BYTES - 1);
}

/** The one constructor of the WebAssembly JS API used here (the project's lib settings do not declare it). */
type MemoryConstructor = new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };

/**
 * A fixed set of aligned buffers of DIRECT_BUFFER_BYTES, cut from one WebAssembly memory made on first
 * use. None is handed out until probe() has found that the store's file system takes direct transfers;
 * after that, take() returns null only when all are out, and the caller then goes through the page
 * cache, so memory stays bounded however many transfers run.
 */
export class DirectBuffers {
  private readonly count: number;
  private readonly memory: MemoryConstructor | undefined = (globalThis as { WebAssembly?: { Memory: MemoryConstructor } }).WebAssembly?.Memory;
  private free: Buffer[] | null = null;
  private usable = false;

  constructor(memoryBytes: number) {
    this.count = Math.floor(memoryBytes / DIRECT_BUFFER_BYTES);
  }

  /** Whether probe() found that direct transfers work here, so take() hands out buffers. */
  get enabled(): boolean {
    return this.usable;
  }

  /**
   * Finds whether files in `dir` can be written and read directly with these buffers: writes and reads
   * back an aligned block in a probe file, which it removes. Any failure means no; so does a set with
   * no buffers, or a runtime without O_DIRECT or WebAssembly.
   */
  async probe(dir: string): Promise<boolean> {
    const buffer = O_DIRECT === undefined ? null : this.pop();
    if (O_DIRECT === undefined || buffer === null) return false;
    const path = join(dir, `direct-io-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
    let handle: FileHandle | undefined;
    try {
      const block = buffer.subarray(0, DIRECT_IO_ALIGN_BYTES);
      block.fill(0x5a);
      handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | O_DIRECT);
      await handle.write(block, 0, block.length, 0);
      block.fill(0);
      const { bytesRead } = await handle.read(block, 0, block.length, 0);
      this.usable = bytesRead === block.length && block.every((byte) => byte === 0x5a);
    } catch {
      this.usable = false;
    } finally {
      this.release(buffer);
      await handle?.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
    }
    return this.usable;
  }

  /** A free buffer, or null when every one is in use or direct transfers are off. */
  take(): Buffer | null {
    return this.usable ? this.pop() : null;
  }

  /** Gives back a buffer take() returned. */
  release(buffer: Buffer): void {
    this.free?.push(buffer);
  }

  private pop(): Buffer | null {
    if (this.count === 0 || this.memory === undefined) return null;
    if (this.free === null) {
      const pages = (this.count * DIRECT_BUFFER_BYTES) / WASM_PAGE_BYTES;
      const memory = new this.memory({ initial: pages, maximum: pages });
      this.free = Array.from({ length: this.count }, (_, i) => Buffer.from(memory.buffer, i * DIRECT_BUFFER_BYTES, DIRECT_BUFFER_BYTES));
    }
    return this.free.pop() ?? null;
  }
}

/** Flags of open() for a new file written directly (what 'wx' opens, with O_DIRECT). */
export const DIRECT_CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (O_DIRECT ?? 0);
/** Flags of open() for reading a file directly. */
export const DIRECT_READ_FLAGS = constants.O_RDONLY | (O_DIRECT ?? 0);
/** Flags of open() for writing an existing file directly (a segment, after its buffered create). */
export const DIRECT_WRITE_FLAGS = constants.O_WRONLY | (O_DIRECT ?? 0);

/** What a DirectReadSource reads through: a file opened with O_DIRECT (a FileHandle), which close() lets go of. */
export interface DirectFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** Bytes of a file read into one direct buffer: the span [start, start + spanBytes), shorter at the end of the file. */
interface Loaded {
  buffer: Buffer;
  start: number;
  spanBytes: number;
  /** Resolves to the bytes read: fewer than the span at the end of the file. */
  bytes: Promise<number>;
}

/**
 * A file opened with O_DIRECT read through aligned buffers: each read covers the aligned span around
 * the bytes asked for and copies them out, so callers read at any position and length. Once reads run
 * in order (a whole-shard read), the span after the last is read ahead into a second buffer, if one is
 * free, while the caller works on what it got: a direct read has no kernel read-ahead behind it. One
 * read at a time; close() waits for a read ahead before the buffers go back.
 */
export class DirectReadSource {
  private readonly handle: DirectFile;
  private readonly buffers: DirectBuffers;
  /** No span reaches past the aligned block that holds this position: what the caller may read ends there. */
  private readonly endBytes: number;
  /** Bytes of each buffer (the one given and any taken to read ahead into): the longest span. */
  private readonly bufferBytes: number;
  /** The span reads are served from; null before the first read. */
  private current: Loaded | null = null;
  /** The span after `current`, being read ahead. */
  private ahead: Loaded | null = null;
  /** A buffer neither span uses: the one given at first, later the second one if the read-ahead got it. */
  private spare: Buffer | null;
  /** Whether the read-ahead asked for its second buffer (it asks once). */
  private askedSecond = false;
  private nextPosition = -1;
  private closed = false;

  /**
   * `endBytes` bounds the spans read (and read ahead) when the caller reads only part of the file, such
   * as one image of a segment: the bytes after it are not read for nothing.
   */
  constructor(handle: DirectFile, buffer: Buffer, buffers: DirectBuffers, endBytes = Number.POSITIVE_INFINITY) {
    this.handle = handle;
    this.spare = buffer;
    this.buffers = buffers;
    this.bufferBytes = buffer.length;
    this.endBytes = Number.isFinite(endBytes) ? alignUp(endBytes) : endBytes;
  }

  async read(target: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    const sequential = position === this.nextPosition;
    let done = 0;
    let filled = 0;
    while (done < length) {
      const at = position + done;
      const loaded = await this.load(at, length - done);
      filled = await loaded.bytes;
      const available = Math.min(loaded.start + filled - at, length - done);
      if (available <= 0) break;
      loaded.buffer.copy(target, offset + done, at - loaded.start, at - loaded.start + available);
      done += available;
      // A short span is the end of the file.
      if (filled < loaded.spanBytes && at + available >= loaded.start + filled) break;
    }
    this.nextPosition = position + done;
    // The last span read is `current`; a full one is not the end of the file, so the next may follow.
    const current = this.current;
    if (sequential && done === length && current !== null && filled === current.spanBytes) this.readAhead(current, length);
    return { bytesRead: done };
  }

  /**
   * Bytes [position, position + length) as a view of the buffer they were read into, without the copy
   * read() makes (shorter at the end of the file). The view is valid only until this source's next
   * read, which may read into the same buffer: a caller that hands the bytes on copies them first.
   * Null when they are not in one loaded span (the caller then reads them with read()).
   */
  async readView(position: number, length: number): Promise<Buffer | null> {
    const sequential = position === this.nextPosition;
    const loaded = this.holding(position, length) ?? (await this.loadWhole(position, length));
    if (loaded === null) return null;
    const filled = await loaded.bytes;
    const available = Math.max(0, Math.min(loaded.start + filled - position, length));
    this.nextPosition = position + available;
    // The next view starts inside this one's last block: the span read ahead starts with that block,
    // so that it holds the whole of the next view.
    if (sequential && available === length && filled === loaded.spanBytes) this.readAhead(loaded, length, alignDown(position + available));
    const from = position - loaded.start;
    return loaded.buffer.subarray(from, from + available);
  }

  /** The current span, or the one read ahead (made current), when it holds all of [position, position + length). */
  private holding(position: number, length: number): Loaded | null {
    const { current, ahead } = this;
    const holds = (loaded: Loaded | null): loaded is Loaded => loaded !== null && position >= loaded.start && position + length <= loaded.start + loaded.spanBytes;
    if (holds(current)) return current;
    if (!holds(ahead)) return null;
    this.ahead = null;
    return this.replaceCurrent(ahead);
  }

  /** A new span from the block holding `position` through the whole range; null when one buffer cannot hold it. */
  private async loadWhole(position: number, length: number): Promise<Loaded | null> {
    const start = alignDown(position);
    const end = this.spanEnd(position, length);
    return end - start > this.bufferBytes ? null : this.newSpan(start, end);
  }

  /** Closes the file and gives the buffers back, once a read ahead has landed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ahead?.bytes.catch(() => undefined);
    for (const loaded of [this.current, this.ahead]) if (loaded !== null) this.buffers.release(loaded.buffer);
    if (this.spare !== null) this.buffers.release(this.spare);
    this.current = this.ahead = this.spare = null;
    await this.handle.close();
  }

  /** The span holding byte `at`: the current one, the one read ahead, or a new read of up to `wantBytes`. */
  private async load(at: number, wantBytes: number): Promise<Loaded> {
    const current = this.current;
    if (current !== null && at >= current.start && at < current.start + (await current.bytes)) return current;
    const ahead = this.ahead;
    if (ahead !== null && at >= ahead.start && at < ahead.start + ahead.spanBytes) {
      this.ahead = null;
      return this.replaceCurrent(ahead);
    }
    const start = alignDown(at);
    // What fits in a buffer.
    return this.newSpan(start, Math.min(this.spanEnd(at, wantBytes), start + this.bufferBytes));
  }

  /** Where a span holding [at, at + wantBytes) ends: the blocks holding it, not past the source's range, at least the block holding `at`. */
  private spanEnd(at: number, wantBytes: number): number {
    return Math.max(Math.min(alignUp(at + wantBytes), this.endBytes), alignDown(at) + DIRECT_IO_ALIGN_BYTES);
  }

  /**
   * Starts reading [start, end) (at most a buffer) as the current span, into the spare buffer if there
   * is one (the current span's buffer becomes the spare), else the current span's. A span read ahead
   * is given up: the caller jumped elsewhere, and its buffer is free once its read lands.
   */
  private async newSpan(start: number, end: number): Promise<Loaded> {
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead !== null) {
      await ahead.bytes.catch(() => undefined);
      this.spare = ahead.buffer;
    }
    const buffer = this.spare ?? (this.current as Loaded).buffer;
    return this.replaceCurrent(this.startRead(buffer, start, end - start));
  }

  /** Makes `loaded` the current span; the old one's buffer becomes the spare unless `loaded` reuses it. */
  private replaceCurrent(loaded: Loaded): Loaded {
    const old = this.current?.buffer ?? null;
    this.spare = old === loaded.buffer ? null : old;
    this.current = loaded;
    return loaded;
  }

  /** Starts reading the span after `current` (from `start`, an aligned position) into the spare buffer (a second one taken if free). */
  private readAhead(current: Loaded, lastLength: number, start = current.start + current.spanBytes): void {
    if (this.closed || this.ahead !== null || start >= this.endBytes) return;
    if (this.spare === null && !this.askedSecond) {
      this.askedSecond = true;
      this.spare = this.buffers.take();
    }
    if (this.spare === null) return;
    const buffer = this.spare;
    this.spare = null;
    this.ahead = this.startRead(buffer, start, Math.min(alignUp(lastLength) + DIRECT_IO_ALIGN_BYTES, buffer.length, this.endBytes - start));
  }

  private startRead(buffer: Buffer, start: number, spanBytes: number): Loaded {
    const bytes = this.handle.read(buffer, 0, spanBytes, start).then((result) => result.bytesRead);
    // Awaited by the read that wants it, or by close(); meanwhile its failure must not count as unhandled.
    bytes.catch(() => undefined);
    return { buffer, start, spanBytes, bytes };
  }
}

/** The two buffers a DirectWriter fills in turn: one is written while the next fills. */
export type DirectStages = readonly [Buffer, Buffer];

/**
 * Writes a file from the start with O_DIRECT: bytes are copied into aligned stages, and each full stage
 * is one write at an aligned position while the other fills. The first `headerBytes` are a placeholder
 * until finish() writes the header over them (the first block is kept to be written again). The last
 * block is padded to the alignment and the file then truncated to its true length.
 */
export class DirectWriter {
  private readonly handle: FileHandle;
  private readonly stages: DirectStages;
  private readonly headerBytes: number;
  private stage: Buffer;
  private fill: number;
  /** File position of the stage being filled. */
  private position = 0;
  private inFlight: Promise<void> | null = null;
  /** The file's first block as it was written, with the header's place still empty. */
  private firstBlock: Buffer | null = null;

  constructor(handle: FileHandle, stages: DirectStages, headerBytes: number) {
    this.handle = handle;
    this.stages = stages;
    this.headerBytes = headerBytes;
    this.stage = stages[0];
    this.stage.fill(0, 0, headerBytes);
    this.fill = headerBytes;
  }

  /** Copies the bytes into the stages, writing each stage that fills (after the one in flight). */
  async write(buffers: Uint8Array[]): Promise<void> {
    for (const buffer of buffers) {
      let offset = 0;
      while (offset < buffer.length) {
        const take = Math.min(this.stage.length - this.fill, buffer.length - offset);
        this.stage.set(take === buffer.length ? buffer : buffer.subarray(offset, offset + take), this.fill);
        this.fill += take;
        offset += take;
        if (this.fill === this.stage.length) await this.send();
      }
    }
  }

  /** Writes the rest, padded, truncates the file to its length, and writes the header into the first block. */
  async finish(head: Buffer, buffers: Uint8Array[]): Promise<void> {
    await this.write(buffers);
    const fileBytes = this.position + this.fill;
    if (this.position === 0) {
      // The whole file is in the first stage: header and bytes in one write.
      head.copy(this.stage, 0, 0, this.headerBytes);
    }
    const padded = alignUp(this.fill);
    this.stage.fill(0, this.fill, padded);
    await this.inFlight;
    if (padded > 0) await writeAligned(this.handle, [this.stage.subarray(0, padded)], this.position);
    if (padded !== this.fill) await this.handle.truncate(fileBytes);
    if (this.firstBlock === null) return;
    const block = this.stage.subarray(0, DIRECT_IO_ALIGN_BYTES);
    this.firstBlock.copy(block);
    head.copy(block, 0, 0, this.headerBytes);
    await writeAligned(this.handle, [block], 0);
  }

  /** Waits for the write in flight, whatever its outcome. */
  async settle(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }

  /** Starts writing the full stage once the previous write has landed, and goes on in the other stage. */
  private async send(): Promise<void> {
    await this.inFlight;
    const full = this.stage;
    if (this.position === 0) this.firstBlock = Buffer.from(full.subarray(0, DIRECT_IO_ALIGN_BYTES));
    const started = writeAligned(this.handle, [full], this.position).then(() => undefined);
    // Awaited by the next send, finish() or settle(); meanwhile its failure must not count as unhandled.
    started.catch(() => undefined);
    this.inFlight = started;
    this.position += full.length;
    this.stage = full === this.stages[0] ? this.stages[1] : this.stages[0];
    this.fill = 0;
  }
}

/**
 * Writes `parts` with O_DIRECT from an aligned `position`, through aligned `stages` (one at least): the
 * parts are copied into the stages in turn, and each time every stage is full they go in one writev.
 * The last block is padded with zeros. Returns the bytes written, padding included (a multiple of the
 * alignment). The parts may be any memory; only the stages need the alignment.
 */
export async function writeDirectAt(handle: FileHandle, stages: readonly Buffer[], parts: readonly Uint8Array[], position: number): Promise<number> {
  if (position % DIRECT_IO_ALIGN_BYTES !== 0) throw new RangeError(`a direct write must start at an aligned position, not ${position}`);
  let at = position;
  let stage = 0;
  let fill = 0;
  const send = async (): Promise<void> => {
    const buffers = stages.slice(0, stage);
    if (fill > 0) {
      const last = (stages[stage] as Buffer).subarray(0, alignUp(fill));
      last.fill(0, fill);
      buffers.push(last);
    }
    at += await writeAligned(handle, buffers, at);
    stage = 0;
    fill = 0;
  };
  for (const part of parts) {
    let offset = 0;
    while (offset < part.length) {
      const target = stages[stage] as Buffer;
      const take = Math.min(target.length - fill, part.length - offset);
      target.set(take === part.length ? part : part.subarray(offset, offset + take), fill);
      fill += take;
      offset += take;
      if (fill < target.length) continue;
      if (stage === stages.length - 1) await send();
      else {
        stage += 1;
        fill = 0;
      }
    }
  }
  if (stage > 0 || fill > 0) await send();
  return at - position;
}

/**
 * Writes aligned buffers at an aligned position, in one writev when the disk takes it all. A nearly
 * full disk may take part of a write; the rest is retried from the last aligned byte, and then fails
 * with the disk's own error (ENOSPC, which the store answers as such). Returns the bytes written.
 */
async function writeAligned(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<number> {
  const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  let pending = buffers;
  let done = 0;
  while (done < total) {
    const { bytesWritten } = await handle.writev(pending as Buffer[], position + done);
    if (bytesWritten === 0) throw Object.assign(new Error('no bytes written'), { code: 'EIO' });
    if (bytesWritten < DIRECT_IO_ALIGN_BYTES) throw Object.assign(new Error('a direct write stopped inside a block'), { code: 'EIO' });
    const taken = alignDown(bytesWritten);
    done += taken;
    pending = skipBytes(pending, taken);
  }
  return total;
}

/** The buffers after their first `bytes` bytes. */
function skipBytes(buffers: readonly Buffer[], bytes: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = bytes;
  for (const buffer of buffers) {
    if (skip >= buffer.length) skip -= buffer.length;
    else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}

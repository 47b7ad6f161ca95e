/**
 * Buffers for shard reads that go straight to a socket, used again once the socket is done with them.
 *
 * Each shard read into a new Buffer is memory outside V8's heap, and V8 starts a full collection each
 * time that memory has grown by a fixed step (64 MiB) since the last one, however small the heap: a
 * node serving 1 MiB GETs ran a mark-compact every 64 GETs, most of it paid on V8's helper threads.
 * Reused buffers do not grow that memory.
 *
 * A buffer is shared by counting: whoever takes it holds one reference, a writer retains each chunk
 * it hands to a socket and releases it in the write's callback, and the buffer goes back to the free
 * list when the last reference is released. Only a reader whose every consumer keeps to that may read
 * into pooled buffers: bytes kept past their release would be overwritten by the next read. A buffer
 * whose references are never all released (a socket destroyed with writes pending) is simply
 * garbage-collected; the pool holds only free buffers.
 */
export class ReadBufferPool {
  /** Size classes, ascending: a request takes the smallest class that holds it. */
  private readonly classBytes: readonly number[];
  private readonly maxFreeBytes: number;
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  /** Buffers out of the pool, by their memory: the weak key lets one never returned be collected. */
  private readonly taken = new WeakMap<ArrayBufferLike, { buffer: Buffer; refs: number }>();

  constructor(options: { classBytes: readonly number[]; maxFreeBytes: number }) {
    this.classBytes = [...options.classBytes].sort((a, b) => a - b);
    this.maxFreeBytes = options.maxFreeBytes;
  }

  /** A buffer of `lengthBytes` with one reference held by the caller; a plain new one when no class holds it. */
  take(lengthBytes: number): Buffer {
    const classBytes = this.classBytes.find((bytes) => bytes >= lengthBytes);
    if (classBytes === undefined) return Buffer.allocUnsafe(lengthBytes);
    let buffer = this.free.get(classBytes)?.pop();
    if (buffer === undefined) buffer = Buffer.allocUnsafeSlow(classBytes);
    else this.freeBytes -= classBytes;
    this.taken.set(buffer.buffer, { buffer, refs: 1 });
    return buffer.subarray(0, lengthBytes);
  }

  /** Adds a reference to the pooled buffer `chunk` lies in; nothing for memory the pool did not give out. */
  retain(chunk: Uint8Array): void {
    const entry = this.taken.get(chunk.buffer);
    if (entry !== undefined) entry.refs += 1;
  }

  /** Drops a reference; the last one returns the buffer to the free list (or to the collector when the list is full). */
  release(chunk: Uint8Array): void {
    const entry = this.taken.get(chunk.buffer);
    if (entry === undefined) return;
    entry.refs -= 1;
    if (entry.refs > 0) return;
    this.taken.delete(chunk.buffer);
    const classBytes = entry.buffer.length;
    if (this.freeBytes + classBytes > this.maxFreeBytes) return;
    let list = this.free.get(classBytes);
    if (list === undefined) this.free.set(classBytes, (list = []));
    list.push(entry.buffer);
    this.freeBytes += classBytes;
  }

  /** Bytes held in free buffers. */
  get freeSizeBytes(): number {
    return this.freeBytes;
  }
}
